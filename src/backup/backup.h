// `parendb backup`: an online backup of a running server (or of a data
// directory opened here) into a new directory, which a server then opens
// as the database was when the backup finished copying its checkpoint.
#pragma once

#include <string>

#include "client/connection.h"

namespace parendb {

struct BackupOptions {
  ChannelOptions channel;
  std::string dest;      // must not exist, or be an empty directory
  int window = 2;        // pieces asked for before the first arrives
  // Bytes per second at most (0: as fast as it goes), so that a backup
  // leaves the server's cores, memory bandwidth and disk to its clients
  // (docs/operating.md has the measurements behind the default).
  int64_t max_rate_bytes = int64_t{25} << 20;
};

// Returns the process exit code: 0 done (the files are durable), 1 failed
// (nothing is left in dest but what was there before: an empty directory).
int RunBackup(const BackupOptions& options);

}  // namespace parendb
