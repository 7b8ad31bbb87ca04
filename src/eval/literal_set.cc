#include "eval/literal_set.h"

#include <cmath>

namespace parendb {

namespace {

// The integer a double equals, when there is one (-0.0 is 0).
bool IntegerOf(double d, int64_t* out) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::trunc(d) != d) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

}  // namespace

void LiteralSet::Add(const Value& v) {
  int64_t i;
  switch (v.kind()) {
    case Value::Kind::kNull: has_null_ = true; return;
    case Value::Kind::kBool: (v.as_bool() ? has_true_ : has_false_) = true; return;
    case Value::Kind::kInt: integers_.insert(v.as_int()); return;
    case Value::Kind::kDouble:
      if (!IntegerOf(v.as_double(), &i)) break;
      integers_.insert(i);
      return;
    case Value::Kind::kString: strings_.insert(v.as_string()); return;
    default: break;
  }
  others_.push_back(v);
}

bool LiteralSet::Contains(const Value& v) const {
  int64_t i;
  switch (v.kind()) {
    case Value::Kind::kNull: return has_null_;
    case Value::Kind::kBool: return v.as_bool() ? has_true_ : has_false_;
    // An integer equals no double with a fraction: the set is the answer.
    case Value::Kind::kInt: return integers_.count(v.as_int()) != 0;
    case Value::Kind::kDouble:
      if (IntegerOf(v.as_double(), &i)) return integers_.count(i) != 0;
      break;  // a fraction equals only another double: among the others
    case Value::Kind::kString: return strings_.count(v.as_string()) != 0;
    default: break;  // an array or an object: among the others, if anywhere
  }
  for (const Value& o : others_) {
    if (DeepEqual(v, o)) return true;
  }
  return false;
}

}  // namespace parendb
