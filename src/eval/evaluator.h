// The evaluator of one session: one connection's (or one embedded caller's) transactions and
// selections, and the five stages each transaction walks: open, select,
// acquire, read/write, commit or close.
//
// Bytes go in with Feed(); responses come out of output(), one line each, in
// statement order. When an acquire has to wait the session stops processing
// (later input stays buffered) until the lock manager decides; it then calls
// the wakeup hook from its own thread, and the owner calls Resume() on the
// session's thread. A session is used by one thread at a time.
#pragma once

#include <array>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "eval/statement.h"
#include "reader/reader.h"

namespace parendb {

struct WorkspaceEntry;

enum class ResponseKind : uint8_t { kOk, kJson, kError };

// Where one response sits in output().
struct ResponseMark {
  ResponseKind kind;
  ErrorCode code;
  size_t begin;  // offset of the line in output()
  size_t size;   // without the '\n'
};

class Evaluator {
 public:
  explicit Evaluator(Engine* engine);
  ~Evaluator();  // closes every live transaction
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Called (from any thread) when a blocked acquire has been decided.
  void SetWakeup(std::function<void()> wakeup) { wakeup_ = std::move(wakeup); }
  // Who this session serves ("127.0.0.1:53422"), named in the slow-transaction log.
  void SetPeer(std::string peer) { peer_ = std::move(peer); }
  // With a password set, the first statement must be (auth "…").
  void RequirePassword(std::string password);

  // Adds input and processes every complete statement it can — or, with an
  // output limit, until output() holds at least that many bytes; the rest
  // stays buffered until Feed is called again (with nothing, to go on).
  void Feed(std::string_view bytes);
  // 0 (the default): no limit. The server sets one so that a client that
  // sends faster than it reads cannot make its responses pile up.
  void SetOutputLimit(size_t bytes) { output_limit_ = bytes; }
  // Whether input is buffered that the output limit held back.
  bool HasBufferedInput() const { return reader_.buffered() > 0; }
  // Continues after the wakeup hook ran. Harmless when not blocked.
  void Resume();
  // Blocks the calling thread until a waiting acquire is decided, then
  // resumes (the embedded, synchronous use).
  void WaitAndResume();
  // End of input: an unfinished statement or a missing document becomes an
  // error response (embedded and console use; a socket just closes).
  void FinishInput();

  bool blocked() const { return pending_ != nullptr; }
  // Blocked on a commit's sync (milliseconds), not on locks (up to a timeout).
  bool waiting_for_commit() const { return pending_ != nullptr && pending_kind_ == WaitKind::kCommit; }
  // While an acquire waits, a little more input is still read, so that a
  // (cancel) sent after it can end the wait (see CancelWaitIfAsked).
  bool ReadsWhileBlocked() const {
    return pending_ != nullptr && pending_kind_ == WaitKind::kAcquire && reader_.buffered() < 4096;
  }
  // True while a statement or its JSON document is unfinished (the console
  // then prompts for a continuation line).
  bool NeedsMoreInput() { return awaiting_document_ || !reader_.OnlyBlankLeft(); }
  // True once the stream cannot go on (an oversized item whose end cannot
  // be found, or too many failed auth attempts); the owner drops it.
  bool must_close() const { return must_close_; }
  // Answers `why` (an error) and stops: the owner drops the stream after
  // sending it (the server, when a connection must go, e.g. its unfinished
  // input is the largest when the server's input budget is exceeded).
  void Abandon(const Status& why);

  std::string& output() { return out_; }
  std::vector<ResponseMark>& marks() { return marks_; }
  void ClearOutput() {
    out_.clear();
    marks_.clear();
  }

  Reader& reader() { return reader_; }
  size_t live_transactions() const { return txns_.size(); }
  // Statements parsed and compiled, not served from the statement cache
  // (a steady stream of the same transactions should add none).
  uint64_t statements_compiled() const { return statements_compiled_; }

  // Defined in evaluator_state.h (private to src/eval).
  struct Transaction;
  struct Selection;

 private:
  struct PendingWait;

 public:
  struct BackupJob;  // backup_statement.cc

 private:
  // kReadBarrier: a read-only acquire in a cluster, until this node has
  // caught up (ClusterRole::ReadBarrier); kSelectBarrier: the same for a
  // select of a collection this node does not have (yet?); kReadIndex:
  // (cluster read-index).
  enum class WaitKind { kAcquire, kCommit, kCatalog, kBackup, kReadBarrier, kSelectBarrier, kReadIndex };

  void Pump();
  void CancelWaitIfAsked();
  // Compiles tree_ and runs it; true when it compiled.
  bool ExecuteStatement();
  bool RunCachedStatement();
  void CountStatement();
  void FlushStatementCount();
  void Remember(bool compiled);
  // Runs stmt_; with metrics on, times it (to its answer, when it waits).
  void Dispatch(const char* doc, size_t doc_len, size_t doc_cap);
  void DispatchTimed(const char* doc, size_t doc_len, size_t doc_cap);
  // Slow-transaction logging (slow_transactions.cc): the next statement's
  // text is kept, handed to the transaction it belongs to, and a
  // transaction that held its locks too long is described when it ends.
  void CaptureStatementText();
  void DispatchNoted(const char* doc, size_t doc_len, size_t doc_cap);
  void NoteEnd(Transaction* t, bool committed);
  void Run(const char* doc, size_t doc_len, size_t doc_cap);
  void ObserveTiming(EngineMetrics* m, StatementKind kind, std::chrono::steady_clock::time_point start);

  // Statements.
  void Open();
  void Select(bool multi);
  void Acquire();
  void Create(const char* doc, size_t len, size_t cap);
  void ReadAll();
  void Read();
  // The window of readall/read: calls `each` with the index in s->docs of
  // every visible document past (skip N), at most (limit N) of them.
  template <class Each>
  void ForEachInWindow(Transaction* t, Selection* s, Each each);
  void Update();
  void UpdateAll(const char* doc, size_t len, size_t cap);
  void Delete();
  void Check();
  void Commit();
  void Close();
  void MakeCollection();
  void DropCollection();
  void Collections();
  void Cluster();  // cluster_statement.cc
  void ReadBarrier(Transaction* t);
  void CatchUpAndSelect(Transaction* t, bool multi);
  void Stats();
  void Checkpoint();
  void FinishCommit(Transaction* t, Status st);
  void Auth();

  // Acquire's second half, once the locks are held.
  void FinishAcquire(Transaction* t);
  // Binds every selection; *retry when a prediction missed (the acquire
  // then starts again, see selection_access.cc).
  Status Bind(Transaction* t, bool* retry);

  // How selections find and lock documents (selection_access.cc).
  void PlanAccess(Selection* s);
  void RequestLocks(Transaction* t);
  Status BindIndexed(Transaction* t, Selection* s, uint64_t ts, bool* retry);
  // After a missed prediction, with the locks let go: predicts again.
  void RedoPredictions(Transaction* t);
  void OrderAndLimit(Selection* s);
  // A document's keys in each index of c (empty: no indexes, or no doc).
  static std::vector<std::string> IndexKeys(const Collection* c, const DocView& doc);
  // A write of id from the keys `before` to `after` (empty: the document
  // is absent then): locks the keys it moves, checks unique indexes.
  Status NoteIndexWrite(Transaction* t, Collection* c, const DocId& id, const std::vector<std::string>& before,
                        const std::vector<std::string>& after, LockKind lock);
  Status CheckUnique(Transaction* t, Collection* c, const Index& index, const DocId& id, const std::string& key);

  // Index statements (index_statements.cc). mkindex and rmindex run on a
  // thread of their own (a build takes a while); the session waits as for
  // a commit.
  void MakeIndex();
  void DropIndex();
  void Indexes();
  void Explain();
  void Backup();  // backup_statement.cc
  void FinishBackup(Status st);
  void FinishCatalog(Status st);

  // The live collection named name (null: none) and its lock name, from
  // the session's cache.
  Collection* UseCollection(const std::string& name, ResourceId* lock_name);

  Transaction* FindTransaction(std::string_view name);
  Selection* FindSelection(std::string_view name);
  void AddSelection(std::unique_ptr<Selection> s);
  // Looks up T / S for the statement; on failure responds and returns null.
  Transaction* RequireTransaction(const std::string& name);
  Selection* RequireSelection(const std::string& name, bool need_write);

  void EndTransaction(Transaction* t, bool committed);
  std::unique_ptr<Transaction> TakeTransaction();
  void RecycleTransaction(std::unique_ptr<Transaction> t);
  std::unique_ptr<Selection> TakeSelection();
  void RecycleSelection(std::unique_ptr<Selection> s);
  // Responds with an error, closing the live transaction the statement names.
  void Fail(Status st, Transaction* t);
  void FailNamed(Status st, const Named& named);

  void RespondOk(std::string_view word);
  void RespondOkCount(std::string_view word, uint64_t n);
  void RespondJson(std::string_view json);
  void RespondError(const Status& st);
  void BeginResponse() { mark_begin_ = out_.size(); }
  void EndResponse(ResponseKind kind, ErrorCode code);

  // The document as transaction t sees it (own writes first).
  DocView View(Transaction* t, Selection* s, size_t i) const;
  // Whether it exists for t, without parsing a committed version's text.
  bool Visible(Transaction* t, Selection* s, size_t i) const;
  // t's workspace entry for that document, made (as its committed version,
  // unchanged) when t has not written it yet; *fresh says whether it was.
  WorkspaceEntry& WorkspaceFor(Transaction* t, Selection* s, size_t i, bool* fresh = nullptr);
  void AppendDocJson(Transaction* t, Selection* s, size_t i, std::string* out) const;

  Engine* engine_;
  OwnerId owner_;
  Reader reader_;
  DatumTree tree_;
  Statement compiled_;      // the statement being executed, when freshly compiled
  Statement* stmt_ = &compiled_;  // the statement being executed
  // A statement's first bytes, up to its first ')' and at most 16: the
  // statement cache's key (see RunCachedStatement).
  struct StatementKey {
    uint64_t head = 0, tail = 0;
    uint32_t len = 0;  // 0: no key (an empty cache way)
    bool operator==(const StatementKey&) const = default;
  };
  struct CachedStatement {
    StatementKey key;
    std::string text;  // exact, or with the _id literal replaced by '#'
    Statement stmt;
    Named named;  // what a failure of its document names (create, updateall)
    uint64_t last_use = 0;
    bool by_id_literal = false;  // text has '#' for the _id of stmt, at id_at
    size_t id_at = 0;
  };
  // Whether the input starts with c's text (with any integer for its '#');
  // sets *length and, for '#', *id.
  static bool MatchCached(const CachedStatement& c, std::string_view in, size_t* length, int64_t* id);
  static constexpr size_t kCacheWays = 4;
  std::array<CachedStatement, 64> cache_;  // kCacheWays per set; see RunCachedStatement
  std::string render_scratch_;             // Create's rendering, reused
  uint64_t cache_clock_ = 0;
  uint64_t statements_compiled_ = 0;
  CachedStatement* miss_way_ = nullptr;  // where the statement being read will be kept
  StatementKey miss_key_;
  std::string miss_text_;
  bool miss_by_id_ = false;
  size_t miss_id_at_ = 0;
  int64_t miss_id_ = 0;
  Named named_;
  Status pending_error_;       // a failed create/updateall waiting to discard its document
  bool awaiting_document_ = false;
  bool must_close_ = false;
  bool input_lost_ = false;  // must_close_ because an item crossed a limit
  size_t output_limit_ = 0;
  bool authenticated_ = true;
  std::string password_;
  int auth_failures_ = 0;
  uint64_t uncounted_statements_ = 0;

  // The collections this session has used. Selections, workspaces and
  // commits point into these, so a transaction costs no catalog lock and no
  // shared reference count (both would pass cache lines between cores). A
  // dropped collection stays in retired_ while any transaction may point to it.
  struct SessionCollection {
    std::shared_ptr<Collection> collection;
    ResourceId lock_name;  // CollectionResource(name), hashed once
  };
  std::unordered_map<std::string, SessionCollection> collections_;
  std::vector<std::shared_ptr<Collection>> retired_collections_;

  std::vector<std::unique_ptr<Transaction>> txns_;
  std::vector<std::unique_ptr<Selection>> sels_;
  std::unordered_map<std::string_view, Selection*> sel_index_;  // by name, only while more than 8
  std::vector<LockTarget> targets_;
  std::vector<std::unique_ptr<Transaction>> free_txns_;
  std::vector<std::unique_ptr<Selection>> free_sels_;

  std::shared_ptr<PendingWait> pending_;
  Transaction* pending_txn_ = nullptr;
  WaitKind pending_kind_ = WaitKind::kAcquire;
  std::string pending_word_;  // kCatalog: the ok word
  std::shared_ptr<uint64_t> pending_index_;  // kReadIndex: the answer
  bool pending_multi_ = false;               // kSelectBarrier: selects, not select
  bool select_caught_up_ = false;            // the select running now waited for its barrier
  // With metrics on: when the waiting statement began, and its kind.
  std::chrono::steady_clock::time_point pending_started_{};
  StatementKind pending_statement_ = StatementKind::kPing;
  std::function<void()> wakeup_;

  std::shared_ptr<BackupJob> backup_;  // (backup begin) to its end
  bool slow_log_ = false;              // engine options: slow_transaction > 0
  std::string statement_text_;         // the statement being run, truncated (slow_log_)
  std::string peer_;                   // who the session serves, for the log
  std::string out_;
  std::vector<ResponseMark> marks_;
  size_t mark_begin_ = 0;
};

}  // namespace parendb
