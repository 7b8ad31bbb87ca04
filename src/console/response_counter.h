// Counts the responses a server will send for a stream of statement text,
// by reading it with the same reader the server uses: one per statement
// (a create/updateall together with its document) and one per syntax or
// limit error. The remote console uses it to know how many lines to wait for.
#pragma once

#include <string_view>
#include <vector>

#include "reader/reader.h"

namespace parendb {

class ResponseCounter {
 public:
  explicit ResponseCounter(ReaderLimits limits = {}) : reader_(limits) {}

  // Adds text; returns how many more responses it completes. With ends,
  // also appends where each of them ends: the offset, counted over all the
  // text ever fed, just past its statement (with its document, or the
  // line an error discarded) — the points at which the text splits into
  // one statement each.
  size_t Feed(std::string_view text, std::vector<size_t>* ends = nullptr);
  // Whether a statement or its document is unfinished.
  bool NeedsMore() { return awaiting_document_ || !reader_.OnlyBlankLeft(); }
  bool fatal() const { return fatal_; }

 private:
  Reader reader_;
  DatumTree tree_;
  bool awaiting_document_ = false;
  bool fatal_ = false;
  size_t fed_ = 0;  // bytes fed so far
};

}  // namespace parendb
