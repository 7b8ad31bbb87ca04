// A JSON value as ParenDB stores and evaluates it.
//
// Objects keep their members in insertion order (the contract returns fields
// in the order they were written, `_id` first), so an Object is a vector of
// members rather than a map; documents are small, and a linear member lookup
// beats hashing at that size.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace parendb {

class Value;
struct Member;
using Array = std::vector<Value>;
using Object = std::vector<Member>;

class Value {
 public:
  enum class Kind : uint8_t { kNull, kBool, kInt, kDouble, kString, kArray, kObject };

  // Defined after Member: the variant's constructors need Object (a vector
  // of Member) complete, which clang insists on where they are declared.
  Value();
  explicit Value(bool b);
  explicit Value(int64_t i);
  explicit Value(double d);
  explicit Value(std::string s);
  explicit Value(Array a);
  explicit Value(Object o);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_number() const { return kind() == Kind::kInt || kind() == Kind::kDouble; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_object() const { return kind() == Kind::kObject; }
  bool is_array() const { return kind() == Kind::kArray; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  // Any number as a double (ints convert, possibly rounding).
  double as_number() const { return is_int() ? static_cast<double>(as_int()) : as_double(); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Turn this value into an empty object/array in place and return it, so
  // builders fill containers without temporaries.
  Object& make_object();
  Array& make_array();

  // Object member lookup; nullptr when absent or when this is not an object.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> v_;
};

struct Member {
  std::string key;
  Value value;
};

inline Value::Value() = default;
inline Value::Value(bool b) : v_(b) {}
inline Value::Value(int64_t i) : v_(i) {}
inline Value::Value(double d) : v_(d) {}
inline Value::Value(std::string s) : v_(std::move(s)) {}
inline Value::Value(Array a) : v_(std::move(a)) {}
inline Value::Value(Object o) : v_(std::move(o)) {}
inline Object& Value::make_object() { return v_.emplace<Object>(); }
inline Array& Value::make_array() { return v_.emplace<Array>(); }

// Deep equality of the contract: numbers numerically (1 = 1.0), objects by
// members regardless of order, arrays element by element.
bool DeepEqual(const Value& a, const Value& b);

// Exact numeric three-way comparison of two numbers (no rounding of large
// integers through double). Both must be numbers.
int CompareNumbers(const Value& a, const Value& b);

// The `<`/`<=`/`>`/`>=` ordering: numbers numerically, strings by bytes.
// Returns false in *comparable when the pair has no order (then the
// comparison is false).
int CompareOrdered(const Value& a, const Value& b, bool* comparable);

}  // namespace parendb
