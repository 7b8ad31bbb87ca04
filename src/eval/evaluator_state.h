// The evaluator's per-transaction state, shared by its source files
// (evaluator.cc: input, the transaction's stages and responses;
// read_write_statements.cc: insert, read, update, delete, check;
// selection_access.cc: how selections find and lock their documents;
// index_statements.cc: the index statements).
// Private to src/eval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "eval/evaluator.h"
#include "index/planner.h"

namespace parendb {

struct WorkspaceKey {
  const Collection* collection;
  DocId id;
  friend bool operator<(const WorkspaceKey& a, const WorkspaceKey& b) {
    if (a.collection != b.collection) return std::less<const Collection*>()(a.collection, b.collection);
    return a.id < b.id;
  }
};

// A private write: the document as this transaction left it.
struct WorkspaceEntry {
  Collection* collection;  // kept alive by the session (collections_)
  Value value;             // unless `rendered`
  bool deleted = false;
  bool created = false;  // did not exist before this transaction
  // Some write may have changed its key in an index (create, updateall,
  // delete, or an update of an indexed path); otherwise its keys are its
  // committed version's, and the commit needs not work them out.
  bool keys_moved = false;
  // The document as its final text, never parsed into `value`: a created
  // one, or one whose updates were all made on its text (UpdateInText in
  // read_write_statements.cc). Most are committed without anything reading them
  // (conditions read values out of the text; an update it cannot make on
  // the text parses it into `value`).
  DocRef rendered;

  DocView view() const { return rendered ? rendered->view() : DocView(value); }
  // Replaces the document (dropping any text).
  void set_value(Value v) {
    rendered.reset();
    value = std::move(v);
  }
  // Replaces the document by its final text (dropping any tree).
  void set_text(DocRef text) {
    value = Value();
    rendered = std::move(text);
  }
  // The tree to change in place (the text, if any, is then out of date).
  Value& mutable_value() {
    if (rendered) {
      rendered->view().Tree(&value);
      rendered.reset();
    }
    return value;
  }
};

inline Status Error(ErrorCode code, std::string msg) { return Status(code, std::move(msg)); }

LockMode ModeFor(LockKind kind, bool read_only);

struct Evaluator::Selection {
  struct Bound {
    DocId id;
    DocRef committed;  // the version read at acquire; null for created docs
  };
  std::string name;
  Transaction* txn = nullptr;
  LockKind lock = LockKind::kRead;
  bool multi = false;
  bool created = false;
  std::string collection_name;
  Collection* collection = nullptr;  // kept alive by the session (collections_)
  ResourceId lock_name = 0;          // the collection's, for the lock manager
  Expr condition;
  bool by_ids = false;        // the condition pins _id to the values in ids
  std::vector<DocId> ids;
  std::vector<Bound> docs;
  OrderSpec order;
  // Where the last (readall S (skip …) (limit …)) window ended: the index
  // in docs and how many visible documents came before it, so paging
  // through a large selection costs each page only its own documents.
  // Meaningful only while the transaction's workspace is empty (nothing it
  // wrote can change which documents are visible).
  size_t cursor_index = 0;
  size_t cursor_visible = 0;

  // How an acquire finds and locks the documents (selection_access.cc),
  // made at acquire when not by_ids.
  Plan plan;
  // An index plan locks its key ranges (these, whose addresses the lock
  // manager keeps until release) and every document whose key lies in
  // them, `predicted` (sorted). Too many such documents, or predictions
  // that keep missing, lock the whole collection instead.
  struct RangeLock {
    ResourceId index;
    bool id_keys;  // keys of _id (the collection's stripes), not of an index
    KeyRange range;
  };
  std::vector<RangeLock> range_locks;
  std::vector<DocId> predicted;
  bool whole_collection = false;
  // The index entries the prediction read, and each index's changes()
  // then: when no entry came or went since, binding reads them again
  // instead of searching the indexes again.
  std::vector<Index::Hit> hits;
  std::vector<uint64_t> hit_changes;
  // Set by a bind whose prediction missed: what to do once the locks are
  // let go (never before — the lock manager points into range_locks).
  enum class Redo : uint8_t { kNone, kPredict, kPlan } redo = Redo::kNone;
  std::vector<DocId> missed;  // kPredict: documents found beyond the prediction

  bool writable() const { return created || lock != LockKind::kRead; }
  bool by_index() const { return !by_ids && plan.by_index && !whole_collection; }

};

struct Evaluator::Transaction {
  enum class Stage { kSelecting, kWaiting, kAcquired, kCommitting };
  std::string name;
  LockManager::Txn locks;
  Stage stage = Stage::kSelecting;
  std::vector<Selection*> selections;
  bool read_only = false;
  bool has_snapshot = false;
  uint64_t snapshot = 0;
  std::map<WorkspaceKey, WorkspaceEntry> workspace;
  int64_t acquire_millis = -1;  // acquire's MILLIS (-1: the default), kept for its retries
  int attempts = 0;             // acquires made again because a prediction missed
  uint64_t cluster_epoch = 0;   // in a cluster: the term it acquired in (ClusterRole::AcceptsUpdates)
  // Index keys its writes moved documents into or out of, locked until it
  // ends (deque: the lock manager keeps their addresses).
  std::deque<KeyRange> write_ranges;
  // The unique-index keys its writes gave documents: (index, key) -> _id.
  std::map<std::pair<const Index*, std::string>, DocId> unique_keys;
  // With slow-transaction logging on (slow_transactions.cc): when acquire
  // began and when its locks were granted, and its statements so far.
  std::chrono::steady_clock::time_point acquire_began, acquired_at;
  std::vector<std::string> statements;
  size_t statements_dropped = 0;
};

// A wait the session blocks on: an acquire's locks, or a commit's sync.
// Shared with the lock manager's or the log's callback, so it outlives
// whichever side finishes last.
struct Evaluator::PendingWait {
  std::mutex mu;
  std::condition_variable cv;
  bool decided = false;
  Status status;
  std::function<void()> wakeup;

  bool Decided() {
    std::lock_guard lock(mu);
    return decided;
  }
  void Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return decided; });
  }
  // The callback that decides it, from any thread.
  static std::function<void(Status)> Completer(std::shared_ptr<PendingWait> p) {
    return [p = std::move(p)](Status st) {
      std::function<void()> wake;
      {
        std::lock_guard lock(p->mu);
        p->decided = true;
        p->status = std::move(st);
        wake = std::move(p->wakeup);  // decided once: nothing calls it again
      }
      p->cv.notify_all();
      if (wake) wake();
    };
  }
};


}  // namespace parendb
