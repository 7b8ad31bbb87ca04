// The literals of a long `(in EXPR v1 v2 …)`, for a membership test in
// constant time: a condition with thousands of values is tested against
// every document of a scan, and comparing with each in turn made such a
// scan quadratic. Membership means what `in` means (DeepEqual): numbers by
// value (7, 7.0 and -0.0/0 alike), strings by bytes, arrays and objects
// deeply.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "doc/value.h"

namespace parendb {

class LiteralSet {
 public:
  // Worth building from this many literals; below, a scan of the list is
  // as fast.
  static constexpr size_t kMinLiterals = 16;

  void Add(const Value& v);
  // Whether some literal is DeepEqual to v.
  bool Contains(const Value& v) const;

 private:
  // Integers, and doubles that equal one (integral, within int64).
  std::unordered_set<int64_t> integers_;
  std::unordered_set<std::string> strings_;
  bool has_null_ = false, has_true_ = false, has_false_ = false;
  // Doubles with a fraction or beyond int64's range (and any array or
  // object): rare in a literal list, compared one by one.
  std::vector<Value> others_;
};

}  // namespace parendb
