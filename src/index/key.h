// Index keys: JSON values encoded as byte strings whose memcmp order is the
// contract's total order (section 10): missing or null, false, true,
// numbers (numerically, integers and doubles compared exactly), strings (by
// bytes), arrays, objects. Deep-equal values (1 and 1.0; objects whose
// members differ only in order) encode to the same bytes, so equality of
// keys is the contract's `=` and a unique index compares keys.
//
// Every encoding is self-delimiting (no key is a proper prefix of another),
// so an index entry is a key followed by the document's encoded _id and
// entries sort by key, then _id.
//
// Arrays order element by element (a shorter prefix first); objects by
// their members sorted by name, compared name then value, member by member.
// The contract leaves the order among arrays and among objects open; this
// is ParenDB's (lang-docs/indexes.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "doc/doc_id.h"
#include "doc/value.h"
#include "lockmgr/key_range.h"

namespace parendb {

// First byte of each kind's keys.
enum class KeyTag : uint8_t {
  kNull = 0x10,  // also a path that does not resolve
  kFalse = 0x20,
  kTrue = 0x28,
  kNumber = 0x30,
  kString = 0x40,
  kArray = 0x50,
  kObject = 0x60,
};

// Appends v's key; null v means "missing", which keys as null.
void AppendKey(const Value* v, std::string* out);
inline std::string KeyOf(const Value* v) {
  std::string k;
  AppendKey(v, &k);
  return k;
}
inline bool IsNullKey(std::string_view key) { return key.size() == 1 && key[0] == static_cast<char>(KeyTag::kNull); }

// The range of keys of v's kind: what `<`/`>` on v can match (numbers with
// numbers, strings with strings); nullopt for other kinds, which `<` never
// matches.
std::optional<KeyRange> KindRange(const Value& v);

// An index entry: key then _id.
void AppendEntryId(const DocId& id, std::string* out);
// The _id at the end of an entry whose key is key_len bytes.
DocId EntryId(std::string_view entry, size_t key_len);
// Bytes that follow every entry of a key (after any _id): the key followed
// by this sorts after all of the key's entries and before the next key's.
inline constexpr char kAfterEntries = '\xff';

}  // namespace parendb
