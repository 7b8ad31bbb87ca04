// Where a commit becomes durable. The engine hands every committing
// transaction's redo records to a CommitLog and installs them only after
// Commit returns OK, so "(ok committed)" is never sent for a transaction a
// crash could lose (under the default sync mode).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "doc/doc_id.h"
#include "mvcc/stored_doc.h"

namespace parendb {

struct LogRecord {
  enum class Kind : uint8_t { kPut, kDelete, kMakeCollection, kDropCollection };
  Kind kind = Kind::kPut;
  std::string collection;
  DocId id;     // kPut, kDelete
  DocRef doc;   // kPut: the whole new version
};

struct LogStats {
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> bytes{0};
};

class CommitLog {
 public:
  virtual ~CommitLog() = default;
  // Returns once the records are durable as the sync mode promises, or
  // io when they could not be written (then nothing of them may be applied).
  virtual Status Commit(const std::vector<LogRecord>& records) = 0;
  virtual const LogStats& stats() const = 0;
};

// The in-memory database: nothing to make durable.
class NoLog final : public CommitLog {
 public:
  Status Commit(const std::vector<LogRecord>&) override { return Status::Ok(); }
  const LogStats& stats() const override { return stats_; }

 private:
  LogStats stats_;
};

}  // namespace parendb
