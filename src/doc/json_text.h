// Reading values out of JSON text that ParenDB wrote itself, without
// parsing the rest of it.
//
// A committed document is kept as its compact JSON text (see
// docs/storage.md). Conditions, projections and index keys need a few of
// its values, not a tree of all of them, so they walk the text: a member
// is found by comparing keys and skipping the values between, a value is
// converted only once found. The text must be what AppendJson writes — valid,
// no whitespace — which is what the log, checkpoints and commits hold; the
// walkers still stop safely (returning kMalformed) on anything else, so a
// caller can fall back to a full parse rather than misread.
#pragma once

#include <cstddef>
#include <string_view>

#include "doc/path.h"
#include "doc/value.h"

namespace parendb {

enum class TextLookup : uint8_t { kFound, kAbsent, kMalformed };

// The text of the value at path in `json` (any JSON value; an empty path
// names it whole), as a slice of json.
TextLookup FindInJsonText(std::string_view json, const Path& path, std::string_view* found);

// Writes to *out `json` with the value at `path` replaced by `value` as
// AppendJson writes it: for text ParenDB wrote, the same bytes as parsing
// it, assigning `value` at path (an existing value keeps its place) and
// rendering the tree. kAbsent or kMalformed (and *out unspecified) unless
// path names an existing value below the top; the caller then assigns on
// a tree.
TextLookup ReplaceInJsonText(std::string_view json, const Path& path, const Value& value, std::string* out);

// Converts the text of one JSON value (a slice FindInJsonText returned)
// into a Value exactly as parsing the whole document would have: integers
// that fit int64 stay integers, other numbers become doubles, strings are
// unescaped. False when the text is not such a value.
bool ValueFromJsonText(std::string_view text, Value* out);

}  // namespace parendb
