#include "console/response_counter.h"

namespace parendb {

size_t ResponseCounter::Feed(std::string_view text, std::vector<size_t>* ends) {
  reader_.Append(text);
  fed_ += text.size();
  size_t n = 0;
  // Offsets only move within one Feed (Append may compact the buffer).
  auto end_here = [&] {
    if (ends != nullptr) ends->push_back(fed_ - reader_.buffered());
  };
  while (!fatal_) {
    Status err;
    if (awaiting_document_) {
      const char* data;
      size_t len, cap;
      Reader::Result r = reader_.NextDocument(&data, &len, &cap, &err);
      if (r == Reader::Result::kNeedMore) break;
      awaiting_document_ = false;
      ++n;
      end_here();
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
    end_here();
    if (r == Reader::Result::kFatal) fatal_ = true;
  }
  return n;
}

}  // namespace parendb
