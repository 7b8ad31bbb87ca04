// `parendb console`: the interactive s-expression prompt, its scripted form
// when stdin is not a terminal (one response line per statement), and
// --file SCRIPT.
#pragma once

#include <parendb/parendb.h>

namespace parendb {

struct ConsoleOptions {
  bool pretty = false;         // pretty-print JSON responses
  std::string history_file;    // empty: ~/.parendb_history
  std::string file;            // --file: run this script, then exit
  bool stop_on_error = false;  // --file: stop at the first (error …), exit 1
};

// Runs against an embedded database. Returns the process exit code.
int RunConsole(Database* db, const ConsoleOptions& options);

// Runs against a server at "host:port" (authenticating first when a
// password is given). Returns the process exit code.
int RunRemoteConsole(const std::string& address, const std::string& password, const ConsoleOptions& options);

}  // namespace parendb
