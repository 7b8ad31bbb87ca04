// A document's `_id`: an integer or a string. Integers order before strings
// (section 3), integers numerically, strings by bytes.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "doc/value.h"

namespace parendb {

struct DocId {
  bool is_int = true;
  int64_t i = 0;
  std::string s;

  static DocId Int(int64_t v) { return DocId{true, v, {}}; }
  static DocId Str(std::string v) { return DocId{false, 0, std::move(v)}; }

  // Converts a value to an id; false when the value cannot be an `_id`.
  // An integral double (1.0) names the integer id it equals.
  static bool FromValue(const Value& v, DocId* out);
  Value ToValue() const { return is_int ? Value(i) : Value(s); }

  // Human-readable form for messages: 7 or "abc".
  std::string ToString() const;

  friend bool operator==(const DocId& a, const DocId& b) {
    return a.is_int == b.is_int && (a.is_int ? a.i == b.i : a.s == b.s);
  }
  friend std::strong_ordering operator<=>(const DocId& a, const DocId& b) {
    if (a.is_int != b.is_int) return a.is_int ? std::strong_ordering::less : std::strong_ordering::greater;
    if (a.is_int) return a.i <=> b.i;
    int c = a.s.compare(b.s);
    return c < 0 ? std::strong_ordering::less : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }
};

struct DocIdHash {
  size_t operator()(const DocId& id) const {
    return id.is_int ? std::hash<int64_t>()(id.i) : std::hash<std::string>()(id.s) ^ 0x9e3779b97f4a7c15ULL;
  }
};

}  // namespace parendb
