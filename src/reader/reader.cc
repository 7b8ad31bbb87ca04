#include "reader/reader.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/utf8.h"


namespace parendb {
namespace {

// The first byte at or after i (before n) that ends a run of plain string
// characters: a quote, a backslash or a control character; n if none. A
// document's strings are most of its bytes, so this skips them sixteen at
// a time where SSE2 is there (every x86-64).
size_t SkipStringBody(const char* p, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space_less = _mm_set1_epi8(0x1F);
  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(x, space_less), space_less);  // x <= 0x1F
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)), control);
    if (int mask = _mm_movemask_epi8(hit)) return i + static_cast<size_t>(std::countr_zero(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < n; ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    if (c == '"' || c == '\\' || c < 0x20) return i;
  }
  return n;
}

// Byte classes outside strings, one table lookup per byte.
enum CharClass : uint8_t { kOther, kBlank, kOpen, kClose, kQuote, kSemi, kControl };

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = kControl;
  t[0x7f] = kControl;
  for (char c : {' ', '\n', '\t', '\r', '\f', '\v'}) t[static_cast<unsigned char>(c)] = kBlank;
  t['('] = kOpen;
  t[')'] = kClose;
  t['"'] = kQuote;
  t[';'] = kSemi;
  return t;
}
constexpr std::array<uint8_t, 256> kClass = MakeClasses();

// Bytes that end the fast run inside a string: '"', '\\', control chars.
constexpr std::array<bool, 256> MakeStringStops() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = true;
  return t;
}
constexpr std::array<bool, 256> kStringStop = MakeStringStops();

inline bool IsBlank(unsigned char c) { return kClass[c] == kBlank; }
inline bool IsControl(unsigned char c) { return kClass[c] == kControl; }

// Whether every byte is ASCII, eight at a time (then UTF-8 needs no check).
bool IsAscii(const char* p, size_t n) {
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    any |= w;
  }
  for (; i < n; ++i) any |= static_cast<unsigned char>(p[i]);
  return (any & 0x8080808080808080ULL) == 0;
}

// Counts UTF-8 code points (bytes that do not continue a sequence), eight
// bytes at a time while they are ASCII.
uint64_t CountCodePoints(const char* p, size_t n) {
  uint64_t count = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if ((w & 0x8080808080808080ULL) == 0) {
      count += 8;
      continue;
    }
    for (size_t k = 0; k < 8; ++k) count += (static_cast<unsigned char>(p[i + k]) & 0xC0) != 0x80;
  }
  for (; i < n; ++i) count += (static_cast<unsigned char>(p[i]) & 0xC0) != 0x80;
  return count;
}

void Advance(LineCol* lc, const char* p, size_t n) {
  const char* end = p + n;
  const char* last_nl = nullptr;
  for (const char* q = p; (q = static_cast<const char*>(std::memchr(q, '\n', end - q))) != nullptr; ++q) {
    ++lc->line;
    last_nl = q;
  }
  if (last_nl != nullptr) {
    lc->column = 1 + CountCodePoints(last_nl + 1, end - last_nl - 1);
  } else {
    lc->column += CountCodePoints(p, n);
  }
}

std::string Describe(unsigned char c) {
  if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

// Offset of the first byte that breaks UTF-8 in text (text is known invalid).
size_t FirstInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = text[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > text.size()) return i;
    if (!simdjson::validate_utf8(text.data() + i, len)) return i;
    i += len;
  }
  return text.size();
}

// JSON's number grammar; sets *integer when there is no fraction/exponent.
bool IsJsonNumber(std::string_view s, bool* integer) {
  size_t i = 0, n = s.size();
  auto digits = [&] {
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  *integer = true;
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) return false;
    *integer = false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
    *integer = false;
  }
  return i == n;
}

// Parses a JSON-grammar number as a double; false when beyond a double.
bool ParseDouble(std::string_view s, double* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (r.ec == std::errc()) return true;
  // from_chars reports both overflow and underflow as out of range; only
  // overflow is an error (1e-999 is simply 0).
  std::string copy(s);
  *out = std::strtod(copy.c_str(), nullptr);
  return !std::isinf(*out);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ReadHex4(std::string_view t, size_t i, uint32_t* out) {
  if (i + 4 > t.size()) return false;
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    int d = HexDigit(t[i + k]);
    if (d < 0) return false;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
}

Status Syntax(std::string msg) { return Status(ErrorCode::kSyntax, std::move(msg)); }

// Decodes the escapes of a string body [i, close) into *out.
Status DecodeEscapes(std::string_view t, size_t i, size_t close, std::string* out, size_t* err) {
  out->reserve(close - i);
  while (i < close) {
    char c = t[i];
    if (c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    *err = i;
    char e = t[i + 1];  // the scanner guarantees a character follows '\'
    i += 2;
    if (char plain = SimpleEscape(e); plain != 0) {
      out->push_back(plain);
      continue;
    }
    switch (e) {
      case 'u': {
        uint32_t cp;
        if (!ReadHex4(t, i, &cp) || i + 4 > close) return Syntax("\\u must be followed by four hex digits");
        i += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return Syntax("unpaired low surrogate \\u" + std::string(t.substr(i - 4, 4)));
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo;
          if (i + 6 > close || t[i] != '\\' || t[i + 1] != 'u' || !ReadHex4(t, i + 2, &lo) || lo < 0xDC00 ||
              lo > 0xDFFF) {
            return Syntax("high surrogate \\u" + std::string(t.substr(i - 4, 4)) + " is not followed by a low surrogate");
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
        AppendUtf8(cp, out);
        break;
      }
      default:
        return Syntax("unknown escape \\" + std::string(1, e) + " in string");
    }
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------
// StatementParser

size_t ReadIntegerLiteral(std::string_view s, int64_t* v) {
  bool negative = !s.empty() && s[0] == '-';
  size_t i = negative ? 1 : 0;
  size_t digits = i;
  uint64_t magnitude = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') magnitude = magnitude * 10 + static_cast<uint64_t>(s[i++] - '0');
  if (i == digits || (s[digits] == '0' && i - digits > 1)) return 0;  // none, or a leading zero
  if (i - digits > 18) {  // might not fit: let the library decide
    return std::from_chars(s.data(), s.data() + i, *v).ec == std::errc() ? i : 0;
  }
  *v = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  return i;
}

StatementParser::Outcome StatementParser::ParsePrefix(std::string_view text, int max_depth, DatumTree* tree,
                                                     size_t* end, Status* error) {
  tree->Clear();
  // The nodes and the stack of open lists live in locals (registers) while
  // parsing; the tree learns its size when the parse returns.
  Datum* nodes = tree->nodes_.get();
  uint32_t size = 0;
  uint32_t capacity = tree->capacity_;
  struct SizeBack {
    DatumTree* tree;
    const uint32_t& size;
    ~SizeBack() { tree->size_ = size; }
  } size_back{tree, size};
  std::vector<DatumTree::OpenList>& stack = tree->open_;
  size_t depth = 0;
  const char* t = text.data();
  const size_t n = text.size();

  auto fail = [&](size_t at, std::string msg) {
    *end = at;
    *error = Syntax(std::move(msg));
    return Outcome::kError;
  };
  // Appends a node, each field written once. Inlined, so that size,
  // capacity and nodes stay in registers.
  auto new_atom = [&](DatumKind kind, size_t at) __attribute__((always_inline)) -> Datum& {
    if (size == capacity) [[unlikely]] {
      tree->size_ = size;
      tree->Reserve(std::max<uint32_t>(64, size * 2));
      nodes = tree->nodes_.get();
      capacity = tree->capacity_;
    }
    if (depth > 0) ++stack[depth - 1].count;
    Datum& d = nodes[size];
    d.kind = kind;
    d.boolean = false;
    d.count = 0;
    d.end = size + 1;
    d.offset = static_cast<uint32_t>(at);
    d.integer = 0;
    d.text = {};
    ++size;
    return d;
  };

  size_t i = 0;
  while (i < n) {
    unsigned char c = t[i];
    switch (kClass[c]) {
      case kBlank:
        ++i;
        continue;
      case kSemi: {
        const void* nl = std::memchr(t + i, '\n', n - i);
        if (nl == nullptr) return Outcome::kIncomplete;
        i = static_cast<const char*>(nl) - t + 1;
        continue;
      }
      case kOpen: {
        if (static_cast<int>(depth) >= max_depth) return Outcome::kTooDeep;
        uint32_t index = size;
        new_atom(DatumKind::kList, i);
        if (depth == stack.size()) stack.resize(depth * 2 + 16);
        stack[depth++] = DatumTree::OpenList{index, 0};
        ++i;
        continue;
      }
      case kClose: {
        if (depth == 0) return fail(i, "unexpected ')'");
        const DatumTree::OpenList& closed = stack[--depth];
        nodes[closed.index].end = size;
        nodes[closed.index].count = closed.count;
        ++i;
        if (depth == 0) {
          if (!IsAscii(t, i) && !simdjson::validate_utf8(t, i)) {
            return fail(FirstInvalidUtf8(text.substr(0, i)), "invalid UTF-8");
          }
          *end = i;
          return Outcome::kComplete;
        }
        continue;
      }
      case kQuote: {
        size_t j = i + 1;
        bool escaped = false;
        while (true) {
          while (j < n && !kStringStop[static_cast<unsigned char>(t[j])]) ++j;
          if (j >= n) return Outcome::kIncomplete;
          unsigned char s = t[j];
          if (s == '"') break;
          if (s == '\\') {
            if (j + 1 >= n) return Outcome::kIncomplete;
            escaped = true;
            j += 2;
            continue;
          }
          return fail(j, s == '\n' ? "unterminated string (a newline inside a string must be written \\n)"
                                   : "control character " + Describe(s) + " inside a string");
        }
        if (depth == 0) return fail(i, "a statement must be a list starting with '('");
        std::string_view body = text.substr(i + 1, j - i - 1);
        if (escaped) {
          std::string& decoded = tree->NewDecoded();
          size_t err = i;
          Status st = DecodeEscapes(text, i + 1, j, &decoded, &err);
          if (!st.ok()) {
            *end = err;
            *error = std::move(st);
            return Outcome::kError;
          }
          body = decoded;
        }
        new_atom(DatumKind::kString, i).text = body;
        i = j + 1;
        continue;
      }
      case kControl:
        return fail(i, "unexpected control character " + Describe(c));
      default:
        break;
    }
    size_t j = i;
    while (j < n && kClass[static_cast<unsigned char>(t[j])] == kOther) ++j;
    if (j < n && IsControl(static_cast<unsigned char>(t[j]))) {
      return fail(j, "unexpected control character " + Describe(t[j]));
    }
    if (j >= n) return Outcome::kIncomplete;  // the token may go on
    std::string_view tok = text.substr(i, j - i);
    if (depth == 0) return fail(i, "a statement must be a list starting with '('");
    bool integer = false;
    if ((c == '-' || (c >= '0' && c <= '9')) && IsJsonNumber(tok, &integer)) {
      int64_t iv = 0;
      if (integer && ReadIntegerLiteral(tok, &iv) == tok.size()) {
        new_atom(DatumKind::kInt, i).integer = iv;
      } else {  // a fraction or exponent, or beyond int64: a double
        double dv;
        if (!ParseDouble(tok, &dv)) return fail(i, "number " + std::string(tok) + " is beyond the range of a double");
        new_atom(DatumKind::kDouble, i).number = dv;
      }
    } else if (c == 't' && tok == "true") {
      new_atom(DatumKind::kBool, i).boolean = true;
    } else if (c == 'f' && tok == "false") {
      new_atom(DatumKind::kBool, i).boolean = false;
    } else if (c == 'n' && tok == "null") {
      new_atom(DatumKind::kNull, i);
    } else {
      new_atom(DatumKind::kSymbol, i).text = tok;
    }
    i = j;
  }
  return Outcome::kIncomplete;
}

Status StatementParser::Parse(std::string_view text, DatumTree* tree, size_t* error_offset) {
  size_t end = 0;
  Status error;
  switch (ParsePrefix(text, 1 << 30, tree, &end, &error)) {
    case Outcome::kComplete:
      if (text.find_first_not_of(" \t\r\n\f\v", end) != std::string_view::npos) {
        *error_offset = end;
        return Syntax("text after the end of the statement");
      }
      return Status::Ok();
    case Outcome::kError:
      *error_offset = end;
      return error;
    default:
      *error_offset = text.size();
      return Syntax(text.find('(') == std::string_view::npos ? "empty statement"
                                                             : "unexpected end of statement: missing ')'");
  }
}

// ---------------------------------------------------------------------------
// Reader

void Reader::Append(std::string_view bytes) {
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > (buf_.size() >> 1))) {
    lc_ = PositionAt(pos_);
    lc_at_ = 0;
    buf_.erase(0, pos_);
    scan_ -= std::min(scan_, pos_);
    item_end_ -= std::min(item_end_, pos_);
    pos_ = 0;
  }
  size_t need = buf_.size() + bytes.size() + simdjson::SIMDJSON_PADDING;
  if (buf_.capacity() < need) buf_.reserve(std::max(need, buf_.capacity() * 2));
  buf_.append(bytes);
}

void Reader::ReleaseIfEmpty() {
  constexpr size_t kKeep = 64 << 10;
  if (pos_ != buf_.size() || buf_.capacity() <= kKeep || state_ != ScanState::kIdle) return;
  lc_ = PositionAt(pos_);
  lc_at_ = 0;
  std::string().swap(buf_);
  pos_ = scan_ = item_end_ = 0;
}

void Reader::Reset() {
  buf_.clear();
  pos_ = 0;
  lc_at_ = 0;
  discarding_ = false;
  ResetScan();
}

void Reader::Consume(size_t n) { pos_ += n; }

LineCol Reader::PositionAt(size_t abs_offset) const {
  LineCol lc = lc_;
  Advance(&lc, buf_.data() + lc_at_, abs_offset - lc_at_);
  return lc;
}

Status Reader::SyntaxAt(size_t abs_offset, std::string_view what) const {
  return ErrorAt(ErrorCode::kSyntax, abs_offset, what);
}

Status Reader::ErrorAt(ErrorCode code, size_t abs_offset, std::string_view what) const {
  LineCol lc = PositionAt(abs_offset);
  return Status(code, std::string(what) + " at " + std::to_string(lc.line) + ":" + std::to_string(lc.column));
}

void Reader::DiscardThroughLineOf(size_t abs_offset) {
  size_t nl = buf_.find('\n', abs_offset);
  if (nl == std::string::npos) {
    Consume(buf_.size() - pos_);
    discarding_ = true;
  } else {
    Consume(nl + 1 - pos_);
  }
}

bool Reader::FinishDiscard() {
  if (!discarding_) return true;
  size_t nl = buf_.find('\n', pos_);
  if (nl == std::string::npos) {
    Consume(buf_.size() - pos_);
    return false;
  }
  Consume(nl + 1 - pos_);
  discarding_ = false;
  return true;
}

void Reader::SkipBlank(bool allow_comments) {
  size_t i = pos_, n = buf_.size();
  while (i < n) {
    unsigned char c = buf_[i];
    if (IsBlank(c)) {
      ++i;
    } else if (c == ';' && allow_comments) {
      size_t nl = buf_.find('\n', i);
      if (nl == std::string::npos) {
        i = n;
        discarding_ = true;  // the comment goes on in the next packet
      } else {
        i = nl + 1;
      }
    } else {
      break;
    }
  }
  Consume(i - pos_);
}

bool Reader::PeekStatementStart(std::string_view* rest) {
  if (state_ != ScanState::kIdle || discarding_) return false;
  if (pos_ < buf_.size() && buf_[pos_] != '(') SkipBlank(true);  // back-to-back statements need no skip
  if (discarding_ || pos_ >= buf_.size()) return false;
  *rest = std::string_view(buf_.data() + pos_, buf_.size() - pos_);
  return true;
}

bool Reader::PeekSimpleStatement(std::string_view* text, int* depth, size_t* int_at, size_t* int_len) {
  if (state_ != ScanState::kIdle || discarding_) return false;
  SkipBlank(true);
  if (discarding_ || pos_ >= buf_.size() || buf_[pos_] != '(') return false;
  SimpleStatement found;
  if (!ScanSimpleStatement(buf_.data() + pos_, std::min<size_t>(buf_.size() - pos_, 256), &found)) return false;
  *text = std::string_view(buf_.data() + pos_, found.length);
  *depth = found.depth;
  *int_at = found.int_at;
  *int_len = found.int_len;
  return true;
}

namespace {

// Whether the token [p+at, p+end) is an integer literal that fits int64.
bool IntegerToken(const char* p, size_t at, size_t end) {
  std::string_view tok(p + at, end - at);
  char first = tok[0];
  if (first != '-' && (first < '0' || first > '9')) return false;
  bool integer = false;
  int64_t v;
  return IsJsonNumber(tok, &integer) && integer &&
         std::from_chars(tok.data(), tok.data() + tok.size(), v).ec == std::errc();
}

}  // namespace

bool ScanSimpleStatement(const char* p, size_t n, SimpleStatement* out) {
  int level = 0, deepest = 0;
  size_t token = std::string::npos;
  out->int_at = std::string::npos;
  for (size_t i = 0; i < n; ++i) {
    uint8_t cls = kClass[static_cast<unsigned char>(p[i])];
    if (cls == kOther) {
      if (token == std::string::npos) token = i;
      continue;
    }
    if (token != std::string::npos) {  // a token ends here: is it an integer?
      if (IntegerToken(p, token, i)) {
        out->int_at = token;
        out->int_len = i - token;
      }
      token = std::string::npos;
    }
    switch (cls) {
      case kBlank:
        continue;
      case kOpen:
        deepest = std::max(deepest, ++level);
        continue;
      case kClose:
        if (--level == 0) {
          out->length = i + 1;
          out->depth = deepest;
          return true;
        }
        continue;
      default:
        return false;  // strings, comments, control characters: the full reader
    }
  }
  return false;
}


bool Reader::OnlyBlankLeft() {
  if (state_ != ScanState::kIdle) return false;
  if (!FinishDiscard()) return true;
  SkipBlank(true);
  return pos_ == buf_.size();
}

void Reader::StartScan(ScanState state) {
  state_ = state;
  scan_ = pos_;
  depth_ = 0;
  in_string_ = escape_ = in_comment_ = false;
  closers_.clear();
}

Reader::Scan Reader::TooLong(std::string_view item, Status* error) {
  *error = Status(ErrorCode::kLimit, std::string(item) + " exceeds the size limit of " +
                                         std::to_string(limits_.max_bytes) + " bytes; its end is not looked for");
  return Scan::kFatal;
}

Reader::Scan Reader::TooDeep(std::string_view item, size_t at, Status* error) {
  *error = ErrorAt(ErrorCode::kLimit, at,
                   std::string(item) + " nested deeper than the limit of " + std::to_string(limits_.max_depth) +
                       " levels; its end is not looked for");
  return Scan::kFatal;
}

Reader::Scan Reader::ScanList(Status* error, size_t* error_at) {
  const char* p = buf_.data();
  // The end is looked for within the first max_bytes bytes only.
  size_t limit = pos_ + std::min(limits_.max_bytes, buf_.size() - pos_);
  size_t i = scan_;
  while (i < limit) {
    unsigned char c = p[i];
    if (in_comment_) {
      const void* nl = std::memchr(p + i, '\n', limit - i);
      if (nl == nullptr) {
        i = limit;
        break;
      }
      i = static_cast<const char*>(nl) - p + 1;
      in_comment_ = false;
      continue;
    }
    if (in_string_) {
      // Fast path over ordinary string bytes.
      while (i < limit && !escape_) {
        c = p[i];
        if (c == '"' || c == '\\' || c < 0x20) break;
        ++i;
      }
      if (i >= limit) break;
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      } else {
        *error = SyntaxAt(i, c == '\n' ? "unterminated string (a newline inside a string must be written \\n)"
                                      : "control character " + Describe(c) + " inside a string");
        *error_at = i;
        scan_ = i;
        return Scan::kError;
      }
      ++i;
      continue;
    }
    switch (c) {
      case '(':
        if (++depth_ > limits_.max_depth) return TooDeep("statement", i, error);
        break;
      case ')':
        if (--depth_ == 0) {
          item_end_ = i + 1;
          scan_ = i + 1;
          return Scan::kFound;
        }
        break;
      case '"':
        in_string_ = true;
        break;
      case ';':
        in_comment_ = true;
        break;
      default:
        break;
    }
    ++i;
  }
  scan_ = i;
  if (i - pos_ >= limits_.max_bytes) return TooLong("statement", error);
  return Scan::kNeedMore;
}

Reader::Scan Reader::ScanDocument(Status* error, size_t* error_at) {
  const char* p = buf_.data();
  size_t limit = pos_ + std::min(limits_.max_bytes, buf_.size() - pos_);
  size_t i = scan_;
  while (i < limit) {
    unsigned char c = p[i];
    if (in_string_) {
      if (!escape_) {
        i = SkipStringBody(p, i, limit);
        if (i >= limit) break;
        c = p[i];
      }
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (depth_ == 0) {  // a string on its own (not a document)
          item_end_ = scan_ = i + 1;
          return Scan::kFound;
        }
      } else {
        *error = ErrorAt(ErrorCode::kBadDocument, i, "control character " + Describe(c) + " inside a JSON string");
        *error_at = i;
        scan_ = i;
        return Scan::kError;
      }
      ++i;
      continue;
    }
    if (c == '{' || c == '[') {
      if (++depth_ > limits_.max_depth) return TooDeep("document", i, error);
      closers_.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (closers_.back() != static_cast<char>(c)) {
        *error = ErrorAt(ErrorCode::kBadDocument, i,
                         "'" + std::string(1, static_cast<char>(c)) + "' where '" + closers_.back() +
                             "' closes the JSON document's innermost " + (closers_.back() == '}' ? "object" : "array"));
        *error_at = i;
        scan_ = i;
        return Scan::kError;
      }
      closers_.pop_back();
      if (--depth_ == 0) {
        item_end_ = i + 1;
        scan_ = i + 1;
        return Scan::kFound;
      }
    } else if (c == '"') {
      in_string_ = true;
    }
    ++i;
  }
  scan_ = i;
  if (i - pos_ >= limits_.max_bytes) return TooLong("document", error);
  return Scan::kNeedMore;
}

// A bare JSON scalar (42, true, null …) or other run of text where a
// document should be: it ends at a blank, a parenthesis or a comment.
Reader::Scan Reader::ScanToken() {
  const char* p = buf_.data();
  size_t limit = pos_ + std::min(limits_.max_bytes, buf_.size() - pos_);
  size_t i = scan_;
  while (i < limit) {
    uint8_t cls = kClass[static_cast<unsigned char>(p[i])];
    if (cls == kBlank || cls == kOpen || cls == kClose || cls == kSemi) break;
    ++i;
  }
  scan_ = i;
  if (i < limit) {
    item_end_ = i;
    return Scan::kFound;
  }
  return i - pos_ >= limits_.max_bytes ? Scan::kFatal : Scan::kNeedMore;
}

Reader::Result Reader::NextStatement(DatumTree* tree, Status* error) {
  *error = Status::Ok();
  if (state_ == ScanState::kIdle) {
    if (!FinishDiscard()) return Result::kNeedMore;
    SkipBlank(true);
    if (pos_ == buf_.size()) return Result::kNeedMore;
    unsigned char c = buf_[pos_];
    if (c != '(') {
      *error = SyntaxAt(pos_, c == ')' ? std::string("unexpected ')'")
                                       : "a statement must be a list starting with '(', found " + Describe(c));
      DiscardThroughLineOf(pos_);
      return Result::kError;
    }
    // Fast path: the whole statement is usually buffered already, so parse
    // it in one pass. Anything unusual (incomplete, too deep, an error) goes
    // through the resumable scan, which finds the statement's end first.
    size_t end = 0;
    Status parse_error;
    std::string_view rest(buf_.data() + pos_, std::min(buf_.size() - pos_, limits_.max_bytes));
    if (StatementParser::ParsePrefix(rest, limits_.max_depth, tree, &end, &parse_error) ==
        StatementParser::Outcome::kComplete) {
      Consume(end);
      return Result::kItem;
    }
    StartScan(ScanState::kList);
  }
  size_t error_at = 0;
  switch (ScanList(error, &error_at)) {
    case Scan::kNeedMore:
      return Result::kNeedMore;
    case Scan::kFatal:
      ResetScan();
      return Result::kFatal;
    case Scan::kError:
      ResetScan();
      DiscardThroughLineOf(error_at);
      return Result::kError;
    case Scan::kFound:
      break;
  }
  ResetScan();
  size_t len = item_end_ - pos_;
  std::string_view text(buf_.data() + pos_, len);
  size_t off = 0;
  Status st = StatementParser::Parse(text, tree, &off);
  if (!st.ok()) {
    *error = SyntaxAt(pos_ + off, st.message());
    DiscardThroughLineOf(item_end_ - 1);
    return Result::kError;
  }
  Consume(len);
  return Result::kItem;
}

namespace {

const char* ValueKind(char first) {
  switch (first) {
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return (first == '-' || (first >= '0' && first <= '9')) ? "a number" : "text";
  }
}

}  // namespace

Reader::Result Reader::NextDocument(const char** data, size_t* len, size_t* capacity, Status* error) {
  *error = Status::Ok();
  if (state_ == ScanState::kIdle) {
    if (!FinishDiscard()) return Result::kNeedMore;
    SkipBlank(true);
    if (pos_ == buf_.size()) return Result::kNeedMore;
    char first = buf_[pos_];
    if (first == '(' || first == ')') return Result::kNotDocument;
    bool bracketed = first == '{' || first == '[' || first == '"';
    StartScan(bracketed ? ScanState::kDocument : ScanState::kToken);
    in_string_ = first == '"';
    if (in_string_) ++scan_;
  }
  char first = buf_[pos_];
  size_t error_at = 0;
  Scan scan = state_ == ScanState::kToken ? ScanToken() : ScanDocument(error, &error_at);
  switch (scan) {
    case Scan::kNeedMore:
      return Result::kNeedMore;
    case Scan::kFatal:
      ResetScan();
      if (error->ok()) TooLong("the text where a JSON object should be", error);
      return Result::kFatal;
    case Scan::kError:
      ResetScan();
      DiscardThroughLineOf(error_at);
      return Result::kError;
    case Scan::kFound:
      break;
  }
  ResetScan();
  size_t n = item_end_ - pos_;
  if (first != '{') {
    *error = ErrorAt(ErrorCode::kBadDocument, pos_,
                     std::string("the statement must be followed by a JSON object, found ") + ValueKind(first));
    Consume(n);
    return Result::kError;
  }
  *data = buf_.data() + pos_;
  *len = n;
  *capacity = buf_.capacity() - pos_;
  Consume(n);
  return Result::kItem;
}

}  // namespace parendb
