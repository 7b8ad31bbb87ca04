#include "doc/value.h"

#include <cmath>

namespace parendb {

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : as_object()) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

namespace {

// Compares an integer with a double exactly.
int CompareIntDouble(int64_t i, double d) {
  if (std::isnan(d)) return -1;  // never produced by the engine; keep total
  // 2^63 is exactly representable; any double >= it exceeds every int64.
  if (d >= 9223372036854775808.0) return -1;
  if (d < -9223372036854775808.0) return 1;
  double t = std::trunc(d);
  int64_t ti = static_cast<int64_t>(t);  // exact: t is integral and in range
  if (i < ti) return -1;
  if (i > ti) return 1;
  double frac = d - t;
  if (frac > 0) return -1;
  if (frac < 0) return 1;
  return 0;
}

bool ObjectsEqual(const Object& a, const Object& b) {
  if (a.size() != b.size()) return false;
  for (const Member& m : a) {
    const Member* match = nullptr;
    for (const Member& n : b) {
      if (n.key == m.key) {
        match = &n;
        break;
      }
    }
    if (match == nullptr || !DeepEqual(m.value, match->value)) return false;
  }
  return true;
}

}  // namespace

int CompareNumbers(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (a.is_int()) return CompareIntDouble(a.as_int(), b.as_double());
  if (b.is_int()) return -CompareIntDouble(b.as_int(), a.as_double());
  double x = a.as_double(), y = b.as_double();
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool DeepEqual(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    case Value::Kind::kArray: {
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!DeepEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kObject:
      return ObjectsEqual(a.as_object(), b.as_object());
    default:
      return false;  // numbers handled above
  }
}

int CompareOrdered(const Value& a, const Value& b, bool* comparable) {
  *comparable = true;
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b);
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  *comparable = false;
  return 0;
}

}  // namespace parendb
