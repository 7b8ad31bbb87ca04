// Splits an import's input into documents without parsing them (the server
// parses): JSON Lines — one document per line, blank lines skipped — or one
// JSON array of documents, which may span lines as it likes. Which one is
// decided by the first character that is not blank: '[' starts an array.
//
// It checks only what keeps one document from running into the statements
// after it: each document is one object whose braces, brackets and strings
// close, whose strings hold no raw control character (a line break among
// them), with nothing but blanks after it on its line (or before the next
// ',' or ']' of the array). Anything else is a bad document, named by the
// line it starts on (in an array, the line of the fault).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parendb {

class DocumentScanner {
 public:
  enum class Result {
    kDocument,  // *doc is the next document
    kNeedMore,  // Append more input, or Finish
    kEnd,       // no more documents
    kBad,       // *error says what is wrong; in line mode Next goes on
                // with the next line, in an array the input is unusable
  };

  // Adds input. Views returned by Next stay valid until the next Append.
  void Append(std::string_view data);
  // No more input will come.
  void Finish() { finished_ = true; }
  Result Next(std::string_view* doc, std::string* error);
  // The line the last document (or bad one) started on, from 1.
  int64_t line() const { return doc_line_; }
  // After kBad: whether Next can go on (in line mode, with the next line;
  // a malformed array cannot be read further).
  bool can_go_on() const { return mode_ == Mode::kLines; }
  // Input bytes consumed so far.
  uint64_t consumed() const { return dropped_ + pos_; }

  // Appends a document as one line: its line breaks (only ever between
  // tokens, never in a string: Next refuses those) become spaces. Sent so,
  // a document the server refuses is skipped to its line's end — the
  // document's own end — and the next statement is read whole.
  static void AppendOneLine(std::string_view doc, std::string* out);

 private:
  enum class Mode { kUnknown, kLines, kArray, kArrayDone };
  Result NextLine(std::string_view* doc, std::string* error);
  Result NextElement(std::string_view* doc, std::string* error);
  enum class Fault { kNone, kMismatched, kControl };
  static std::string Describe(Fault fault, char c);
  // Scans a balanced value starting at buf_[from] ('{' or '['); returns the
  // index just past it, or npos when the input ends first (*newlines
  // counts the line breaks inside), or, with *fault set, the index of a
  // closer that closes nothing open there (kMismatched) or of a control
  // character inside a string (kControl).
  size_t ScanValue(size_t from, size_t end, int64_t* newlines, Fault* fault) const;
  void SkipBlanks();

  std::string buf_;
  size_t pos_ = 0;
  uint64_t dropped_ = 0;  // bytes erased from the front of buf_
  int64_t line_ = 1;      // line at buf_[pos_]
  int64_t doc_line_ = 0;
  bool finished_ = false;
  Mode mode_ = Mode::kUnknown;
  bool need_comma_ = false;  // array: an element came; ',' or ']' next
};

}  // namespace parendb
