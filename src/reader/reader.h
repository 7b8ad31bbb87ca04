// The incremental s-expression reader (section 2 of the contract).
//
// Bytes arrive in any split (a TCP packet may end mid-token); Append() adds
// them and Next*() returns the next complete item or kNeedMore. A resumable
// scan finds where a statement ends before it is parsed, so a statement that
// arrives one byte at a time is scanned once, not once per byte.
//
// Items returned point into the reader's buffer and stay valid until the next
// Append().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "reader/datum.h"

namespace parendb {

struct ReaderLimits {
  size_t max_bytes = 16u << 20;  // one statement or one document
  int max_depth = 256;
};

// A complete simple statement at the start of a buffer (see
// Reader::PeekSimpleStatement): its length, deepest nesting, and its last
// integer literal (int_at = npos if none).
struct SimpleStatement {
  size_t length = 0;
  int depth = 0;
  size_t int_at = std::string::npos;
  size_t int_len = 0;
};
// Scans [p, p+n), which starts with '(', for one.
bool ScanSimpleStatement(const char* p, size_t n, SimpleStatement* out);

// Reads the JSON integer literal (no leading zero) that fits int64 at the
// start of s: its length, or 0.
size_t ReadIntegerLiteral(std::string_view s, int64_t* v);

struct LineCol {
  uint64_t line = 1;
  uint64_t column = 1;
};

class Reader {
 public:
  enum class Result {
    kNeedMore,     // no complete item yet; Append() more
    kItem,         // a statement (tree filled) or a document (span filled)
    kError,        // a bad item was consumed; *error says why; go on reading
    kNotDocument,  // NextDocument: a statement comes next, not a document; nothing consumed
    kFatal,        // an item crossed the size or depth limit: its end is not
                   // looked for, so the stream cannot go on (close it)
  };

  explicit Reader(ReaderLimits limits = {}) : limits_(limits) {}

  void Append(std::string_view bytes);

  // Reads the next statement into *tree. On kError the damaged input has
  // been discarded up to the end of its line, per the contract.
  Result NextStatement(DatumTree* tree, Status* error);

  // Reads the JSON object that must follow create/updateall. On kItem,
  // [*data, *data+*len) holds it and *capacity bytes from *data are readable
  // (padding for simdjson). Any other JSON value there (an array, a string,
  // a number, a constant) is consumed whole and answered kError
  // (bad-document), so it is never read as a statement; a '(' or ')' means
  // the document is missing (kNotDocument, nothing consumed). Brackets that
  // do not match are kError, the input discarded to the end of that line.
  //
  // Limits, for statements and documents alike: the end of an item is
  // looked for within max_bytes bytes and max_depth levels of nesting.
  // Crossing either is kFatal at once, whatever follows and however the
  // input was split: the reader never buffers more than the limit for one
  // item, and a run of '(' gets its answer without waiting for more.
  Result NextDocument(const char** data, size_t* len, size_t* capacity, Status* error);

  // When the next statement is complete and simple — no string, comment or
  // control character, at most 256 bytes — sets *text to it without
  // consuming it, *depth to its deepest nesting (1 for (commit t)), and
  // *int_at/*int_len to its last integer literal (int_at = npos if none).
  bool PeekSimpleStatement(std::string_view* text, int* depth, size_t* int_at, size_t* int_len);
  // When a statement may start here (no document or comment pending),
  // skips blanks and comments and sets *rest to every unconsumed byte.
  bool PeekStatementStart(std::string_view* rest);
  // Consumes n bytes (after PeekSimpleStatement or PeekStatementStart).
  void Skip(size_t n) { Consume(n); }

  // True when only whitespace and comments remain unconsumed.
  bool OnlyBlankLeft();
  // Line and column where the unconsumed input starts.
  LineCol position() const { return PositionAt(pos_); }
  // Discards everything buffered (the connection is being dropped).
  void Reset();
  // Forgets line/column (the embedded API counts positions per call).
  void ResetPosition() {
    lc_ = LineCol{};
    lc_at_ = pos_;
  }
  size_t buffered() const { return buf_.size() - pos_; }
  // Bytes the buffer holds allocated (what a connection's input costs).
  size_t memory() const { return buf_.capacity(); }
  // Gives a large buffer back once everything in it has been read, so a
  // connection that once sent a big statement does not keep its memory.
  void ReleaseIfEmpty();

 private:
  enum class ScanState : uint8_t { kIdle, kList, kDocument, kToken };
  enum class Scan : uint8_t { kFound, kNeedMore, kError, kFatal };

  void SkipBlank(bool allow_comments);
  // Drops input through the newline that ends a discard (after an error or
  // in a comment split across packets); false while that newline is to come.
  bool FinishDiscard();
  void Consume(size_t n);
  void DiscardThroughLineOf(size_t abs_offset);
  LineCol PositionAt(size_t abs_offset) const;
  Status SyntaxAt(size_t abs_offset, std::string_view what) const;
  Status ErrorAt(ErrorCode code, size_t abs_offset, std::string_view what) const;
  void StartScan(ScanState state);
  // Advance the resumable scan of the item at pos_ (at most max_bytes of
  // it). kError/kFatal set *error; kError also *error_at, where the
  // damaged input's line is.
  Scan ScanList(Status* error, size_t* error_at);
  Scan ScanDocument(Status* error, size_t* error_at);
  Scan ScanToken();
  Scan TooLong(std::string_view item, Status* error);
  Scan TooDeep(std::string_view item, size_t at, Status* error);
  void ResetScan() { state_ = ScanState::kIdle; }

  ReaderLimits limits_;
  std::string buf_;
  size_t pos_ = 0;        // first unconsumed byte
  // Line and column of buf_[lc_at_]. Brought forward lazily (on an error,
  // or before consumed bytes are dropped), so reading costs no counting.
  LineCol lc_;
  size_t lc_at_ = 0;
  bool discarding_ = false;  // dropping input until the next newline

  ScanState state_ = ScanState::kIdle;
  size_t scan_ = 0;       // next byte to scan (absolute index in buf_)
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  bool in_comment_ = false;
  std::string closers_;   // a document's open brackets: the '}' or ']' each needs
  size_t item_end_ = 0;   // one past the item, once found
};

// Parses one complete statement text. Exposed for tests and the benchmark.
class StatementParser {
 public:
  enum class Outcome { kComplete, kIncomplete, kTooDeep, kError };

  // Parses the statement at the start of text, which may hold more after it
  // (kComplete: *end is one past its ')') or stop short of its end
  // (kIncomplete). kError: *error says why and *end is the offending offset.
  static Outcome ParsePrefix(std::string_view text, int max_depth, DatumTree* tree, size_t* end, Status* error);

  // Parses text holding exactly one statement. On failure returns a syntax
  // error and sets *error_offset.
  static Status Parse(std::string_view text, DatumTree* tree, size_t* error_offset);
};

}  // namespace parendb
