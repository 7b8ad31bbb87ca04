#include "console/response_counter.h"

namespace parendb {

size_t ResponseCounter::Feed(std::string_view text) {
  reader_.Append(text);
  size_t n = 0;
  while (!fatal_) {
    Status err;
    if (awaiting_document_) {
      const char* data;
      size_t len, cap;
      Reader::Result r = reader_.NextDocument(&data, &len, &cap, &err);
      if (r == Reader::Result::kNeedMore) break;
      awaiting_document_ = false;
      ++n;
      if (r == Reader::Result::kFatal) fatal_ = true;
      continue;
    }
    Reader::Result r = reader_.NextStatement(&tree_, &err);
    if (r == Reader::Result::kNeedMore) break;
    if (r == Reader::Result::kItem && tree_[0].count > 0 && tree_[1].kind == DatumKind::kSymbol &&
        (tree_[1].text == "create" || tree_[1].text == "updateall")) {
      awaiting_document_ = true;  // counted with its document
      continue;
    }
    ++n;
    if (r == Reader::Result::kFatal) fatal_ = true;
  }
  return n;
}

}  // namespace parendb
