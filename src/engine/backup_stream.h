// A running online backup: the bytes of a data directory that would open
// as the database did while the backup ran. A data directory's owner makes
// them (datadir/backup_source.h); sessions hand them out with (backup next).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace parendb {

class BackupStream {
 public:
  virtual ~BackupStream() = default;
  // Appends at least `at_least` bytes of one file to *bytes (fewer at a
  // file's end) and names the file (a bare name: "checkpoint-….ckpt",
  // "wal-….log"); the pieces of a file come in order, files one after
  // another. False when every file is complete (or on error, in *status).
  virtual bool Next(size_t at_least, std::string* file, std::string* bytes, Status* status) = 0;
  // The checkpoint's lsn (every commit acknowledged before the backup
  // began is at or before it), the last lsn in the copy, and what went in.
  virtual uint64_t checkpoint_lsn() const = 0;
  virtual uint64_t last_lsn() const = 0;
  virtual int64_t documents() const = 0;
  virtual uint64_t log_records() const = 0;
};

}  // namespace parendb
