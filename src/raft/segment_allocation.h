#ifndef PARENDB_RAFT_SEGMENT_ALLOCATION_H_
#define PARENDB_RAFT_SEGMENT_ALLOCATION_H_

#include <cstdint>

namespace parendb::raft_segments {

// libraft (0.15) preallocates every open log segment with posix_fallocate().
// On ext4 and xfs that leaves unwritten extents, and each of libraft's
// O_DIRECT|O_DSYNC appends into them then converts extents — a journal
// commit per append — and cannot be submitted with RWF_NOWAIT, so libraft
// retries every append on its thread pool. Segments filled with zeros
// instead (what wal/file.cc does for our own log) take plain overwrites.
//
// This file defines posix_fallocate() for the process; libraft's call binds
// to it. Until ZeroFillNewFiles() is called it only forwards to the C
// library's. After it, a call that extends a regular file past its end
// writes zeros there and syncs them, through a second descriptor (libraft
// opens segments O_DSYNC); a call over existing bytes still forwards, so no
// data is ever overwritten. docs/replication.md has the measurements.
void ZeroFillNewFiles();

// How many files have been extended with zeros (for the log and tests).
uint64_t ZeroFilledFiles();

}  // namespace parendb::raft_segments

#endif  // PARENDB_RAFT_SEGMENT_ALLOCATION_H_
