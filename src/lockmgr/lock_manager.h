// The conservative two-phase lock manager (section 5 of the contract).
//
// A transaction asks for all its locks at once. They are granted together or
// not at all; a request that must wait is queued first-come-first-served on
// every resource it names, and finishes later through its callback (no thread
// blocks). Every wait ends: granted, lock-timeout, or deadlock.
//
// Resources are 64-bit names (see ResourceKey in engine.h): a whole
// collection, or one document of a collection. A document lock also takes an
// intention lock on its collection, so a whole-collection lock meets every
// document lock there.
//
// Keeping cores apart: transactions on different documents should write
// different cache lines. Each resource has a latch of its own and sits on
// its own cache line; the table that finds a resource by name is only read
// once the resource is in it (see id_table.h). A collection's intention
// lock is striped: one stripe per thread stripe (see base/thread_stripe.h),
// and a document lock takes the stripe of the thread asking, so two threads
// never share one; a whole-collection lock takes every stripe. Granting at
// once and releasing with nobody waiting (the fast paths) hold a distributed
// reader-writer lock, the gate, shared (a line of the thread's own) and the
// latches of the resources they touch. Queueing, waking, timeouts, deadlock
// search and compacting the table are rare: they hold the gate exclusively,
// which stops every fast path, so queues only change while nothing else
// runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/distributed_rw_lock.h"
#include "base/histogram.h"
#include "base/spin_mutex.h"
#include "base/status.h"
#include "lockmgr/id_table.h"
#include "lockmgr/key_range.h"

namespace parendb {

// Base modes, weakest first. kSnapshotRead is `r` in a transaction that only
// reads (it reads a snapshot, so writers with kExclusive do not disturb it);
// kShared is `r` in an update transaction; kExclusive is `wn`;
// kExclusiveBlocking is `wb`.
enum class LockMode : uint8_t { kSnapshotRead, kShared, kExclusive, kExclusiveBlocking };

// A lockable resource: a 64-bit name (see ResourceKey in engine.h). Two
// resources that hashed alike would only share a lock — more waiting, never
// less safety — and at 64 bits that does not happen in practice.
using ResourceId = uint64_t;

// A lock a transaction asks for. With `collection` zero, `resource` is a
// whole collection (all of its stripes). Otherwise `resource` is one
// document of that collection, and the lock manager adds the intention lock
// on one stripe of the collection (the asking thread's).
//
// With `range` set, `resource` is an index of that collection (see
// IndexResource in engine.h) and the lock covers only the keys in *range:
// two locks on one index conflict only when their modes do and their
// ranges overlap. A transaction may hold many ranges of one index.
//
// With `range` set and `collection` zero, the lock covers the _id keys in
// *range of the collection `resource`: every stripe, like a whole-collection
// lock, but meeting only the document locks whose `id_point` (the _id's
// key, given by creates) lies in the range. A document lock without one is
// on an existing document, which an _id range's holder locks one by one.
//
// Ranges and points are the caller's, and must stay alive and unchanged
// until Release.
struct LockTarget {
  ResourceId resource = 0;
  LockMode mode = LockMode::kShared;
  ResourceId collection = 0;
  const KeyRange* range = nullptr;
  const KeyRange* id_point = nullptr;
};

// Whether a lock held by one transaction lets another's be granted.
bool Compatible(LockMode held, bool held_intention, LockMode wanted, bool wanted_intention);
// The same for two locks on one resource that may carry key ranges.
// A range meets an intention only through the intention's key (see
// LockTarget's id_point): one without a key is decided by the document's
// own lock.
inline bool CompatibleRanges(LockMode held, bool held_intention, const KeyRange* held_range, LockMode wanted,
                             bool wanted_intention, const KeyRange* wanted_range) {
  if (Compatible(held, held_intention, wanted, wanted_intention)) return true;
  if (held_range != nullptr && wanted_range != nullptr) return !Overlap(*held_range, *wanted_range);
  return (held_range != nullptr && wanted_intention) || (wanted_range != nullptr && held_intention);
}

using OwnerId = uint64_t;  // a session: its transactions run one statement at a time

struct LockStats {
  std::atomic<uint64_t> waits{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> deadlocks{0};
  Histogram wait_ns = Histogram::Durations();  // each wait's time, granted or timed out
};

class LockManager {
  // A resolved request on one resource (declared first so that Txn can keep
  // a scratch vector of them).
  struct Resource;
  struct Waiter;
  struct Want {
    Resource* resource;  // set by Bind from id
    ResourceId id;
    LockMode mode;
    bool intention;
    bool pin;  // a collection stripe or an index: kept in the table
    const KeyRange* range;  // an index's keys; null: the whole resource
  };

 public:
  using Callback = std::function<void(Status)>;
  enum class Outcome { kGranted, kWaiting, kDenied };

  // One transaction's locks. Owned by the caller (so a transaction costs the
  // lock manager no allocation of its own); must stay alive, and not move,
  // until Release(). Reusable after Release().
  class Txn {
   public:
    explicit Txn(OwnerId owner = 0) : owner_(owner) {}
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    void set_owner(OwnerId owner) { owner_ = owner; }

   private:
    friend class LockManager;
    OwnerId owner_;
    std::vector<Resource*> held_;
    // Set and cleared with the gate held exclusively; the owner may read it
    // without (only its own Acquire sets it).
    std::atomic<Waiter*> waiting_{nullptr};
    std::vector<Want> scratch_;  // Acquire's resolved wants, reused
    // Ranges this transaction's holders widened to cover many of its keys
    // at once (see Grant); a deque, as holders point into it.
    std::deque<KeyRange> widened_;
  };

  LockManager();
  ~LockManager();
  LockManager(const LockManager&) = delete;
  LockManager& operator=(const LockManager&) = delete;

  // Asks for every target at once (targets may be reordered). kGranted:
  // held now. kWaiting: make_done() was called once for a callback that runs
  // exactly once later, on another thread, with OK, lock-timeout or deadlock
  // (unless Release cancels the wait first). kDenied: waiting would
  // deadlock; *why says so and nothing is held.
  Outcome Acquire(Txn* txn, std::vector<LockTarget>& targets, std::chrono::milliseconds timeout,
                  const std::function<Callback()>& make_done, Status* why);

  // Takes more locks for a transaction, only if they can be granted at once
  // (used by create after acquire).
  bool TryAcquire(Txn* txn, std::vector<LockTarget>& targets);

  // Releases everything txn holds and cancels its wait, if any.
  void Release(Txn* txn);

  const LockStats& stats() const { return stats_; }

 private:
  static constexpr int kStripes = static_cast<int>(kThreadStripes);

  struct Holder {
    Txn* txn;
    LockMode mode;
    bool intention;
    const KeyRange* range;
    bool widened = false;  // range is the transaction's own (widened_)
  };
  struct Queued {
    Waiter* waiter;
    LockMode mode;
    bool intention;
    const KeyRange* range;
  };
  // A lockable resource. Fast paths change holders with the gate shared
  // and the latch held; queues change only with the gate exclusive. A line
  // of its own, so that documents used by different cores share none.
  struct alignas(64) Resource {
    explicit Resource(ResourceId resource_id) : id(resource_id) {}
    ResourceId id;
    SpinMutex latch;
    // Collection stripes are never dropped from the table: there are few,
    // and every transaction in the collection uses one or all of them.
    // Atomic: fast paths on two threads may pin the same stripe at once.
    std::atomic<bool> pinned{false};
    // Holders that are not intentions: the only ones an intention can meet
    // (two intentions are always compatible). A collection stripe has a
    // holder per transaction in the collection on that thread — 64 with 64
    // connections on one I/O thread — and a document lock's intention is
    // granted without looking at them while this is zero. (Here, in the
    // padding after the flags: the resource stays one 64-byte line.)
    uint32_t non_intentions = 0;
    std::vector<Holder> holders;
    std::vector<Queued> queue;  // FIFO; short in practice
    bool idle() const { return holders.empty() && queue.empty(); }
  };
  static_assert(sizeof(Resource) == 64, "a resource is one cache line (the table caches up to 256K idle ones)");
  struct Waiter {
    Txn* txn;
    uint64_t seq;
    std::vector<Want> wants;
    std::chrono::steady_clock::time_point deadline;
    Callback done;
    std::chrono::steady_clock::time_point started;
  };
  using Ready = std::vector<std::pair<Callback, Status>>;
  static ResourceId StripeOf(ResourceId collection, int stripe);
  static bool AnyWholeCollection(const std::vector<LockTarget>& targets);
  // Fast paths: the latches of wants' resources (sorted by id, the order
  // latches are taken in).
  static void Latch(const std::vector<Want>& wants);
  static void Unlatch(const std::vector<Want>& wants);

  // The resources the targets name, sorted by id, one want per resource
  // with the strongest mode asked for it; then Bind finds or makes them.
  // With the gate shared, Bind fails (false) when the table is too full to
  // add to; with it exclusive, MakeRoom first makes sure it cannot.
  void Resolve(const std::vector<LockTarget>& targets, std::vector<Want>* wants);
  bool Bind(std::vector<Want>* wants);
  void MakeRoom(size_t wants);
  // Whether w fits beside the other transactions' holders; CanGrant also
  // respects the requests queued ahead of self (null: all of them).
  bool HoldersAllow(const Txn* txn, const Want& w) const;
  bool CanGrant(const Txn* txn, const Want& w, const Waiter* self) const;
  bool CanGrantAll(const Txn* txn, const std::vector<Want>& wants) const;
  void Grant(Txn* txn, const std::vector<Want>& wants);
  // Grant's step for a range: widens one of txn's holders when that is
  // safe and txn already holds many ranges there.
  bool Widen(Txn* txn, const Want& w);
  static void RemoveHolder(Resource* r, const Txn* txn);
  // The slow paths: the gate held exclusively.
  Outcome AcquireGlobal(Txn* txn, std::vector<LockTarget>& targets, std::chrono::milliseconds timeout,
                        const std::function<Callback()>& make_done, Status* why);
  void ReleaseGlobal(Txn* txn, Ready* ready);
  bool WouldDeadlock(const Waiter* start) const;
  void Blockers(const Waiter* w, std::vector<const Txn*>* out) const;
  void Dequeue(Waiter* w);
  void EndWait(Waiter* w);
  void WakeLocked(const std::vector<Resource*>& touched, Ready* ready);
  void TimerLoop();
  static void Run(Ready& ready);

  // Shared by the fast paths, exclusive for the slow ones.
  DistributedRwLock gate_;
  IdTable<Resource> resources_;
  // Guarded by the gate held exclusively:
  std::unordered_map<OwnerId, Waiter*> waiting_owner_;
  std::map<std::pair<std::chrono::steady_clock::time_point, uint64_t>, Waiter*> deadlines_;
  uint64_t next_seq_ = 1;
  LockStats stats_;

  // The timer thread sleeps on its own mutex; timer_generation_ moves when
  // a deadline is added, so a wakeup between its look and its sleep is kept.
  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  uint64_t timer_generation_ = 0;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace parendb
