// An _id as a collection's entry keeps it: 16 bytes, where a DocId takes 48
// (a std::string beside the integer). An integer is kept inline, a string
// behind one pointer to exactly its bytes. Compares and hashes as the DocId
// it was made from, so entries are found by DocId without building one.
#pragma once

#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>

#include "doc/doc_id.h"

namespace parendb {

class PackedId {
 public:
  explicit PackedId(const DocId& id) : size_(static_cast<uint32_t>(id.s.size())), is_int_(id.is_int) {
    if (is_int_) {
      i_ = id.i;
    } else {
      s_ = new char[size_];
      std::memcpy(s_, id.s.data(), size_);
    }
  }
  ~PackedId() {
    if (!is_int_) delete[] s_;
  }
  PackedId(const PackedId&) = delete;
  PackedId& operator=(const PackedId&) = delete;

  bool is_int() const { return is_int_; }
  int64_t i() const { return i_; }
  std::string_view s() const { return {s_, size_}; }
  DocId ToDocId() const { return is_int_ ? DocId::Int(i_) : DocId::Str(std::string(s())); }

  // DocId's order: integers before strings, integers numerically, strings
  // by bytes.
  friend std::strong_ordering operator<=>(const PackedId& a, const DocId& b) {
    if (a.is_int_ != b.is_int) return a.is_int_ ? std::strong_ordering::less : std::strong_ordering::greater;
    if (a.is_int_) return a.i_ <=> b.i;
    int c = a.s().compare(b.s);
    return c < 0 ? std::strong_ordering::less : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }
  friend bool operator==(const PackedId& a, const DocId& b) { return (a <=> b) == 0; }
  friend std::strong_ordering operator<=>(const PackedId& a, const PackedId& b) {
    if (a.is_int_ != b.is_int_) return a.is_int_ ? std::strong_ordering::less : std::strong_ordering::greater;
    if (a.is_int_) return a.i_ <=> b.i_;
    int c = a.s().compare(b.s());
    return c < 0 ? std::strong_ordering::less : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }
  // DocIdHash's value for the same _id.
  size_t Hash() const {
    return is_int_ ? std::hash<int64_t>()(i_) : std::hash<std::string_view>()(s()) ^ 0x9e3779b97f4a7c15ULL;
  }

 private:
  union {
    int64_t i_;
    char* s_;
  };
  uint32_t size_;
  bool is_int_;
};

}  // namespace parendb
