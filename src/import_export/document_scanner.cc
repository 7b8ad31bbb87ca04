#include "import_export/document_scanner.h"

#include <cstdio>

#include <cstring>

namespace parendb {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

void DocumentScanner::Append(std::string_view data) {
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {  // keep only what is unread
    buf_.erase(0, pos_);
    dropped_ += pos_;
    pos_ = 0;
  }
  buf_.append(data);
}

std::string DocumentScanner::Describe(Fault fault, char c) {
  if (fault == Fault::kMismatched) return std::string("'") + c + "' closes nothing open there";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(c));
  return std::string("a control character (") + hex + ") inside a string: JSON needs it escaped";
}

void DocumentScanner::AppendOneLine(std::string_view doc, std::string* out) {
  size_t start = out->size();
  out->append(doc);
  for (size_t i = start; i < out->size(); ++i) {
    if ((*out)[i] == '\n' || (*out)[i] == '\r') (*out)[i] = ' ';
  }
}

size_t DocumentScanner::ScanValue(size_t from, size_t end, int64_t* newlines, Fault* fault) const {
  std::string closers;  // what closes each open object or array, innermost last
  bool in_string = false;
  const char* p = buf_.data();
  for (size_t i = from; i < end; ++i) {
    char c = p[i];
    if (in_string) {
      if (c == '\\' && i + 1 < end && static_cast<unsigned char>(p[i + 1]) >= 0x20) {
        ++i;  // the escaped character (a quote or backslash) is not special
      } else if (c == '"') {
        in_string = false;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        // JSON wants it escaped, and the server's reader, refusing it, would
        // go on at the next line: inside a document spanning lines, that
        // would be the rest of the document, read as statements.
        *fault = Fault::kControl;
        return i;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{': closers += '}'; break;
      case '[': closers += ']'; break;
      case '}': case ']':
        if (closers.empty() || closers.back() != c) {
          *fault = Fault::kMismatched;  // the server would stop here too; never send it
          return i;
        }
        closers.pop_back();
        if (closers.empty()) return i + 1;
        break;
      case '\n': ++*newlines; break;
      default: break;
    }
  }
  return std::string::npos;
}

void DocumentScanner::SkipBlanks() {
  while (pos_ < buf_.size() && IsBlank(buf_[pos_])) {
    if (buf_[pos_] == '\n') ++line_;
    ++pos_;
  }
}

DocumentScanner::Result DocumentScanner::Next(std::string_view* doc, std::string* error) {
  if (mode_ == Mode::kUnknown) {
    SkipBlanks();
    if (pos_ == buf_.size()) return finished_ ? Result::kEnd : Result::kNeedMore;
    if (buf_[pos_] == '[') {
      mode_ = Mode::kArray;
      ++pos_;
    } else {
      mode_ = Mode::kLines;
    }
  }
  if (mode_ == Mode::kLines) return NextLine(doc, error);
  return NextElement(doc, error);
}

DocumentScanner::Result DocumentScanner::NextLine(std::string_view* doc, std::string* error) {
  while (true) {
    const char* base = buf_.data();
    const void* nl = std::memchr(base + pos_, '\n', buf_.size() - pos_);
    if (nl == nullptr && !finished_) return Result::kNeedMore;
    size_t end = nl != nullptr ? static_cast<size_t>(static_cast<const char*>(nl) - base) : buf_.size();
    size_t next = nl != nullptr ? end + 1 : end;
    size_t begin = pos_;
    doc_line_ = line_;
    pos_ = next;
    if (nl != nullptr) ++line_;
    while (begin < end && IsBlank(base[begin])) ++begin;
    while (end > begin && IsBlank(base[end - 1])) --end;
    if (begin == end) {
      if (nl == nullptr) return Result::kEnd;
      continue;  // a blank line
    }
    if (base[begin] != '{') {
      *error = "not a JSON object (a line must hold one object)";
      return Result::kBad;
    }
    int64_t newlines = 0;
    Fault fault = Fault::kNone;
    size_t stop = ScanValue(begin, end, &newlines, &fault);
    if (fault != Fault::kNone) {
      *error = Describe(fault, base[stop]);
      return Result::kBad;
    }
    if (stop == std::string::npos) {
      *error = "the object does not end on its line (a line must hold one whole object)";
      return Result::kBad;
    }
    if (stop != end) {
      *error = "text after the object (a line must hold one object)";
      return Result::kBad;
    }
    *doc = std::string_view(base + begin, end - begin);
    return Result::kDocument;
  }
}

DocumentScanner::Result DocumentScanner::NextElement(std::string_view* doc, std::string* error) {
  if (mode_ == Mode::kArrayDone) {
    SkipBlanks();
    if (pos_ < buf_.size()) {
      doc_line_ = line_;
      *error = "text after the array's closing ]";
      return Result::kBad;
    }
    return finished_ ? Result::kEnd : Result::kNeedMore;
  }
  SkipBlanks();
  if (pos_ == buf_.size()) {
    if (!finished_) return Result::kNeedMore;
    doc_line_ = line_;
    *error = "the array has no closing ]";
    return Result::kBad;
  }
  char c = buf_[pos_];
  if (c == ']') {
    ++pos_;
    mode_ = Mode::kArrayDone;
    return NextElement(doc, error);
  }
  if (need_comma_) {
    if (c != ',') {
      doc_line_ = line_;
      *error = std::string("expected , or ] between the array's documents, found ") + c;
      return Result::kBad;
    }
    size_t comma = pos_++;
    int64_t comma_line = line_;
    SkipBlanks();
    if (pos_ == buf_.size() && !finished_) {
      pos_ = comma;  // come back to the comma with more input
      line_ = comma_line;
      return Result::kNeedMore;
    }
    need_comma_ = false;
    if (pos_ < buf_.size() && buf_[pos_] == ']') {
      doc_line_ = line_;
      *error = "a , before the array's closing ]";
      return Result::kBad;
    }
    return NextElement(doc, error);
  }
  doc_line_ = line_;
  if (c != '{') {
    *error = "an array element that is not a JSON object";
    return Result::kBad;
  }
  int64_t newlines = 0;
  Fault fault = Fault::kNone;
  size_t stop = ScanValue(pos_, buf_.size(), &newlines, &fault);
  if (fault != Fault::kNone) {
    line_ += newlines;  // name the line the fault is on
    doc_line_ = line_;
    *error = Describe(fault, buf_[stop]);
    return Result::kBad;
  }
  if (stop == std::string::npos) {
    if (!finished_) return Result::kNeedMore;
    *error = "the object does not end before the input does";
    return Result::kBad;
  }
  *doc = std::string_view(buf_.data() + pos_, stop - pos_);
  pos_ = stop;
  line_ += newlines;
  need_comma_ = true;
  return Result::kDocument;
}

}  // namespace parendb
