// Spreading a 64-bit value's bits over the whole word, for hashing.
#pragma once

#include <cstdint>

namespace parendb {

// splitmix64's finalizer: every input bit affects every output bit, so the
// low bits (hash slots) and the high bits are both well spread.
inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace parendb
