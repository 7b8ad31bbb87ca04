// A collection's documents, each a chain of committed versions.
//
// Update transactions read the newest version (their locks keep it stable);
// read-only transactions read the newest version at or before their snapshot
// timestamp. Versions no snapshot can see are dropped when a key is next
// written (see Install), so memory tracks live snapshots, not history.
//
// Locking: two levels, so that transactions on different documents write
// different cache lines. The set of _ids (both indexes) has a distributed
// reader-writer lock: a point read or a new version of an existing
// document holds it shared, which writes only the calling thread's own
// slot; adding or removing an _id holds it exclusively. Each document's
// versions have a small latch of their own beside them. Scans hold the set
// shared a chunk at a time, so a new _id waits for at most one chunk.
// Installs come one at a time (the engine's commit mutex), so two never
// race on the structure.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <boost/intrusive/set.hpp>
#include <boost/intrusive/unordered_set.hpp>

#include "base/distributed_rw_lock.h"
#include "base/spin_rw_lock.h"
#include "doc/doc_id.h"
#include "index/planner.h"
#include "mvcc/packed_id.h"
#include "mvcc/stored_doc.h"

namespace parendb {

// Read the newest committed version (update transactions).
inline constexpr uint64_t kLatest = UINT64_MAX;

class Collection {
 public:
  explicit Collection(std::string name);
  ~Collection();
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  const std::string& name() const { return name_; }

  // The version of id visible at ts (kLatest: newest); null when absent or
  // deleted at ts.
  DocRef Get(const DocId& id, uint64_t ts) const;
  // The same; *only says whether that version is the only one kept (then
  // an index entry of the document is that version's: see Engine::Install).
  DocRef Get(const DocId& id, uint64_t ts, bool* only) const;

  // Calls fn(id, doc) for every document visible at ts, in _id order, until
  // fn returns false.
  void Scan(uint64_t ts, const std::function<bool(const DocId&, const DocRef&)>& fn) const;

  // Installs a committed version (null doc: a delete) at ts. Versions that
  // none of `live_snapshots` (sorted timestamps) can see, and that are not
  // the newest, are dropped: their documents move to *dropped, for the
  // caller to free once it has let go of the commit mutex. Returns the
  // change in live document count.
  int Install(const DocId& id, DocRef doc, uint64_t ts, const std::vector<uint64_t>& live_snapshots,
              std::vector<DocRef>* dropped);

  // Recovery (single-threaded, no readers): makes doc the only version.
  // Returns the change in live document count.
  int InstallRecovered(const DocId& id, DocRef doc);

  // Up to max documents visible at ts with _id after *from (from the first
  // when from is null), in _id order: Scan's and checkpoints' step. Holds
  // the set of _ids only for the chunk, so writers go on between chunks.
  void ScanChunk(uint64_t ts, const DocId* from, size_t max, std::vector<std::pair<DocId, DocRef>>* out) const;
  int64_t next_id() const { return next_id_.load(std::memory_order_relaxed); }

  // Auto ids: the next unused integer id, and making sure a given integer id
  // is never handed out later.
  int64_t AllocateId() { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  void ReserveId(int64_t id);

  size_t live_documents() const { return live_.load(std::memory_order_relaxed); }
  // Versions kept, live or old (what snapshots cost in memory).
  size_t versions() const { return versions_.load(std::memory_order_relaxed); }

  // Calls fn(id, doc) for every version kept, live or old (deletions
  // excepted), in no particular order: what an index built now must hold.
  // Writers must be held off (an index build holds the collection's lock).
  void ScanVersions(const std::function<void(const DocId&, const DocRef&)>& fn) const;

  // The secondary indexes (src/index). The list is replaced, never changed
  // in place, under the engine's commit mutex; readers take it without a
  // lock. Every list published stays alive with the collection (they are a
  // few pointers each), so a reader's list never dangles.
  const IndexList& indexes() const { return *indexes_.load(std::memory_order_acquire); }
  void SetIndexes(IndexList list);

  // The _id index as the planner sees it: an Index on (f _id) without
  // entries of its own, whose lookups CollectIds answers from the set of
  // _ids.
  const std::shared_ptr<Index>& id_index() const { return id_index_; }
  // Index::Collect for the _id index: the _ids (of documents live or kept
  // for a snapshot) whose keys lie in range, in order (desc: reversed),
  // at most max (0: all), after `after` in that order when given.
  void CollectIds(const KeyRange& range, bool desc, size_t max, std::vector<Index::Hit>* out,
                  const DocId* after = nullptr) const;

  // Set once the collection is dropped: holders of a pointer to it learn so
  // without a catalog lookup.
  void MarkDropped() { dropped_.store(true, std::memory_order_release); }
  bool dropped() const { return dropped_.load(std::memory_order_acquire); }

 private:
  struct Version {
    uint64_t ts;
    DocRef doc;  // null: deleted
  };
  // Oldest first. Nearly every document has one version (older ones live
  // only while a snapshot can see them), kept inline: a point read goes
  // from the index's node to the document without another allocation's
  // cache miss.
  using Chain = boost::container::small_vector<Version, 1>;

  static const Version* VisibleAt(const Chain& chain, uint64_t ts);

  // An _id, its versions and the latch that guards them (a reader of the
  // chain holds it shared, an install exclusively): one allocation per
  // document, linked into both the hash index and the _id order by hooks
  // of its own, so neither needs a node of its own (96 bytes in all, where
  // a std::unordered_map and a std::map node came to about 240), and a
  // point read goes from the hash bucket straight to the versions.
  using OrderHook = boost::intrusive::set_member_hook<boost::intrusive::optimize_size<true>>;
  using HashHook = boost::intrusive::unordered_set_member_hook<>;
  struct Entry {
    explicit Entry(const DocId& id) : id(id) {}
    OrderHook by_order;
    HashHook by_hash;
    PackedId id;
    mutable SpinRwLock latch;
    Chain chain;
  };
  struct EntryOrder {
    bool operator()(const Entry& a, const Entry& b) const { return a.id < b.id; }
    bool operator()(const Entry& a, const DocId& b) const { return a.id < b; }
    bool operator()(const DocId& a, const Entry& b) const { return b.id > a; }
  };
  struct EntryHash {
    size_t operator()(const Entry& e) const { return e.id.Hash(); }
    size_t operator()(const DocId& id) const { return DocIdHash()(id); }
  };
  struct EntryEqual {
    bool operator()(const Entry& a, const Entry& b) const { return (a.id <=> b.id) == 0; }
    bool operator()(const DocId& a, const Entry& b) const { return b.id == a; }
  };
  using ByHash = boost::intrusive::unordered_set<
      Entry, boost::intrusive::member_hook<Entry, HashHook, &Entry::by_hash>, boost::intrusive::hash<EntryHash>,
      boost::intrusive::equal<EntryEqual>, boost::intrusive::power_2_buckets<true>,
      boost::intrusive::constant_time_size<true>>;
  using ByOrder = boost::intrusive::set<Entry, boost::intrusive::member_hook<Entry, OrderHook, &Entry::by_order>,
                                        boost::intrusive::compare<EntryOrder>>;

  Entry* Find(const DocId& id) const;
  // Links a new entry for id (the set of _ids held exclusively); `last`:
  // id is known to follow every _id (recovery reads them in order).
  Entry* Add(const DocId& id, bool last = false);
  void Erase(Entry* e);
  // Prunes chain after a new version was appended (see Install); returns
  // the change in versions kept.
  static int64_t Prune(Chain* chain, const std::vector<uint64_t>& live_snapshots, std::vector<DocRef>* dropped);

  const std::string name_;
  mutable DistributedRwLock ids_lock_;  // guards the structure of index_ and docs_
  // The entries by hash, for point lookups, and by _id order, for scans.
  // The hash index's buckets are ours to size: doubled when it is full.
  std::vector<ByHash::bucket_type> buckets_;
  mutable ByHash index_;
  ByOrder docs_;
  std::atomic<int64_t> next_id_{1};
  std::atomic<size_t> live_{0};
  std::atomic<int64_t> versions_{0};
  std::atomic<bool> dropped_{false};
  std::vector<std::unique_ptr<IndexList>> index_lists_{1};  // every list published
  std::atomic<const IndexList*> indexes_{nullptr};
  std::shared_ptr<Index> id_index_ = std::make_shared<Index>(Path{PathStep{false, 0, "_id"}}, true, 0);
};

}  // namespace parendb
