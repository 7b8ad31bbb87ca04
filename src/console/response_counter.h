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

  // Where text splits into pieces that are each answered in full once sent
  // (after the pieces before them): up to `end` (an offset counted over all
  // the text ever fed, just past a statement, its document, or the line an
  // error discarded), with `answers` answers — one, or two where a create
  // lacking its document is answered only once the next statement begins.
  struct Piece {
    size_t end;
    size_t answers;
  };
  // Adds text; returns how many more responses it completes. With pieces,
  // also appends where the answers it completes end (not yet checked to be
  // pieces: see SplitIntoPieces).
  size_t Feed(std::string_view text, std::vector<Piece>* pieces = nullptr);
  // Whether a statement or its document is unfinished.
  bool NeedsMore() { return awaiting_document_ || !reader_.OnlyBlankLeft(); }
  bool fatal() const { return fatal_; }

 private:
  Reader reader_;
  DatumTree tree_;
  bool awaiting_document_ = false;
  bool fatal_ = false;
  size_t fed_ = 0;      // bytes fed so far
  size_t unsplit_ = 0;  // answers completed since the last piece ended
};

// Cuts text into pieces each answered in full once sent after the pieces
// before it (ends count from text's start). A reader may need a byte past
// an item to know it ended (a bare token, a create with no document), so
// the points where answers end are checked by feeding them, one piece at a
// time, to a reader as a server's session would be fed, and joined with
// the next until that reader has answered as much as the whole text did.
// Text after the last piece is unfinished, or waits for more input.
std::vector<ResponseCounter::Piece> SplitIntoPieces(std::string_view text);

}  // namespace parendb
