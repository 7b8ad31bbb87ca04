// Base64 (RFC 4648, standard alphabet, padded): how a backup's file bytes
// travel inside the protocol's JSON strings. Written here rather than taken
// from a package: the Boost in use keeps its encoder in a detail namespace,
// and OpenSSL would be a large dependency for forty lines.
#pragma once

#include <string>
#include <string_view>

namespace parendb {

// Appends the encoding of data to *out.
void AppendBase64(std::string_view data, std::string* out);
// Appends the bytes text encodes to *out; false (out unspecified) when
// text is not padded base64 in its one canonical form (the bits past the
// last byte zero).
bool DecodeBase64(std::string_view text, std::string* out);

}  // namespace parendb
