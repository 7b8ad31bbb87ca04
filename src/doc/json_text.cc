#include "doc/json_text.h"

#include <charconv>
#include <cstring>
#include <string>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "base/utf8.h"
#include "doc/json.h"

namespace parendb {
namespace {

// Every walker takes [p, end) and returns where what it read ends, or
// nullptr when the text is not what it expects.

const char* SkipSpace(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  return p;
}

// p at an opening quote; returns just past the closing one, and sets
// *escaped when the string holds a backslash. Sixteen bytes at a time where
// SSE2 is there (every x86-64): most keys and values are shorter, and a
// call to memchr costs more than they do.
const char* SkipString(const char* p, const char* end, bool* escaped) {
  ++p;
  for (;;) {
#ifdef __SSE2__
    while (end - p >= 16) {
      __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      int hits = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(chunk, _mm_set1_epi8('"')),
                                                _mm_cmpeq_epi8(chunk, _mm_set1_epi8('\\'))));
      if (hits != 0) {
        p += __builtin_ctz(static_cast<unsigned>(hits));
        break;
      }
      p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\') ++p;
    if (p >= end) return nullptr;
    if (*p == '"') return p + 1;
    *escaped = true;  // a backslash: skip it and the byte it escapes
    p += 2;
    if (p > end) return nullptr;
  }
}

const char* SkipString(const char* p, const char* end) {
  bool escaped;
  return SkipString(p, end, &escaped);
}

// p at the first byte of any value; returns just past it.
const char* SkipValue(const char* p, const char* end) {
  if (p >= end) return nullptr;
  if (*p == '"') return SkipString(p, end);
  if (*p == '{' || *p == '[') {
    size_t depth = 0;
    while (p < end) {
      switch (*p) {
        case '"':
          p = SkipString(p, end);
          if (p == nullptr) return nullptr;
          continue;
        case '{':
        case '[': ++depth; break;
        case '}':
        case ']':
          if (--depth == 0) return p + 1;
          break;
        default: break;
      }
      ++p;
    }
    return nullptr;
  }
  const char* start = p;
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') ++p;
  return p == start ? nullptr : p;
}

bool Hex4(const char* p, const char* end, uint32_t* out) {
  if (end - p < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v |= c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v |= c - 'A' + 10;
    } else {
      return false;
    }
  }
  *out = v;
  return true;
}

// The string between the quotes of `raw` (escapes and all), unescaped.
bool Unescape(std::string_view raw, std::string* out) {
  out->clear();
  out->reserve(raw.size());
  const char* p = raw.data();
  const char* end = p + raw.size();
  while (p < end) {
    const auto* bs = static_cast<const char*>(std::memchr(p, '\\', end - p));
    if (bs == nullptr) {
      out->append(p, end);
      return true;
    }
    out->append(p, bs);
    p = bs + 1;
    if (p >= end) return false;
    char c = *p++;
    if (char plain = SimpleEscape(c); plain != 0) {
      out->push_back(plain);
      continue;
    }
    switch (c) {
      case 'u': {
        uint32_t cp;
        if (!Hex4(p, end, &cp)) return false;
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate: its low half follows
          uint32_t low;
          if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !Hex4(p + 2, end, &low) || low < 0xDC00 || low >= 0xE000) {
            return false;
          }
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          return false;
        }
        AppendUtf8(cp, out);
        break;
      }
      default: return false;
    }
  }
  return true;
}

// Whether the key between quotes, raw (escaped: holding escapes), is `name`.
bool KeyIs(std::string_view raw, bool escaped, std::string_view name) {
  if (!escaped) return raw == name;
  thread_local std::string key;
  return Unescape(raw, &key) && key == name;
}

// *p at '{': the value of member `name`.
TextLookup FindMember(const char*& p, const char*& end, std::string_view name) {
  p = SkipSpace(p + 1, end);
  if (p < end && *p == '}') return TextLookup::kAbsent;
  while (p < end) {
    if (*p != '"') return TextLookup::kMalformed;
    bool escaped = false;
    const char* key_end = SkipString(p, end, &escaped);
    if (key_end == nullptr) return TextLookup::kMalformed;
    bool match = KeyIs(std::string_view(p + 1, key_end - p - 2), escaped, name);
    p = SkipSpace(key_end, end);
    if (p >= end || *p != ':') return TextLookup::kMalformed;
    p = SkipSpace(p + 1, end);
    const char* value_end = SkipValue(p, end);
    if (value_end == nullptr) return TextLookup::kMalformed;
    if (match) {
      end = value_end;
      return TextLookup::kFound;
    }
    p = SkipSpace(value_end, end);
    if (p < end && *p == '}') return TextLookup::kAbsent;
    if (p >= end || *p != ',') return TextLookup::kMalformed;
    p = SkipSpace(p + 1, end);
  }
  return TextLookup::kMalformed;
}

// *p at '[': element i.
TextLookup FindElement(const char*& p, const char*& end, int64_t i) {
  p = SkipSpace(p + 1, end);
  if (p < end && *p == ']') return TextLookup::kAbsent;
  for (int64_t at = 0; p < end; ++at) {
    const char* value_end = SkipValue(p, end);
    if (value_end == nullptr) return TextLookup::kMalformed;
    if (at == i) {
      end = value_end;
      return TextLookup::kFound;
    }
    p = SkipSpace(value_end, end);
    if (p < end && *p == ']') return TextLookup::kAbsent;
    if (p >= end || *p != ',') return TextLookup::kMalformed;
    p = SkipSpace(p + 1, end);
  }
  return TextLookup::kMalformed;
}

}  // namespace

TextLookup FindInJsonText(std::string_view json, const Path& path, std::string_view* found) {
  const char* p = SkipSpace(json.data(), json.data() + json.size());
  const char* end = json.data() + json.size();
  while (end > p && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t')) --end;
  if (p >= end) return TextLookup::kMalformed;
  for (const PathStep& step : path) {
    TextLookup r;
    if (step.is_index) {
      // As in Resolve: an index into anything but an array resolves to nothing.
      if (*p != '[' || step.index < 0) return TextLookup::kAbsent;
      r = FindElement(p, end, step.index);
    } else {
      if (*p != '{') return TextLookup::kAbsent;
      r = FindMember(p, end, step.name);
    }
    if (r != TextLookup::kFound) return r;
  }
  *found = std::string_view(p, end - p);
  return TextLookup::kFound;
}

TextLookup ReplaceInJsonText(std::string_view json, const Path& path, const Value& value, std::string* out) {
  if (path.empty()) return TextLookup::kAbsent;
  std::string_view found;
  TextLookup r = FindInJsonText(json, path, &found);
  if (r != TextLookup::kFound) return r;
  size_t at = static_cast<size_t>(found.data() - json.data());
  out->assign(json.data(), at);
  AppendJson(value, out);
  out->append(found.data() + found.size(), json.data() + json.size());
  return TextLookup::kFound;
}

bool ValueFromJsonText(std::string_view text, Value* out) {
  if (text.empty()) return false;
  const char* p = text.data();
  const char* end = p + text.size();
  switch (*p) {
    case 'n':
      if (text != "null") return false;
      *out = Value();
      return true;
    case 't':
      if (text != "true") return false;
      *out = Value(true);
      return true;
    case 'f':
      if (text != "false") return false;
      *out = Value(false);
      return true;
    case '"': {
      if (text.size() < 2 || text.back() != '"') return false;
      std::string_view raw = text.substr(1, text.size() - 2);
      if (std::memchr(raw.data(), '\\', raw.size()) == nullptr) {
        *out = Value(std::string(raw));
        return true;
      }
      std::string s;
      if (!Unescape(raw, &s)) return false;
      *out = Value(std::move(s));
      return true;
    }
    case '{':
    case '[':
      // Compound values are rarer in conditions; the parser builds them.
      return ParseJson(text, 1 << 20, out).ok();
    default: {
      if (*p != '-' && (*p < '0' || *p > '9')) return false;
      bool integral = text.find_first_of(".eE") == std::string_view::npos;
      if (integral) {
        int64_t i;
        auto r = std::from_chars(p, end, i);
        if (r.ec == std::errc() && r.ptr == end) {
          *out = Value(i);
          return true;
        }
        if (r.ec != std::errc::result_out_of_range) return false;
      }
      double d;
      auto r = std::from_chars(p, end, d);
      if (r.ec != std::errc() || r.ptr != end) return false;
      *out = Value(d);
      return true;
    }
  }
}

}  // namespace parendb
