// `parendb`: the command-line entry point. Subcommands live in their own
// folders; this file only parses the command line and dispatches.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <parendb/parendb.h>

#include "console/console.h"
#include "wal/data_dir.h"

namespace {

constexpr const char* kDefaultDataDir = "parendb-data";

void Usage(std::FILE* out) {
  std::fprintf(out,
               "ParenDB %s — a document database queried in s-expressions\n"
               "\n"
               "Usage:\n"
               "  parendb console [--data DIR | --memory] [--pretty] [--history FILE]\n"
               "      An interactive prompt on an embedded database. When stdin is not a\n"
               "      terminal it reads statements and prints one response per line.\n"
               "  parendb doctor DIR [--salvage]\n"
               "      Explains a data directory: its checkpoint, log segments, records, and what\n"
               "      opening it would recover. --salvage cuts the log at its first damaged\n"
               "      record so the valid prefix opens (the records after it are lost).\n"
               "  parendb version\n"
               "  parendb --help\n"
               "\n"
               "Options:\n"
               "  --data DIR         data directory (default: ./%s)\n"
               "  --memory           keep everything in memory; nothing is written\n"
               "  --pretty           pretty-print JSON responses (console; :pretty on|off)\n"
               "  --history FILE     console history file (default: ~/.parendb_history)\n"
               "  --sync MODE        when (ok committed) is sent: full (default; after fdatasync,\n"
               "                     a crash loses nothing acknowledged) or async (after write();\n"
               "                     a machine crash loses at most --sync-interval of commits)\n"
               "  --sync-interval MS how often async mode syncs the log (default 100)\n"
               "  --checkpoint-mb N  write a checkpoint after N MiB of log (default 256)\n"
               "  --lock-timeout MS  default wait of (acquire T) before lock-timeout (default 5000)\n"
               "  --max-statement-bytes N   largest statement or document (default 16777216)\n"
               "  --max-depth N      deepest nesting (default 256)\n",
               PARENDB_VERSION, kDefaultDataDir);
}

bool ParseNumber(const char* text, int64_t* out) {
  char* end = nullptr;
  long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    Usage(stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "version" || args[0] == "--version") {
    std::printf("parendb %s\n", PARENDB_VERSION);
    return 0;
  }
  std::string command = args[0];
  if (command == "doctor") {
    if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
      std::fprintf(stderr, "parendb: doctor needs a data directory (see parendb --help)\n");
      return 2;
    }
    bool salvage = args.size() > 2 && args[2] == "--salvage";
    std::string report;
    int rc = parendb::RunDoctor(args[1], salvage, parendb::FileSystem::Default(), &report);
    std::fputs(report.c_str(), stdout);
    return rc;
  }
  parendb::Options options;
  options.data_dir = kDefaultDataDir;
  parendb::ConsoleOptions console;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "parendb: %s needs a value\n", name);
        std::exit(2);
      }
      return args[++i].c_str();
    };
    int64_t n = 0;
    if (a == "--help" || a == "-h") {
      Usage(stdout);
      return 0;
    } else if (a == "--data") {
      options.data_dir = value("--data");
    } else if (a == "--memory") {
      options.data_dir.clear();
    } else if (a == "--pretty") {
      console.pretty = true;
    } else if (a == "--history") {
      console.history_file = value("--history");
    } else if (a == "--sync") {
      options.sync_mode = value("--sync");
    } else if (a == "--sync-interval" && ParseNumber(value("--sync-interval"), &n) && n > 0) {
      options.sync_interval_ms = n;
    } else if (a == "--checkpoint-mb" && ParseNumber(value("--checkpoint-mb"), &n) && n > 0) {
      options.checkpoint_bytes = static_cast<uint64_t>(n) << 20;
    } else if (a == "--lock-timeout" && ParseNumber(value("--lock-timeout"), &n)) {
      options.lock_timeout_ms = n;
    } else if (a == "--max-statement-bytes" && ParseNumber(value("--max-statement-bytes"), &n) && n > 0) {
      options.max_statement_bytes = static_cast<uint64_t>(n);
    } else if (a == "--max-depth" && ParseNumber(value("--max-depth"), &n) && n > 0 && n < 100000) {
      options.max_depth = static_cast<int>(n);
    } else {
      std::fprintf(stderr, "parendb: unknown or invalid option %s (see parendb --help)\n", a.c_str());
      return 2;
    }
  }
  if (command == "console") {
    std::string error;
    auto db = parendb::Database::Open(options, &error);
    if (!db) {
      std::fprintf(stderr, "parendb: cannot open %s: %s\n", options.data_dir.c_str(), error.c_str());
      return 1;
    }
    return parendb::RunConsole(db.get(), console);
  }
  std::fprintf(stderr, "parendb: unknown command %s (see parendb --help)\n", command.c_str());
  return 2;
}
