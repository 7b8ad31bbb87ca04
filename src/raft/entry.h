// What a ParenDB Raft log entry holds (the command entries; Raft's own
// barrier and configuration entries never reach us).
//
//   entry    := kind:u8 body
//   commit   := origin:u64 seq:u64 payload_len:u32 payload   (kind 1)
//     payload: the commit's records as the write-ahead log encodes them
//     (wal/log_format.h). origin and seq name the proposal, so the node
//     that proposed it completes the waiting commit when it applies the
//     entry; origin is random per process start, so a restarted node
//     never takes an old entry for one of its own.
//   announce := node:u64 term:u64 address_len:u32 address   (kind 2)
//     a new leader's first entry: its client address (HOST:PORT), which
//     followers give in not-leader answers. Once a leader has applied its
//     own announcement it has applied every entry of earlier terms and
//     may run update transactions. The leader repeats it now and then, so
//     a node that restarted from a snapshot learns it too.
// Integers are little-endian. Lengths are explicit because libraft's disk
// format pads every entry to a multiple of 8 bytes: an entry read back
// from disk may end in zeros.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace parendb::raft_entry {

enum Kind : uint8_t { kCommit = 1, kAnnounce = 2 };

inline constexpr size_t kCommitHeader = 21;

inline void PutU64(uint64_t v, char* out) { std::memcpy(out, &v, 8); }
inline uint64_t GetU64(const char* in) {
  uint64_t v;
  std::memcpy(&v, in, 8);
  return v;
}
inline uint32_t GetU32(const char* in) {
  uint32_t v;
  std::memcpy(&v, in, 4);
  return v;
}

// The header of a commit entry whose payload is payload_len bytes.
inline void CommitHeader(uint64_t origin, uint64_t seq, uint32_t payload_len, char out[kCommitHeader]) {
  out[0] = static_cast<char>(kCommit);
  PutU64(origin, out + 1);
  PutU64(seq, out + 9);
  std::memcpy(out + 17, &payload_len, 4);
}

inline std::string Announce(uint64_t node, uint64_t term, std::string_view address) {
  std::string out(1 + 8 + 8 + 4, '\0');
  out[0] = static_cast<char>(kAnnounce);
  PutU64(node, out.data() + 1);
  PutU64(term, out.data() + 9);
  uint32_t n = static_cast<uint32_t>(address.size());
  std::memcpy(out.data() + 17, &n, 4);
  out.append(address);
  return out;
}

// Parsed views into an entry's bytes; false when they are malformed.
struct Parsed {
  Kind kind = kCommit;
  uint64_t origin = 0, seq = 0;  // commit
  std::string_view payload;      // commit
  uint64_t node = 0, term = 0;   // announce
  std::string_view address;      // announce
};

inline bool Parse(std::string_view e, Parsed* p) {
  if (e.empty()) return false;
  p->kind = static_cast<Kind>(static_cast<uint8_t>(e[0]));
  if (p->kind == kCommit) {
    if (e.size() < kCommitHeader) return false;
    p->origin = GetU64(e.data() + 1);
    p->seq = GetU64(e.data() + 9);
    uint32_t n = GetU32(e.data() + 17);
    if (e.size() - kCommitHeader < n) return false;
    p->payload = e.substr(kCommitHeader, n);
    return true;
  }
  if (p->kind == kAnnounce) {
    if (e.size() < 21) return false;
    p->node = GetU64(e.data() + 1);
    p->term = GetU64(e.data() + 9);
    uint32_t n = GetU32(e.data() + 17);
    if (e.size() - 21 < n) return false;
    p->address = e.substr(21, n);
    return true;
  }
  return false;
}

}  // namespace parendb::raft_entry
