// JSON in and out of Value: simdjson parses (it validates UTF-8 and numbers
// at memory speed), RapidJSON writes (shortest round-trip doubles, so 2.0
// reads back as a double).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "doc/value.h"

namespace parendb {

// The bytes a parser may read past the end of the input. Callers that own
// their buffer keep this much spare capacity so parsing needs no copy.
size_t JsonPadding();

// Parses one JSON object occupying exactly [data, data+len). `capacity` is
// how many bytes from `data` may be read (at least len + JsonPadding(); when
// smaller the input is copied). Errors: bad-document (malformed, not an
// object, duplicate member, number out of range), limit (nested deeper
// than max_depth).
Status ParseJsonObject(const char* data, size_t len, size_t capacity, int max_depth, Value* out);

// For text ParseDB wrote itself (log replay): skips the duplicate-member
// check, which such text cannot fail.
Status ParseTrustedJsonObject(const char* data, size_t len, size_t capacity, Value* out);

// A new document's text without its tree: checks a JSON object as
// ParseJsonObject does and appends to *members the compact text of its
// members other than `_id` (comma-separated, no braces; nothing for none),
// exactly as AppendJson writes them. The `_id` member's value goes to *id,
// and *has_id says whether there was one.
Status RenderJsonObject(const char* data, size_t len, size_t capacity, int max_depth, std::string* members, Value* id,
                        bool* has_id);

// Convenience for tests and tools: parses any JSON value from a string.
Status ParseJson(std::string_view text, int max_depth, Value* out);

// Appends the compact one-line JSON text of v.
void AppendJson(const Value& v, std::string* out);
// The same, growing *out once to hold the text plus `spare` more bytes
// (reserving after the fact would let std::string double its capacity).
void AppendJson(const Value& v, std::string* out, size_t spare);

// Appends v as indented multi-line JSON (the console's pretty mode).
void AppendJsonPretty(const Value& v, std::string* out);

// text made valid UTF-8: each byte that breaks it becomes the four
// characters \xNN. For messages that quote client input (an error must be
// a JSON string, whatever the client sent).
std::string ToValidUtf8(std::string text);

}  // namespace parendb
