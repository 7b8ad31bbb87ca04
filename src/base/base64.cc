#include "base/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace parendb {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

// Two output characters per 12 bits of input: half the lookups of one per
// 6 bits (a backup encodes every byte of the database; 8 KiB of table).
struct PairTable {
  char pairs[4096][2];
  constexpr PairTable() : pairs() {
    for (int i = 0; i < 4096; ++i) {
      pairs[i][0] = kAlphabet[i >> 6];
      pairs[i][1] = kAlphabet[i & 63];
    }
  }
};
constexpr PairTable kPairs;

}  // namespace

void AppendBase64(std::string_view data, std::string* out) {
  size_t start = out->size();
  out->resize(start + (data.size() + 2) / 3 * 4);
  char* p = out->data() + start;
  const auto* in = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size(), i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    std::memcpy(p, kPairs.pairs[v >> 12], 2);
    std::memcpy(p + 2, kPairs.pairs[v & 4095], 2);
    p += 4;
  }
  if (i < n) {
    uint32_t v = uint32_t{in[i]} << 16;
    if (i + 1 < n) v |= uint32_t{in[i + 1]} << 8;
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    *p++ = '=';
  }
}

bool DecodeBase64(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  size_t start = out->size();
  out->resize(start + text.size() / 4 * 3 - pad);
  char* p = out->data() + start;
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  size_t full = pad == 0 ? text.size() : text.size() - 4;  // the quads without padding
  for (size_t i = 0; i < full; i += 4) {
    int32_t a = kDecode[in[i]], b = kDecode[in[i + 1]], c = kDecode[in[i + 2]], d = kDecode[in[i + 3]];
    if ((a | b | c | d) < 0) return false;
    uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    p[0] = static_cast<char>(v >> 16);
    p[1] = static_cast<char>(v >> 8);
    p[2] = static_cast<char>(v);
    p += 3;
  }
  if (pad == 0) return true;
  const uint8_t* q = in + full;
  int32_t a = kDecode[q[0]], b = kDecode[q[1]], c = pad == 1 ? kDecode[q[2]] : 0;
  if ((a | b | c) < 0 || (pad == 2 && q[2] != '=')) return false;
  // The bits past the last byte must be zero: one encoding per byte string
  // (RFC 4648 3.5), so "Zm8=" decodes and "Zm9=" does not.
  if ((pad == 1 && (c & 3) != 0) || (pad == 2 && (b & 15) != 0)) return false;
  uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6);
  *p++ = static_cast<char>(v >> 16);
  if (pad == 1) *p++ = static_cast<char>(v >> 8);
  return true;
}

}  // namespace parendb
