// The state every session of one database shares: the catalog of
// collections, the lock manager, the snapshot clock, the commit log and the
// counters of `(stats)`. Sessions (src/eval) drive transactions through it.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/status.h"
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
};

struct EngineCounters {
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> aborts{0};
  std::atomic<int64_t> active_transactions{0};
  std::atomic<int64_t> connections{0};
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> statements{0};
};

// One committed write of a transaction.
struct Write {
  std::shared_ptr<Collection> collection;
  DocId id;
  DocRef doc;  // null: delete
};

class Engine {
 public:
  Engine(EngineOptions options, std::unique_ptr<CommitLog> log);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineOptions& options() const { return options_; }
  LockManager& locks() { return locks_; }
  SnapshotRegistry& snapshots() { return snapshots_; }
  EngineCounters& counters() { return counters_; }

  std::shared_ptr<Collection> FindCollection(std::string_view name) const;
  std::vector<std::string> CollectionNames() const;
  // Errors: collection-exists / unknown-collection, conflict (a live
  // transaction holds locks in it), io.
  Status MakeCollection(const std::string& name);
  Status DropCollection(const std::string& name);

  // Logs then installs a transaction's writes atomically. The caller holds
  // the locks that cover every write.
  Status Commit(std::vector<Write>& writes);

  // Installs without logging (recovery replays records through here).
  void Install(std::vector<Write>& writes);

  uint64_t NewTransactionId() { return next_txn_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t NewOwnerId() { return next_owner_.fetch_add(1, std::memory_order_relaxed); }

  // The `(stats)` counters as a JSON object.
  std::string StatsJson() const;
  uint64_t documents() const { return documents_.load(std::memory_order_relaxed); }

 private:
  Status CheckWritable() const;

  const EngineOptions options_;
  std::unique_ptr<CommitLog> log_;
  LockManager locks_;
  SnapshotRegistry snapshots_;
  EngineCounters counters_;

  mutable std::shared_mutex catalog_mu_;
  std::map<std::string, std::shared_ptr<Collection>, std::less<>> catalog_;

  std::mutex commit_mu_;  // installs one commit at a time
  std::atomic<bool> failed_{false};  // an I/O failure: no more commits
  std::atomic<uint64_t> documents_{0};
  std::atomic<uint64_t> next_txn_{1};
  std::atomic<uint64_t> next_owner_{1};
};

// Lock resource names: a collection, or one document in it.
ResourceId CollectionResource(std::string_view collection);
ResourceId DocumentResource(std::string_view collection, const DocId& id);

}  // namespace parendb
