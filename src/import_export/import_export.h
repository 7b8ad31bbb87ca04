// `parendb import` and `parendb export`: a collection in and out as JSON
// Lines, against a server or a data directory (client/connection.h).
#pragma once

#include <cstdint>
#include <string>

#include "client/connection.h"

namespace parendb {

struct ImportOptions {
  ChannelOptions channel;
  std::string collection;
  std::string file;          // empty or "-": stdin
  int64_t batch = 1000;      // documents per transaction
  int64_t window = 4;        // batches sent on a connection before the first one's answers are read
  // Connections to a server, batches going round them: while one waits for
  // its commit's sync, the next is evaluated. Documents without _id are
  // numbered in input order only with 1.
  int64_t connections = 2;
  bool create = false;       // make the collection first (fine if it exists)
  bool skip_bad = false;     // skip and count bad documents instead of stopping
};

// Returns the process exit code: 0 done, 1 stopped by an error (the
// message names the line), 130 interrupted by SIGINT (the batches already
// sent finish; the summary says which lines are in).
int RunImport(const ImportOptions& options);

struct ExportOptions {
  ChannelOptions channel;
  std::string collection;  // empty with all
  bool all = false;        // every collection, one file each in out (a directory)
  std::string out;         // file; empty or "-": stdout
  int64_t page = 1000;     // documents per (readall … (skip) (limit))
};

int RunExport(const ExportOptions& options);

}  // namespace parendb
