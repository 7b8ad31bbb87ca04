// Where a commit becomes durable. The engine hands every committing
// transaction's redo records to a CommitLog and installs them only after
// Commit returns OK, so "(ok committed)" is never sent for a transaction a
// crash could lose (under the default sync mode).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "base/status.h"
#include "doc/doc_id.h"
#include "mvcc/stored_doc.h"

namespace parendb {

struct LogRecord {
  enum class Kind : uint8_t { kPut, kDelete, kMakeCollection, kDropCollection, kEnd, kMakeIndex, kDropIndex };
  Kind kind = Kind::kPut;
  std::string collection;
  DocId id;            // kPut, kDelete
  DocRef doc;          // kPut: the whole new version
  int64_t number = 0;  // kMakeCollection in checkpoints: the next auto id; kEnd: document count;
                       // kMakeIndex: 1 when unique
  std::string path;    // kMakeIndex, kDropIndex: the path as a JSON array
};

struct LogStats {
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> bytes{0};
  Histogram sync_ns = Histogram::Durations();  // each sync's time
  Histogram group_commits = Histogram::Counts();  // commits written (and synced) together
};

class CommitLog {
 public:
  // Runs once the records are durable as the sync mode promises (with the
  // log sequence number they were given), or with io when they could not
  // be written — then nothing of them may be applied. Calls complete in
  // log order, one at a time, possibly on another thread.
  using Done = std::function<void(Status, uint64_t lsn)>;

  virtual ~CommitLog() = default;
  virtual void Append(const std::vector<LogRecord>& records, Done done) = 0;
  // The same, for a cluster node: only if this node still leads in the
  // term `epoch` (ClusterRole::AcceptsUpdates) when the records are
  // proposed; else not-leader, and nothing is applied. A log that is not
  // replicated has no terms.
  virtual void AppendIn(uint64_t epoch, const std::vector<LogRecord>& records, Done done) { Append(records, std::move(done)); }
  virtual const LogStats& stats() const = 0;
};

// The in-memory database: nothing to make durable; completes at once, on
// the committer's thread. Nothing is logged, so every lsn is 0 (a shared
// counter would only pass its cache line between committing cores).
class NoLog final : public CommitLog {
 public:
  void Append(const std::vector<LogRecord>&, Done done) override { done(Status::Ok(), 0); }
  const LogStats& stats() const override { return stats_; }

 private:
  LogStats stats_;
};

}  // namespace parendb
