// `parendb`: the command-line entry point. Subcommands live in their own
// folders; this file only parses the command line and dispatches.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <spdlog/spdlog.h>

#include <parendb/parendb.h>

#include "api/engine_options.h"
#include "backup/backup.h"
#include "client/cluster_command.h"
#include "console/console.h"
#include "datadir/data_dir.h"
#include "import_export/import_export.h"
#include "metrics/http_server.h"
#include "net/server.h"
#include "raft/cluster_node.h"

namespace {

constexpr const char* kDefaultDataDir = "parendb-data";

void Usage(std::FILE* out) {
  std::fprintf(out,
               "ParenDB %s — a document database queried in s-expressions\n"
               "\n"
               "Usage:\n"
               "  parendb serve [options]\n"
               "      Serves the database over TCP (default 127.0.0.1:7420) until SIGINT or\n"
               "      SIGTERM; the first signal finishes in-flight commits, closes open\n"
               "      transactions, checkpoints and exits 0; a second exits at once.\n"
               "      With --cluster, one node of a replicated cluster (see below).\n"
               "  parendb console [--data DIR | --memory | --connect HOST:PORT] [options]\n"
               "      An interactive prompt, on an embedded database or (--connect) a server.\n"
               "      When stdin is not a terminal it reads statements and prints one\n"
               "      response per line; --file SCRIPT runs a file (--stop-on-error: stop at\n"
               "      the first error, exit status 1).\n"
               "  parendb import --coll C [FILE] [--data DIR | --connect ADDRESS] [options]\n"
               "      Loads JSON Lines (one object per line) or one JSON array of objects from\n"
               "      FILE (default: stdin) into collection C, in transactions of --batch\n"
               "      documents sent without waiting for each other. A bad document stops the\n"
               "      import with its line number (--skip-bad skips and counts it); a batch is\n"
               "      applied whole or not at all. Ctrl-C stops after the batches already\n"
               "      sent. Exit status: 0 done, 1 stopped by an error, 130 interrupted.\n"
               "  parendb export --coll C [--out FILE] [--data DIR | --connect ADDRESS]\n"
               "  parendb export --all --out DIR [--data DIR | --connect ADDRESS]\n"
               "      Writes collection C (or, with --all, every collection to DIR/C.jsonl) as\n"
               "      JSON Lines in _id order, from one consistent snapshot (a read-only\n"
               "      transaction; writers do not wait for it), streamed in pages.\n"
               "  parendb backup DEST [--connect ADDRESS | --data DIR]\n"
               "      An online backup of a running server into DEST (a new or empty directory):\n"
               "      a checkpoint of the moment it begins and the log committed while that was\n"
               "      copied, so DEST opens (parendb serve --data DEST) as the database was then.\n"
               "      Commits go on meanwhile. Files appear in DEST only once every one of them\n"
               "      is complete and durable; a failed backup leaves DEST empty. Exit status:\n"
               "      0 done, 1 failed.\n"
               "  parendb cluster status|add ID HOST:PORT|remove ID|transfer-leader [ID]\n"
               "                  --connect HOST:PORT [--password-file F]\n"
               "      A cluster's members: status prints (cluster); add makes node ID (started\n"
               "      with --join, its Raft address HOST:PORT) a voting member once it has\n"
               "      caught up; remove takes one out; transfer-leader hands the leadership to\n"
               "      ID (or any up-to-date node). Changes go to the leader (a not-leader answer\n"
               "      is followed once). Exit status: 0 done, 1 refused or failed.\n"
               "  parendb doctor DIR [--salvage]\n"
               "      Explains a data directory: its checkpoint, log segments, records, and what\n"
               "      opening it would recover. --salvage cuts the log at its first damaged\n"
               "      record so the valid prefix opens (the records after it are lost).\n"
               "  parendb version\n"
               "  parendb --help\n"
               "\n"
               "Database options (serve, console):\n"
               "  --data DIR         data directory (default: ./%s)\n"
               "  --memory           keep everything in memory; nothing is written\n"
               "  --sync MODE        when (ok committed) is sent: full (default; after fdatasync,\n"
               "                     a crash loses nothing acknowledged) or async (after write();\n"
               "                     a machine crash loses at most --sync-interval of commits)\n"
               "  --sync-interval MS how often async mode syncs the log (default 100)\n"
               "  --wal-direct-io on|off  full mode: write the log past the page cache, one write\n"
               "                     that is also the sync (default on, where the filesystem allows)\n"
               "  --checkpoint-mb N  write a checkpoint after N MiB of log, or after as much\n"
               "                     log as the last checkpoint's size if that is more (default 256)\n"
               "  --lock-timeout MS  default wait of (acquire T) before lock-timeout (default 5000)\n"
               "  --slow-transaction-ms MS  log (as a warning) every transaction that held its\n"
               "                     locks MS ms or longer: its name, client, lock hold and wait\n"
               "                     times, how it ended, its statements (default 0: off)\n"
               "  --max-statement-bytes N   largest statement or document (default 16777216)\n"
               "  --max-depth N      deepest nesting (default 256)\n"
               "  --max-transactions N      live transactions per connection (default 1024)\n"
               "  --max-selections N        selections per transaction (default 4096)\n"
               "\n"
               "Server options (serve):\n"
               "  --bind ADDR        address to listen on (default 127.0.0.1)\n"
               "  --port N           TCP port (default 7420)\n"
               "  --socket PATH      also listen on a Unix-domain socket at PATH, for clients\n"
               "                     on this host (a stale socket file there is replaced; its\n"
               "                     access is the file's: mind the directory's permissions)\n"
               "  --threads N        I/O threads (default: the number of cores; with 2 cores\n"
               "                     shared with the clients, 1 is often faster)\n"
               "  --password-file F  require (auth \"password\") with the password in F first\n"
               "  --insecure         allow a non-loopback --bind without a password\n"
               "  --max-connections N       (default 4096)\n"
               "  --max-output-mb N  unsent responses per connection before it stops reading\n"
               "                     (default 16)\n"
               "  --max-input-mb N   unfinished input buffered across all connections; past it\n"
               "                     the connections holding the most are answered (error\n"
               "                     limit ...) and closed, largest first (default 1024)\n"
               "  --idle-timeout S   close connections idle for S seconds (default 0: never)\n"
               "  --input-timeout S  an unfinished statement must arrive whole within S seconds\n"
               "                     of its first byte, or (error limit ...) and a close (a\n"
               "                     client trickling bytes is never idle; default 0: no limit)\n"
               "  --metrics-port N   also serve GET /metrics (Prometheus's text format) over\n"
               "                     HTTP on port N (default: off); docs/operating.md lists them\n"
               "  --metrics-bind ADDR  address for --metrics-port (default: --bind's)\n"
               "  --log-level L      trace, debug, info (default), warn, error\n"
               "  --config FILE      read options from FILE: one \"name value\" per line, names\n"
               "                     as above without the dashes (--port 7420 is \"port 7420\");\n"
               "                     the command line wins; # starts a comment\n"
               "\n"
               "Cluster options (serve; docs/replication.md):\n"
               "  --cluster ID=HOST:PORT,...  replicate through Raft with these nodes (3 or 5;\n"
               "                     each entry a node's Raft address, the same list on every\n"
               "                     node). A fresh set of data directories bootstraps the\n"
               "                     cluster; a used one rejoins it. Without it: standalone\n"
               "  --node-id ID       this node's entry in --cluster (it binds that address)\n"
               "  --join             a new node for a running cluster (or one that lost its data\n"
               "                     directory and was removed): it does not bootstrap,\n"
               "                     it waits until the leader adds it with (cluster add ID\n"
               "                     \"HOST:PORT\") (or parendb cluster add) and catches up\n"
               "  --advertise HOST:PORT  the client address other nodes name in not-leader\n"
               "                     answers and ask read indexes at (default: --bind:--port)\n"
               "  --election-timeout MS  a follower that hears no leader for MS to 2*MS ms\n"
               "                     starts an election; a leader that hears no majority for\n"
               "                     MS steps down (default 1000)\n"
               "  --heartbeat MS     the leader's heartbeat interval (default 100)\n"
               "  --snapshot-entries N  take a snapshot (a checkpoint) after N Raft entries and\n"
               "                     drop the log before it (default 65536)\n"
               "  --snapshot-timeout MS  the leader resends a snapshot a follower has not\n"
               "                     installed within MS ms (default 10000)\n"
               "  In a cluster --sync, --sync-interval and --checkpoint-mb do not apply: every\n"
               "  commit is on a majority's disk before it is acknowledged.\n"
               "\n"
               "Import, export and backup options:\n"
               "  --coll C           the collection\n"
               "  --connect HOST:PORT | unix:PATH   a running server (else --data, opened here)\n"
               "  --password-file F  with --connect: authenticate first\n"
               "  --batch N          import: documents per transaction (default 1000)\n"
               "  --connections N    import with --connect: connections, batches going round\n"
               "                     them (default 2: one is evaluated while another syncs);\n"
               "                     with 1, batches commit in input order: documents without\n"
               "                     _id are numbered in it, and of two with one _id the later\n"
               "                     is the bad one (with more, whichever commits second)\n"
               "  --create           import: make the collection first (fine if it exists)\n"
               "  --skip-bad         import: skip bad documents (each named on stderr) and go on\n"
               "  --out FILE|DIR     export: where to write (default stdout; a directory with --all)\n"
               "  --all              export: every collection\n"
               "  --page N           export: documents per read (default 1000)\n"
               "  --max-rate MB      backup: copy at most MB MiB per second (default 25; 0: as\n"
               "                     fast as it goes). A backup at full speed takes cores and\n"
               "                     memory bandwidth from the server's clients; the backup runs\n"
               "                     at the lowest CPU priority on both sides regardless\n"
               "  Progress (documents, rate, ETA) is drawn on stderr when it is a terminal;\n"
               "  otherwise only the summary line is printed there.\n"
               "\n"
               "Console options:\n"
               "  --connect HOST:PORT       talk to a server instead of an embedded database\n"
               "  --connect unix:PATH       ... over its Unix-domain socket (--socket)\n"
               "  --password-file F         with --connect: authenticate first\n"
               "  --pretty           pretty-print JSON responses (console; :pretty on|off)\n"
               "  --history FILE     console history file (default: ~/.parendb_history)\n"
               "  --file SCRIPT, -f SCRIPT  run the statements in SCRIPT, print each answer, exit\n"
               "  --stop-on-error    with --file: run one statement at a time and stop at the\n"
               "                     first (error …), naming its line; exit status 1\n"
               "  At a terminal: Tab completes statement, collection and command names; Ctrl-C\n"
               "  drops the entry being typed and, connected to a server, ends a waiting\n"
               "  acquire; :timing on prints each statement's time; errors are red (not when\n"
               "  stdout is not a terminal, or NO_COLOR is set).\n",
               PARENDB_VERSION, kDefaultDataDir);
}

bool ParseNumber(const std::string& text, int64_t* out) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

// Reads "name value" lines into "--name value" arguments.
bool ReadConfig(const std::string& path, std::vector<std::string>* args) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string name, value;
    if (!(words >> name)) continue;
    if (name.back() == '=') name.pop_back();
    args->push_back("--" + name);
    if (words >> value) {
      if (value == "=" && !(words >> value)) value.clear();
      args->push_back(value);
    }
  }
  return true;
}

bool ReadPassword(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::getline(in, *out);
  while (!out->empty() && (out->back() == '\r' || out->back() == ' ')) out->pop_back();
  return !out->empty();
}

struct Settings {
  parendb::Options db;
  parendb::ServerOptions server;
  parendb::ConsoleOptions console;
  std::string connect;
  std::string password_file;
  std::string log_level = "info";
  bool insecure = false;
  int metrics_port = -1;     // -1: no metrics endpoint
  std::string metrics_bind;  // empty: server.bind
  std::vector<std::string> positional;  // arguments that are not options
  parendb::ImportOptions import;
  parendb::ExportOptions exporting;
  int64_t backup_max_rate_mb = -1;  // -1: the default
  // serve --cluster (src/raft)
  std::string cluster;   // ID=HOST:PORT,...
  int64_t node_id = 0;
  std::string advertise;  // empty: --bind:--port
  bool join = false;
  int64_t election_timeout_ms = 1000;
  int64_t heartbeat_ms = 100;
  int64_t snapshot_entries = 65536;
  int64_t snapshot_timeout_ms = 10000;
};

[[noreturn]] void Fail(const std::string& msg) {
  std::fprintf(stderr, "parendb: %s (see parendb --help)\n", msg.c_str());
  std::exit(2);
}

void ParseOptions(std::vector<std::string> args, Settings* s) {
  // A --config file's options come first, so the command line wins.
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--config") {
      std::vector<std::string> from_file;
      if (!ReadConfig(args[i + 1], &from_file)) Fail("cannot read config file " + args[i + 1]);
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      args.insert(args.begin(), from_file.begin(), from_file.end());
      break;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) Fail(a + " needs a value");
      return args[++i];
    };
    auto number = [&](int64_t min, int64_t max) -> int64_t {
      int64_t n = 0;
      const std::string& v = value();
      if (!ParseNumber(v, &n) || n < min || n > max) Fail("bad value " + v + " for " + a);
      return n;
    };
    if (a == "--help" || a == "-h") {
      Usage(stdout);
      std::exit(0);
    } else if (a == "--data") {
      s->db.data_dir = value();
    } else if (a == "--memory") {
      s->db.data_dir.clear();
    } else if (a == "--sync") {
      s->db.sync_mode = value();
      if (s->db.sync_mode != "full" && s->db.sync_mode != "async") Fail("--sync is full or async");
    } else if (a == "--wal-direct-io") {
      std::string v = value();
      if (v != "on" && v != "off") Fail("--wal-direct-io is on or off");
      s->db.log_direct_io = v == "on";
    } else if (a == "--sync-interval") {
      s->db.sync_interval_ms = number(1, 3600000);
    } else if (a == "--checkpoint-mb") {
      s->db.checkpoint_bytes = static_cast<uint64_t>(number(1, 1 << 20)) << 20;
    } else if (a == "--lock-timeout") {
      s->db.lock_timeout_ms = number(0, INT32_MAX);
    } else if (a == "--slow-transaction-ms") {
      s->db.slow_transaction_ms = number(0, INT32_MAX);
    } else if (a == "--max-statement-bytes") {
      s->db.max_statement_bytes = static_cast<uint64_t>(number(64, INT64_C(1) << 40));
    } else if (a == "--max-depth") {
      s->db.max_depth = static_cast<int>(number(1, 100000));
    } else if (a == "--max-transactions") {
      s->db.max_transactions_per_session = static_cast<uint32_t>(number(1, UINT32_MAX));
    } else if (a == "--max-selections") {
      s->db.max_selections_per_transaction = static_cast<uint32_t>(number(1, UINT32_MAX));
    } else if (a == "--bind") {
      s->server.bind = value();
    } else if (a == "--metrics-port") {
      s->metrics_port = static_cast<int>(number(0, 65535));
    } else if (a == "--metrics-bind") {
      s->metrics_bind = value();
    } else if (a == "--port") {
      s->server.port = static_cast<uint16_t>(number(0, 65535));
    } else if (a == "--socket") {
      s->server.unix_socket = value();
    } else if (a == "--threads") {
      s->server.threads = static_cast<int>(number(1, 1024));
    } else if (a == "--password-file") {
      s->password_file = value();
    } else if (a == "--insecure") {
      s->insecure = true;
    } else if (a == "--max-connections") {
      s->server.max_connections = static_cast<size_t>(number(1, 1000000));
    } else if (a == "--max-output-mb") {
      s->server.max_output_bytes = static_cast<size_t>(number(1, 1 << 20)) << 20;
    } else if (a == "--max-input-mb") {
      s->server.max_input_bytes = static_cast<size_t>(number(1, 1 << 24)) << 20;
    } else if (a == "--input-timeout") {
      s->server.input_timeout = std::chrono::seconds(number(0, INT32_MAX));
    } else if (a == "--idle-timeout") {
      s->server.idle_timeout = std::chrono::seconds(number(0, INT32_MAX));
    } else if (a == "--log-level") {
      s->log_level = value();
    } else if (a == "--connect") {
      s->connect = value();
    } else if (a == "--pretty") {
      s->console.pretty = true;
    } else if (a == "--history") {
      s->console.history_file = value();
    } else if (a == "--file" || a == "-f") {
      s->console.file = value();
    } else if (a == "--stop-on-error") {
      s->console.stop_on_error = true;
    } else if (a == "--coll") {
      s->import.collection = s->exporting.collection = value();
    } else if (a == "--batch") {
      s->import.batch = number(1, 1000000);
    } else if (a == "--connections") {
      s->import.connections = number(1, 64);
    } else if (a == "--create") {
      s->import.create = true;
    } else if (a == "--skip-bad") {
      s->import.skip_bad = true;
    } else if (a == "--out") {
      s->exporting.out = value();
    } else if (a == "--all") {
      s->exporting.all = true;
    } else if (a == "--page") {
      s->exporting.page = number(1, 1000000);
    } else if (a == "--cluster") {
      s->cluster = value();
    } else if (a == "--node-id") {
      s->node_id = number(1, INT64_MAX);
    } else if (a == "--join") {
      s->join = true;
    } else if (a == "--advertise") {
      s->advertise = value();
    } else if (a == "--election-timeout") {
      s->election_timeout_ms = number(50, 600000);
    } else if (a == "--heartbeat") {
      s->heartbeat_ms = number(10, 60000);
    } else if (a == "--snapshot-entries") {
      s->snapshot_entries = number(16, UINT32_MAX);
    } else if (a == "--snapshot-timeout") {
      s->snapshot_timeout_ms = number(100, 3600000);
    } else if (a == "--max-rate") {
      s->backup_max_rate_mb = number(0, 1 << 20);
    } else if (a == "-" || a.rfind("--", 0) != 0) {
      s->positional.push_back(a);
    } else {
      Fail("unknown option " + a);
    }
  }
  if (!s->password_file.empty() && !ReadPassword(s->password_file, &s->server.password)) {
    Fail("cannot read a password from " + s->password_file);
  }
}

std::unique_ptr<parendb::Database> OpenDatabase(const parendb::Options& o) {
  std::string error;
  auto db = parendb::Database::Open(o, &error);
  if (!db) {
    std::fprintf(stderr, "parendb: cannot open %s: %s\n", o.data_dir.empty() ? "the in-memory database" : o.data_dir.c_str(),
                 error.c_str());
    std::exit(1);
  }
  return db;
}

// serve --cluster: this node's data directory, Raft and engine.
std::unique_ptr<parendb::ClusterNode> OpenClusterNode(const Settings& s, const parendb::Options& db_options) {
  if (s.db.data_dir.empty()) Fail("--cluster needs a data directory (not --memory)");
  parendb::ClusterOptions co;
  parendb::Status st = parendb::ParseClusterMembers(s.cluster, &co.members);
  if (!st.ok()) Fail(st.message());
  if (s.node_id == 0) Fail("--cluster needs --node-id (this node's entry)");
  co.dir = s.db.data_dir;
  co.node_id = static_cast<uint64_t>(s.node_id);
  co.join = s.join;
  co.advertise = s.advertise.empty() ? s.server.bind + ":" + std::to_string(s.server.port) : s.advertise;
  co.password = s.server.password;
  co.engine = parendb::ToEngineOptions(db_options);
  co.election_timeout_ms = static_cast<unsigned>(s.election_timeout_ms);
  co.heartbeat_ms = static_cast<unsigned>(s.heartbeat_ms);
  co.snapshot_threshold = static_cast<unsigned>(s.snapshot_entries);
  co.snapshot_trailing = static_cast<unsigned>(std::max<int64_t>(16, s.snapshot_entries / 8));
  co.install_snapshot_timeout_ms = static_cast<unsigned>(s.snapshot_timeout_ms);
  co.on_event = [](const std::string& line) { spdlog::info("cluster: {}", line); };
  std::unique_ptr<parendb::ClusterNode> node;
  st = parendb::ClusterNode::Open(co, &node);
  if (!st.ok()) {
    std::fprintf(stderr, "parendb: cannot start cluster node %lld in %s: %s\n", static_cast<long long>(s.node_id),
                 s.db.data_dir.c_str(), st.message().c_str());
    std::exit(1);
  }
  return node;
}

int Serve(const Settings& s) {
  auto level = spdlog::level::from_str(s.log_level);
  if (level == spdlog::level::off && s.log_level != "off") Fail("unknown --log-level " + s.log_level);
  spdlog::set_level(level);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(s.server.bind, ec);
  if (ec) Fail("bad --bind address " + s.server.bind);
  if (!address.is_loopback() && s.server.password.empty() && !s.insecure) {
    std::fprintf(stderr,
                 "parendb: refusing to listen on non-loopback address %s without a password; "
                 "give --password-file, or --insecure to allow it\n",
                 s.server.bind.c_str());
    return 2;
  }
  auto started = std::chrono::steady_clock::now();
  parendb::Options db_options = s.db;
  db_options.on_checkpoint = [](bool ok, const std::string& message) {
    if (ok) {
      spdlog::info("{}", message);
    } else {
      spdlog::error("{}", message);
    }
  };
  db_options.on_progress = [](const std::string& line) { spdlog::info("{}", line); };
  db_options.on_slow_transaction = [](const std::string& line) { spdlog::warn("{}", line); };
  std::unique_ptr<parendb::Database> db;
  std::unique_ptr<parendb::ClusterNode> node;
  parendb::Engine* engine = nullptr;
  parendb::ServerOptions so = s.server;
  if (!s.cluster.empty()) {
    node = OpenClusterNode(s, db_options);
    engine = node->engine();
  } else {
    db = OpenDatabase(db_options);
    engine = db->engine();
  }
  double open_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  so.handle_signals = true;
  parendb::Server server(engine, so);
  std::string error;
  if (!server.Start(&error)) {
    spdlog::error("{}", error);
    return 1;
  }
  std::unique_ptr<parendb::MetricsServer> metrics;
  if (s.metrics_port >= 0) {
    engine->EnableMetrics();
    metrics = std::make_unique<parendb::MetricsServer>(
        engine, s.metrics_bind.empty() ? so.bind : s.metrics_bind, static_cast<uint16_t>(s.metrics_port));
    if (!metrics->Start(&error)) {
      spdlog::error("{}", error);
      return 1;
    }
    spdlog::info("metrics at http://{}:{}/metrics", s.metrics_bind.empty() ? so.bind : s.metrics_bind, metrics->port());
  }
  int threads = so.threads > 0 ? so.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  spdlog::info(
      "ParenDB {} listening on {}:{}{}{} data={} (opened in {:.2f}s) sync={} threads={} auth={} max-connections={} "
      "lock-timeout={}ms slow-transaction={}ms max-statement-bytes={} max-depth={} max-input-mb={} input-timeout={}s",
      PARENDB_VERSION, so.bind, server.port(), so.unix_socket.empty() ? "" : " and unix:", so.unix_socket,
      s.db.data_dir.empty() ? "memory" : s.db.data_dir + (node ? " (cluster node " + std::to_string(s.node_id) + ")" : ""), open_s,
      s.db.sync_mode, threads, so.password.empty() ? "off" : "on", so.max_connections, s.db.lock_timeout_ms,
      s.db.slow_transaction_ms, s.db.max_statement_bytes, s.db.max_depth, so.max_input_bytes >> 20,
      std::chrono::duration_cast<std::chrono::seconds>(so.input_timeout).count());
  server.Run();
  if (metrics) metrics->Stop();
  spdlog::info(node ? "all connections closed; leaving the cluster's loop and exiting"
                    : "all connections closed; writing a checkpoint and exiting");
  db.reset();
  node.reset();
  spdlog::info("bye");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    Usage(args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "version" || args[0] == "--version") {
    std::printf("parendb %s\n", PARENDB_VERSION);
    return 0;
  }
  std::string command = args[0];
  if (command == "doctor") {
    if (args.size() < 2 || args[1].rfind("--", 0) == 0) Fail("doctor needs a data directory");
    bool salvage = args.size() > 2 && args[2] == "--salvage";
    std::string report;
    int rc = parendb::RunDoctor(args[1], salvage, parendb::FileSystem::Default(), &report);
    std::fputs(report.c_str(), stdout);
    return rc;
  }
  Settings s;
  s.db.data_dir = kDefaultDataDir;
  ParseOptions(std::vector<std::string>(args.begin() + 1, args.end()), &s);
  if (command == "cluster") return parendb::RunClusterCommand(s.positional, s.connect, s.server.password);
  if (command != "import" && command != "backup" && !s.positional.empty()) Fail("unexpected argument " + s.positional[0]);
  if (command == "serve") return Serve(s);
  if (command == "import" || command == "export" || command == "backup") {
    parendb::ChannelOptions channel{s.connect, s.server.password, s.db};
    channel.database.checkpoint_on_close = true;
    if (command == "backup") {
      if (s.positional.size() != 1) Fail("backup needs one destination directory: parendb backup DEST --connect HOST:PORT");
      parendb::BackupOptions backup;
      backup.channel = channel;
      backup.channel.database.checkpoint_on_close = false;  // reading: leave the source as it was
      backup.dest = s.positional[0];
      if (s.backup_max_rate_mb >= 0) backup.max_rate_bytes = s.backup_max_rate_mb << 20;
      return parendb::RunBackup(backup);
    }
    if (command == "import") {
      if (s.positional.size() > 1) Fail("import reads one file (or stdin)");
      if (s.import.collection.empty()) Fail("import needs --coll C");
      s.import.channel = channel;
      if (!s.positional.empty()) s.import.file = s.positional[0];
      return parendb::RunImport(s.import);
    }
    if (s.exporting.all == !s.exporting.collection.empty()) Fail("export needs --coll C or --all");
    if (s.exporting.all && s.exporting.out.empty()) Fail("export --all needs --out DIR");
    s.exporting.channel = channel;
    return parendb::RunExport(s.exporting);
  }
  if (command == "console") {
    if (!s.connect.empty()) return parendb::RunRemoteConsole(s.connect, s.server.password, s.console);
    auto db = OpenDatabase(s.db);
    return parendb::RunConsole(db.get(), s.console);
  }
  Fail("unknown command " + command);
}
