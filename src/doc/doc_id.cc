#include "doc/doc_id.h"

#include <cmath>

#include "doc/json.h"

namespace parendb {

bool DocId::FromValue(const Value& v, DocId* out) {
  switch (v.kind()) {
    case Value::Kind::kInt:
      *out = Int(v.as_int());
      return true;
    case Value::Kind::kString:
      *out = Str(v.as_string());
      return true;
    case Value::Kind::kDouble: {
      double d = v.as_double();
      if (std::trunc(d) != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
      *out = Int(static_cast<int64_t>(d));
      return true;
    }
    default:
      return false;
  }
}

std::string DocId::ToString() const {
  if (is_int) return std::to_string(i);
  std::string out;
  AppendJson(Value(s), &out);
  return out;
}

}  // namespace parendb
