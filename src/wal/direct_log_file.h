// A log segment written past the page cache: each Sync is one O_DIRECT
// write with RWF_DSYNC of the blocks that changed, which is the write and
// the data sync in one system call. On this project's reference machine
// that costs a quarter less CPU and a little less latency than write() +
// fdatasync() (docs/wal.md, "Direct I/O").
//
// Appends collect in an aligned buffer that begins at the block holding
// the first byte not yet on disk. Sync writes the buffer padded with zeros
// to whole blocks, then keeps only the last, partial block, which the next
// Sync rewrites with the same prefix and more after it. The bytes after
// the data are zeros, as in a preallocated segment written the ordinary
// way, so the log's format and its reader are the same; a torn rewrite of
// that block leaves each sector old or new, and both hold every byte
// synced before.
//
// For a log synced after every append only: what is appended is not in
// the file (not even in the kernel) until Sync or Close.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "wal/file.h"

namespace parendb {

// Creates (truncating) path for direct writes, growing it by preallocate
// bytes of zeros at a time. Where the filesystem does not take O_DIRECT
// (tmpfs) it fails with *supported = false, and the caller opens the file
// the ordinary way.
Status OpenDirectLogFile(const std::string& path, size_t preallocate, std::unique_ptr<WritableFile>* out,
                         bool* supported);

}  // namespace parendb
