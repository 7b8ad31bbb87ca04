// The state every session of one database shares: the catalog of
// collections, the lock manager, the snapshot clock, the commit log and the
// counters of `(stats)`. Sessions (src/eval) drive transactions through it.
#pragma once

#include <atomic>
#include <functional>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "base/status.h"
#include "base/striped_counters.h"
#include "engine/cluster_role.h"
#include "engine/backup_stream.h"
#include "lockmgr/lock_manager.h"
#include "mvcc/collection.h"
#include "mvcc/snapshots.h"
#include "reader/reader.h"
#include "wal/commit_log.h"

namespace parendb {

struct EngineOptions {
  ReaderLimits reader;
  std::chrono::milliseconds lock_timeout{5000};  // acquire without MILLIS
  size_t max_transactions_per_session = 1024;
  size_t max_selections_per_transaction = 4096;
  // Told of long work as it goes (index builds), one line at a time.
  std::function<void(const std::string&)> on_progress;
  // Transactions that held their locks at least this long are described
  // to on_slow_transaction when they end (0: none are; nothing is kept).
  std::chrono::milliseconds slow_transaction{0};
  std::function<void(const std::string&)> on_slow_transaction;
};

// The counters of `(stats)` that sessions on every core bump.
class EngineCounters {
 public:
  enum Counter : size_t {
    kCommits,
    kAborts,
    kActiveTransactions,
    kConnections,
    kConnectionsTotal,
    kStatements,
    kDocuments,
    kCount
  };
  void Add(Counter c, int64_t n = 1) { counters_.Add(c, n); }
  int64_t Get(Counter c) const { return counters_.Sum(c); }

 private:
  StripedCounters<kCount> counters_;
};

// The numbers of `(stats)`, in its order (kFields).
struct EngineStats {
  int64_t commits = 0, aborts = 0, wal_syncs = 0, wal_bytes = 0, lock_waits = 0, lock_timeouts = 0,
          deadlocks = 0, active_transactions = 0, connections = 0, documents = 0, collections = 0,
          versions = 0, connections_total = 0, statements = 0, live_snapshots = 0;
  static constexpr std::pair<std::string_view, int64_t EngineStats::*> kFields[] = {
      {"commits", &EngineStats::commits},
      {"aborts", &EngineStats::aborts},
      {"wal_syncs", &EngineStats::wal_syncs},
      {"wal_bytes", &EngineStats::wal_bytes},
      {"lock_waits", &EngineStats::lock_waits},
      {"lock_timeouts", &EngineStats::lock_timeouts},
      {"deadlocks", &EngineStats::deadlocks},
      {"active_transactions", &EngineStats::active_transactions},
      {"connections", &EngineStats::connections},
      {"documents", &EngineStats::documents},
      {"collections", &EngineStats::collections},
      {"versions", &EngineStats::versions},
      {"connections_total", &EngineStats::connections_total},
      {"statements", &EngineStats::statements},
      {"live_snapshots", &EngineStats::live_snapshots},
  };
};

// Timings and traffic kept only once EnableMetrics has run (a server with
// --metrics-port): two clock reads per statement are cheap, not free.
// The lock manager's and the log's own histograms are always kept (they
// are taken per wait and per sync, not per statement).
struct EngineMetrics {
  static constexpr size_t kStatementKinds = 32;  // > every StatementKind (src/eval/statement.h)
  enum Traffic : size_t { kBytesIn, kBytesOut, kTrafficCount };

  EngineMetrics() {
    for (auto& h : statement_ns) h.reset(new Histogram(Histogram::Durations()));
  }
  // From a commit statement to its answer: the log's sync included.
  Histogram commit_ns = Histogram::Durations();
  // From a statement's evaluation to its answer (lock waits and syncs
  // included), by StatementKind.
  std::unique_ptr<Histogram> statement_ns[kStatementKinds];
  StripedCounters<kTrafficCount> traffic;  // bytes received and sent by the server
};

// One committed write of a transaction. The committer keeps the collection
// alive until the commit's done has run.
struct Write {
  Collection* collection = nullptr;
  DocId id;
  DocRef doc;  // null: delete
  // Filled by CommitAsync when the collection has indexes: the keys of doc
  // and of the version it replaces (`replaced`), one per index.
  std::vector<std::string> keys, replaced_keys;
  DocRef replaced;
  // Set by the committer when no write changed an indexed value: the keys
  // are the replaced version's, and need not be worked out.
  bool keys_unchanged = false;
};

// An index as the log and checkpoints name it.
struct IndexDef {
  Path path;
  bool unique = false;
};

class Engine {
 public:
  // With a null log, AttachLog must follow (after recovery) before commits.
  Engine(EngineOptions options, std::unique_ptr<CommitLog> log);
  void AttachLog(std::unique_ptr<CommitLog> log) { log_ = std::move(log); }
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineOptions& options() const { return options_; }
  LockManager& locks() { return locks_; }
  SnapshotRegistry& snapshots() { return snapshots_; }
  EngineCounters& counters() { return counters_; }
  // Null until EnableMetrics (call it before sessions start; idempotent).
  EngineMetrics* metrics() const { return metrics_ptr_.load(std::memory_order_acquire); }
  void EnableMetrics();
  const LockStats& lock_stats() const { return locks_.stats(); }
  const LogStats& log_stats() const { return log_->stats(); }

  std::shared_ptr<Collection> FindCollection(std::string_view name) const;
  std::vector<std::string> CollectionNames() const;
  // Errors: collection-exists / unknown-collection, conflict (a live
  // transaction holds locks in it), io.
  Status MakeCollection(const std::string& name);
  Status DropCollection(const std::string& name);

  // Secondary indexes (section 10). MakeIndex builds the index over the
  // collection holding its lock in `r` mode (reads go on, writers wait),
  // logs its definition and publishes it; errors: unknown-collection,
  // index-exists, duplicate-key (unique over duplicates: no index made),
  // lock-timeout, io. DropIndex holds the collection's `wb` lock, so no
  // live transaction still uses the index; errors: unknown-collection,
  // unknown-index, lock-timeout, io.
  Status MakeIndex(const std::string& collection, const Path& path, bool unique);
  Status DropIndex(const std::string& collection, const Path& path);
  // Recovery: builds every index from the recovered documents.
  void BuildRecoveredIndexes();

  // Logs a transaction's writes, then installs them atomically and calls
  // done — at once, or later on the log's thread once they are durable. The
  // caller holds the locks that cover every write until done has run.
  // In a cluster, epoch is the term the transaction acquired in
  // (ClusterRole::AcceptsUpdates); 0 standalone.
  void CommitAsync(std::vector<Write> writes, std::function<void(Status)> done, uint64_t epoch = 0);

  // Recovery applies logged or checkpointed records, unlogged, in two
  // steps so decoding (any thread) can run ahead of applying (in log order):
  // Prepare makes a put's document.
  static Status PrepareReplay(const struct DecodedRecord& record, DocRef* doc);
  Status ApplyReplay(const DecodedRecord& record, DocRef doc, uint64_t lsn);
  // Recovery: the lsn of the last record applied.
  void SetAppliedLsn(uint64_t lsn) { applied_lsn_ = lsn; }

  // In a cluster (src/raft): who may update here, and how reads stay
  // strictly serializable. Set before sessions start; null standalone.
  void SetCluster(ClusterRole* role) { cluster_ = role; }
  ClusterRole* cluster() const { return cluster_; }
  // A follower (or a node replaying its Raft log) installs one replicated
  // commit: the records of one CommitLog::Append, in log order, at lsn.
  // Documents become visible atomically, indexes follow, as on the leader.
  // Catalog records are applied as the leader applied them (an index is
  // built here, over the same documents).
  Status ApplyReplicated(const std::vector<DecodedRecord>& records, uint64_t lsn);
  // Installing a Raft snapshot: every collection is replaced, in one step,
  // by from's (loaded into a scratch engine and indexed there, so no reader
  // ever sees one half loaded); transactions that hold an old one find it
  // dropped. applied_lsn becomes lsn.
  void ReplaceCollections(Engine* from, uint64_t lsn);

  // A consistent view for a checkpoint: a registered snapshot, the lsn of
  // the last commit it contains, and the collections then.
  struct CheckpointView {
    uint64_t ts = 0;
    uint64_t lsn = 0;
    std::vector<std::shared_ptr<Collection>> collections;
    std::vector<std::vector<IndexDef>> indexes;  // per collection
  };
  CheckpointView BeginCheckpoint();
  void EndCheckpoint(const CheckpointView& view) { snapshots_.Release(view.ts); }

  // (checkpoint): set by the owner of a data directory.
  void SetCheckpointHook(std::function<Status()> hook) { checkpoint_hook_ = std::move(hook); }
  Status Checkpoint() { return checkpoint_hook_ ? checkpoint_hook_() : Status::Ok(); }
  // (backup begin): set by whoever made the engine (a data directory, or
  // the API for an in-memory database).
  using BackupHook = std::function<Status(std::unique_ptr<BackupStream>*)>;
  void SetBackupHook(BackupHook hook) { backup_hook_ = std::move(hook); }
  Status StartBackup(std::unique_ptr<BackupStream>* out);
  // The lsn of the last commit installed.
  uint64_t AppliedLsn();
  bool accepting_commits() const { return !failed_.load(std::memory_order_acquire); }

  uint64_t NewOwnerId() { return next_owner_.fetch_add(1, std::memory_order_relaxed); }

  // The `(stats)` counters, and as (stats) answers them: a JSON object.
  EngineStats Stats() const;
  std::string StatsJson() const;
  uint64_t documents() const { return static_cast<uint64_t>(counters_.Get(EngineCounters::kDocuments)); }

 private:
  Status CheckWritable() const;
  Status CheckCatalogWritable() const;
  // A failed log append: whether it leaves the log usable (a cluster
  // that lost or never had the leadership) or stops commits (I/O).
  Status LogFailure(Status st);
  // The index keys of each write and of the version it replaces.
  void WorkOutIndexKeys(std::vector<Write>& writes);
  void ApplyReplicatedCatalog(const DecodedRecord& r);
  void Install(std::vector<Write>& writes, uint64_t lsn);
  static void Reindex(const IndexList& indexes, const Write& w, const std::vector<DocRef>& dropped, size_t first);
  // Logs one catalog record and applies it (apply runs under the commit mutex).
  Status LogCatalogChange(LogRecord record, const std::function<void()>& apply);
  // A whole-collection lock for a catalog change, waiting up to the lock
  // timeout.
  Status LockCollection(LockManager::Txn* txn, const std::string& name, LockMode mode);
  void Progress(const std::string& line) const {
    if (options_.on_progress) options_.on_progress(line);
  }

  const EngineOptions options_;
  std::unique_ptr<CommitLog> log_;
  LockManager locks_;
  SnapshotRegistry snapshots_;
  EngineCounters counters_;
  std::unique_ptr<EngineMetrics> metrics_;
  std::atomic<EngineMetrics*> metrics_ptr_{nullptr};

  mutable std::shared_mutex catalog_mu_;
  std::map<std::string, std::shared_ptr<Collection>, std::less<>> catalog_;

  std::mutex catalog_ops_mu_;  // one mkcoll/rmcoll at a time, check to apply
  uint64_t applied_lsn_ = 0;   // guarded by snapshots_.mutex(), the commit mutex
  std::function<Status()> checkpoint_hook_;
  BackupHook backup_hook_;
  ClusterRole* cluster_ = nullptr;
  // An I/O failure: no more commits. Read by every commit, written once:
  // on a line of its own, away from what commits write.
  alignas(64) std::atomic<bool> failed_{false};
  alignas(64) std::atomic<uint64_t> next_owner_{1};
};

// Lock resource names: a collection, or one document in it.
ResourceId CollectionResource(std::string_view collection);
ResourceId DocumentResource(std::string_view collection, const DocId& id);
// The same from the collection's resource (saves hashing the name again).
ResourceId DocumentResource(ResourceId collection, const DocId& id);
// The keys of a collection's index on path (ranges of it are locked).
ResourceId IndexResource(std::string_view collection, const Path& path);

}  // namespace parendb
