// The byte layout shared by write-ahead log segments and checkpoints.
// docs/wal.md explains it; this header is the reference.
//
//   file   := header frame*
//   header := magic[8] first_lsn:u64          ("PDBWAL1\n" or "PDBCKP1\n")
//   frame  := length:u32 crc:u32 lsn:u64 payload[length]
//             crc = CRC-32 of lsn and payload, so a torn or flipped frame
//             fails it; lsn rises by one per frame in the log.
//   payload:= count:u32 record*
//   record := kind:u8 coll_len:u32 coll[coll_len] body
//     put:      id doc_len:u32 doc[doc_len]   (the whole new version as JSON)
//     delete:   id
//     mkcoll:   next_id:i64                   (0 in the log; the counter in checkpoints)
//     rmcoll:   (nothing)
//     end:      documents:i64                 (checkpoints only: the last frame)
//     mkindex:  unique:u8 path_len:u32 path[path_len]   (the path as a JSON array)
//     rmindex:  path_len:u32 path[path_len]
//   id     := 0:u8 value:i64 | 1:u8 len:u32 bytes[len]
// Integers are little-endian.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "doc/doc_id.h"
#include "wal/commit_log.h"

namespace parendb {

inline constexpr std::string_view kWalMagic = "PDBWAL1\n";
inline constexpr std::string_view kCheckpointMagic = "PDBCKP1\n";
inline constexpr size_t kFileHeaderSize = 16;
inline constexpr size_t kFrameHeaderSize = 16;
inline constexpr uint32_t kMaxFramePayload = 1u << 30;

void AppendFileHeader(std::string_view magic, uint64_t lsn, std::string* out);
bool ReadFileHeader(std::string_view data, std::string_view magic, uint64_t* lsn);

// Appends one frame holding payload.
void AppendFrame(uint64_t lsn, std::string_view payload, std::string* out);

enum class FrameStatus {
  kOk,
  kEnd,        // no bytes left
  kTruncated,  // the frame runs past the end of the data
  kCorrupt,    // the CRC does not match, or the length is impossible
};

// Reads the frame at offset. On kOk sets *lsn, *payload and *next.
FrameStatus ReadFrame(std::string_view data, size_t offset, uint64_t* lsn, std::string_view* payload, size_t* next);

// Whether everything from offset on is zero bytes: space a segment had
// preallocated and not yet used, not damage.
bool AllZero(std::string_view data, size_t offset);

// Whether a valid frame with an lsn of at least min_lsn starts anywhere after
// offset: tells mid-log corruption (valid records follow) from a torn tail.
bool ValidFrameAfter(std::string_view data, size_t offset, uint64_t min_lsn);

// Records <-> payload.
void EncodeRecords(const std::vector<LogRecord>& records, std::string* out);
// AppendFrame of EncodeRecords' payload, encoded in place (one copy less).
void AppendRecordsFrame(uint64_t lsn, const std::vector<LogRecord>& records, std::string* out);

struct DecodedRecord {
  LogRecord::Kind kind;
  std::string_view collection;
  DocId id;
  std::string_view doc;  // kPut: JSON text
  int64_t number = 0;    // kMakeCollection: next id; kEnd: document count; kMakeIndex: unique
  std::string_view path;  // kMakeIndex, kDropIndex: JSON array
};
Status DecodeRecords(std::string_view payload, std::vector<DecodedRecord>* out);

// CRC-32 as zlib's crc32() computes it (reflected IEEE 802.3: "123456789"
// gives 0xcbf43926); crc is the CRC of what came before (0 to start), so
// Crc32(Crc32(0, a), b) == Crc32(0, a + b). Part of the on-disk format.
uint32_t Crc32(uint32_t crc, std::string_view data);

}  // namespace parendb
