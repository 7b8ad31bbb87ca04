// A collection's documents, each a chain of committed versions.
//
// Update transactions read the newest version (their locks keep it stable);
// read-only transactions read the newest version at or before their snapshot
// timestamp. Versions no snapshot can see are dropped when a key is next
// written (see Install), so memory tracks live snapshots, not history.
//
// Locking: the documents are split by _id into stripes, each with its own
// reader-writer lock. A point read or a new version of an existing document
// holds one stripe, so transactions on different documents touch different
// cache lines; anything that changes the set of _ids (a new document, a
// removed one) or walks it (scans) holds every stripe. Installs come one at
// a time (the engine's commit mutex), so two never race on the structure.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/spin_rw_lock.h"
#include "doc/doc_id.h"
#include "mvcc/stored_doc.h"

namespace parendb {

// Read the newest committed version (update transactions).
inline constexpr uint64_t kLatest = UINT64_MAX;

class Collection {
 public:
  explicit Collection(std::string name) : name_(std::move(name)) {}
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  const std::string& name() const { return name_; }

  // The version of id visible at ts (kLatest: newest); null when absent or
  // deleted at ts.
  DocRef Get(const DocId& id, uint64_t ts) const;

  // Calls fn(id, doc) for every document visible at ts, in _id order, until
  // fn returns false.
  void Scan(uint64_t ts, const std::function<bool(const DocId&, const DocRef&)>& fn) const;

  // Installs a committed version (null doc: a delete) at ts. `oldest_snapshot`
  // is the oldest timestamp any live reader may use; older versions that no
  // reader can see are dropped. Returns the change in live document count.
  int Install(const DocId& id, DocRef doc, uint64_t ts, const std::vector<uint64_t>& live_snapshots);

  // Recovery (single-threaded, no readers): makes doc the only version.
  // Returns the change in live document count.
  int InstallRecovered(const DocId& id, DocRef doc);

  // Checkpoints: up to max documents visible at ts with _id after *from
  // (all when from is null), in _id order. Holds the collection's lock only
  // for the chunk, so writers go on between chunks.
  void ScanChunk(uint64_t ts, const DocId* from, size_t max, std::vector<std::pair<DocId, DocRef>>* out) const;
  int64_t next_id() const { return next_id_.load(std::memory_order_relaxed); }

  // Auto ids: the next unused integer id, and making sure a given integer id
  // is never handed out later.
  int64_t AllocateId() { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  void ReserveId(int64_t id);

  size_t live_documents() const { return live_.load(std::memory_order_relaxed); }
  // Versions kept, live or old (what snapshots cost in memory).
  size_t versions() const { return versions_.load(std::memory_order_relaxed); }

  // Set once the collection is dropped: holders of a pointer to it learn so
  // without a catalog lookup.
  void MarkDropped() { dropped_.store(true, std::memory_order_release); }
  bool dropped() const { return dropped_.load(std::memory_order_acquire); }

 private:
  struct Version {
    uint64_t ts;
    DocRef doc;  // null: deleted
  };
  using Chain = std::vector<Version>;  // oldest first

  static const Version* VisibleAt(const Chain& chain, uint64_t ts);

  // The index's entry for an _id: its chain, and where in the chain's
  // buffer its newest version sits, so a point read of current data goes
  // from the index node straight to that version, skipping the ordered
  // map's node (a cache miss fewer on a large collection). Refreshed under
  // the stripe's lock after every change to the chain, which is the only
  // time the buffer can move.
  struct IndexEntry {
    Chain* chain;
    const Version* newest = nullptr;
    void Refresh() { newest = &chain->back(); }
  };
  IndexEntry* Find(const DocId& id) const;
  Chain* Lookup(const DocId& id) const {
    IndexEntry* e = Find(id);
    return e == nullptr ? nullptr : e->chain;
  }
  void Erase(const DocId& id);
  // Prunes chain after a new version was appended (see Install); returns
  // the change in versions kept.
  static int64_t Prune(Chain* chain, const std::vector<uint64_t>& live_snapshots);

  static constexpr int kStripes = 16;
  SpinRwLock& StripeOf(const DocId& id) const {
    return stripes_[(DocIdHash()(id) * 0x9e3779b97f4a7c15ULL) >> 60];
  }

  const std::string name_;
  mutable SpinRwLock stripes_[kStripes];
  std::map<DocId, Chain> docs_;  // _id order, for scans
  // The same chains by hash, for point lookups without walking the tree
  // (map nodes never move, so the pointers stay valid).
  mutable std::unordered_map<DocId, IndexEntry, DocIdHash> index_;
  std::atomic<int64_t> next_id_{1};
  std::atomic<size_t> live_{0};
  std::atomic<int64_t> versions_{0};
  std::atomic<bool> dropped_{false};
};

}  // namespace parendb
