#include "index/key.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

namespace parendb {
namespace {

void PutTag(KeyTag t, std::string* out) { out->push_back(static_cast<char>(t)); }

void PutBigEndian(uint64_t v, int bytes, std::string* out) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Doubles in memcmp order: flip every bit of a negative, the sign bit of a
// positive.
uint64_t OrderedBits(double d) {
  if (d == 0) d = 0.0;  // -0.0 equals 0.0
  auto bits = std::bit_cast<uint64_t>(d);
  return (bits & (uint64_t{1} << 63)) != 0 ? ~bits : bits | (uint64_t{1} << 63);
}

// A number as (the nearest double, the exact remainder): rounding is
// monotonic, so nearest doubles that differ order the numbers, and equal
// ones leave the difference to the remainder, which for an int64 is at most
// half a unit in the last place of 2^63 (1024) and fits 16 bits.
void PutNumber(const Value& v, std::string* out) {
  PutTag(KeyTag::kNumber, out);
  if (!v.is_int()) {
    PutBigEndian(OrderedBits(v.as_double()), 8, out);
    PutBigEndian(0x8000, 2, out);
    return;
  }
  int64_t i = v.as_int();
  auto d = static_cast<double>(i);
  auto rem = static_cast<__int128>(i) - static_cast<__int128>(d);  // d ≤ 2^63: fits
  PutBigEndian(OrderedBits(d), 8, out);
  PutBigEndian(static_cast<uint64_t>(static_cast<int64_t>(rem) + 0x8000), 2, out);
}

// Bytes with 0x00 escaped as 00 ff, ended by 00 01: memcmp order is byte
// order, and no string is a prefix of another's encoding.
void PutBytes(std::string_view s, std::string* out) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
  out->push_back('\0');
  out->push_back('\x01');
}

}  // namespace

void AppendKey(const Value* v, std::string* out) {
  if (v == nullptr) return PutTag(KeyTag::kNull, out);
  switch (v->kind()) {
    case Value::Kind::kNull: return PutTag(KeyTag::kNull, out);
    case Value::Kind::kBool: return PutTag(v->as_bool() ? KeyTag::kTrue : KeyTag::kFalse, out);
    case Value::Kind::kInt:
    case Value::Kind::kDouble: return PutNumber(*v, out);
    case Value::Kind::kString:
      PutTag(KeyTag::kString, out);
      return PutBytes(v->as_string(), out);
    case Value::Kind::kArray:
      PutTag(KeyTag::kArray, out);
      for (const Value& e : v->as_array()) AppendKey(&e, out);
      out->push_back('\0');  // below every tag: a prefix sorts first
      return;
    case Value::Kind::kObject: {
      PutTag(KeyTag::kObject, out);
      // Members by name, so member order does not matter (deep equality).
      std::vector<const Member*> members;
      members.reserve(v->as_object().size());
      for (const Member& m : v->as_object()) members.push_back(&m);
      std::sort(members.begin(), members.end(), [](const Member* a, const Member* b) { return a->key < b->key; });
      for (const Member* m : members) {
        out->push_back('\x02');  // a member follows (above the end mark)
        PutBytes(m->key, out);
        AppendKey(&m->value, out);
      }
      out->push_back('\0');
      return;
    }
  }
}

std::optional<KeyRange> KindRange(const Value& v) {
  KeyRange r;
  if (v.is_number()) {
    r.lo.assign(1, static_cast<char>(KeyTag::kNumber));
    r.hi.assign(1, static_cast<char>(static_cast<uint8_t>(KeyTag::kNumber) + 1));
  } else if (v.is_string()) {
    r.lo.assign(1, static_cast<char>(KeyTag::kString));
    r.hi.assign(1, static_cast<char>(static_cast<uint8_t>(KeyTag::kString) + 1));
  } else {
    return std::nullopt;
  }
  r.hi_open = true;
  return r;
}

void AppendEntryId(const DocId& id, std::string* out) {
  if (id.is_int) {
    out->push_back('\x01');
    PutBigEndian(static_cast<uint64_t>(id.i) ^ (uint64_t{1} << 63), 8, out);
  } else {
    out->push_back('\x02');
    out->append(id.s);  // last in the entry: needs no end mark
  }
}

DocId EntryId(std::string_view entry, size_t key_len) {
  std::string_view rest = entry.substr(key_len + 1);
  if (entry[key_len] == '\x01') {
    uint64_t v = 0;
    for (char c : rest.substr(0, 8)) v = (v << 8) | static_cast<uint8_t>(c);
    return DocId::Int(static_cast<int64_t>(v ^ (uint64_t{1} << 63)));
  }
  return DocId::Str(std::string(rest));
}

}  // namespace parendb
