// ParenDB embedded API.
//
// Open a database, make sessions, send them statement text, get typed
// responses. This is the same evaluator the TCP server and the console use,
// so a response's text() is exactly the line a socket client would receive.
//
//   std::string error;
//   auto db = parendb::Database::Open(parendb::Options{}, &error);  // in memory
//   auto s = db->NewSession();
//   for (auto& r : s->Execute("(mkcoll people)(colls)")) std::puts(r.text().c_str());
//
// Thread safety: a Database may be shared by any number of threads; each
// Session is used by one thread at a time (use one session per thread).
// Execute blocks while an acquire waits for locks held by other sessions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace parendb {

struct Options {
  // Where the database lives. Empty: in memory, gone when closed. One
  // process at a time may open a directory.
  std::string data_dir;
  // When (ok committed) is sent (docs/durability.md):
  //   "full"  after the commit's log record is on stable storage (fdatasync);
  //           a crash of any kind loses no acknowledged commit.
  //   "async" after the record is written to the operating system; the log
  //           is synced every sync_interval_ms. A crash of ParenDB loses
  //           nothing acknowledged; a crash of the machine or power loss
  //           loses at most the last interval's commits.
  std::string sync_mode = "full";
  int64_t sync_interval_ms = 100;
  // "full": write the log past the page cache (O_DIRECT), each group of
  // commits in one write that is also its sync, where the filesystem
  // allows (docs/wal.md). false: write() and fdatasync().
  bool log_direct_io = true;
  // A checkpoint is written once the log grows by this much since the last
  // one, or by the last checkpoint's size if that is larger (so checkpoints
  // never write more than the log does).
  uint64_t checkpoint_bytes = 256u << 20;
  uint64_t log_segment_bytes = 64u << 20;
  // Write a checkpoint when the database is closed (faster next open).
  bool checkpoint_on_close = true;
  // Told of every checkpoint written to data_dir — in the background, by
  // (checkpoint), at close — on the thread that wrote it: ok and a line
  // such as "checkpoint checkpoint-00000000000a2f31.ckpt: 120000 documents,
  // 131.2 MB in 0.84 s", or false and what failed. A failed background
  // checkpoint only leaves the log longer (the next one retries), so this
  // is how it gets noticed; the server logs these lines.
  std::function<void(bool ok, const std::string& message)> on_checkpoint;
  // Told of long work as it goes, one line at a time, on the thread doing
  // it: index builds (at mkindex, every 100,000 documents, and when done,
  // with entries, memory and time) and index rebuilds at open. The server
  // logs these lines.
  std::function<void(const std::string& line)> on_progress;
  // Transactions that held their locks for at least this many milliseconds
  // are described to on_slow_transaction when they end, on the thread of
  // their session: one line naming the transaction, how long it held its
  // locks and waited for them, how it ended, and its statements (each cut
  // at 120 bytes, at most 16 of them). 0 (the default): off, and sessions
  // keep nothing. The server logs these lines as warnings.
  int64_t slow_transaction_ms = 0;
  std::function<void(const std::string& line)> on_slow_transaction;
  // Largest statement or document, in bytes (larger: (error limit …)).
  uint64_t max_statement_bytes = 16u << 20;
  // Deepest nesting of lists or JSON (deeper: (error limit …)).
  int max_depth = 256;
  // How long an acquire without MILLIS waits before (error lock-timeout …).
  int64_t lock_timeout_ms = 5000;
  uint32_t max_transactions_per_session = 1024;
  uint32_t max_selections_per_transaction = 4096;
};

class Response {
 public:
  enum class Kind { kOk, kJson, kError };

  Response(Kind kind, std::string text, std::string error_code)
      : kind_(kind), text_(std::move(text)), error_code_(std::move(error_code)) {}

  Kind kind() const { return kind_; }
  bool ok() const { return kind_ != Kind::kError; }
  // The response line as sent on the wire, without the trailing newline:
  // "(ok committed)", "{\"_id\":1}", "(error stage \"…\")".
  const std::string& text() const { return text_; }
  // For errors, the code ("lock-timeout"); empty otherwise.
  const std::string& error_code() const { return error_code_; }

 private:
  Kind kind_;
  std::string text_;
  std::string error_code_;
};

class Evaluator;
class Engine;
class DataDir;
class FileSystem;

class Session {
 public:
  ~Session();  // closes the session's live transactions
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Executes every statement in `statements` (and the JSON documents that
  // follow create/updateall), returning one response per statement in order.
  // Line and column numbers in syntax errors count from the start of this
  // text. An unfinished statement at the end is (error syntax …).
  std::vector<Response> Execute(std::string_view statements);

  // The same, as the raw response lines (each ending in '\n').
  std::string ExecuteText(std::string_view statements);

 private:
  friend class Database;
  explicit Session(std::unique_ptr<Evaluator> evaluator);
  void Run(std::string_view statements);
  std::unique_ptr<Evaluator> evaluator_;
};

class Database {
 public:
  // Opens (creating if needed) the database described by options: loads
  // the newest checkpoint and replays the log after it. Returns null and
  // sets *error when it cannot (another process has the directory, damaged
  // files — the message names the file and offset).
  static std::unique_ptr<Database> Open(const Options& options, std::string* error);
  // The same over a given file layer (tests inject failing writes).
  static std::unique_ptr<Database> Open(const Options& options, FileSystem* fs, std::string* error);
  // Close every Session first. Writes a checkpoint (checkpoint_on_close).
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  std::unique_ptr<Session> NewSession();

  // The engine behind this database (for the server and tools in this repo).
  Engine* engine();

 private:
  Database() = default;
  std::unique_ptr<Engine> engine_;     // in memory
  std::unique_ptr<DataDir> data_dir_;  // on disk (owns its engine)
};

}  // namespace parendb
