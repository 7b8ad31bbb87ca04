#include "console/response_counter.h"

namespace parendb {

size_t ResponseCounter::Feed(std::string_view text, std::vector<Piece>* pieces) {
  reader_.Append(text);
  fed_ += text.size();
  size_t n = 0;
  // Offsets only move within one Feed (Append may compact the buffer).
  auto end_here = [&] {
    ++unsplit_;
    if (pieces != nullptr) pieces->push_back(Piece{fed_ - reader_.buffered(), unsplit_});
    unsplit_ = 0;
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
      if (r == Reader::Result::kNotDocument) {
        // "The document is missing" is only known from the next statement's
        // first byte: no split here, that statement's piece answers twice.
        ++unsplit_;
        continue;
      }
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

std::vector<ResponseCounter::Piece> SplitIntoPieces(std::string_view text) {
  ResponseCounter whole;
  std::vector<ResponseCounter::Piece> ends;
  whole.Feed(text, &ends);
  std::vector<ResponseCounter::Piece> pieces;
  ResponseCounter session;  // fed as a session is: piece by piece
  size_t from = 0, expected = 0, answered = 0, unit_answers = 0;
  for (const ResponseCounter::Piece& e : ends) {
    expected += e.answers;
    size_t got = session.Feed(text.substr(from, e.end - from));
    answered += got;
    unit_answers += got;
    from = e.end;
    if (answered == expected && unit_answers > 0) {
      pieces.push_back(ResponseCounter::Piece{e.end, unit_answers});
      unit_answers = 0;
    }
  }
  return pieces;
}

}  // namespace parendb
