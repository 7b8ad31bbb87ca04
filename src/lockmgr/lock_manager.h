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
// The table is split into shards, each with its own mutex, so transactions
// on different documents touch different cache lines. A document lives in
// one shard, and its collection's intention lock is kept in that same shard
// (one stripe of the collection per shard); a whole-collection lock takes
// every stripe. A document lock therefore touches one shard only. Waiting,
// waking and deadlock search are rare, and hold every shard.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/spin_mutex.h"
#include "base/status.h"

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
// on the collection's stripe in the document's shard.
struct LockTarget {
  ResourceId resource = 0;
  LockMode mode = LockMode::kShared;
  ResourceId collection = 0;
};

// Whether a lock held by one transaction lets another's be granted.
bool Compatible(LockMode held, bool held_intention, LockMode wanted, bool wanted_intention);

using OwnerId = uint64_t;  // a session: its transactions run one statement at a time

struct LockStats {
  std::atomic<uint64_t> waits{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> deadlocks{0};
};

class LockManager {
  // A resolved request on one resource (declared first so that Txn can keep
  // a scratch vector of them).
  struct Resource;
  struct Waiter;
  struct Want {
    Resource* resource;  // set by Resolve from shard and id
    ResourceId id;
    uint8_t shard;
    LockMode mode;
    bool intention;
    bool pin;  // a collection stripe: kept in the table
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
    // Set and cleared with every shard held; the owner may read it without
    // them (only its own Acquire sets it).
    std::atomic<Waiter*> waiting_{nullptr};
    std::vector<Want> scratch_;  // Acquire's resolved wants, reused
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
  static constexpr int kShards = 16;
  using ShardMask = uint32_t;
  static constexpr ShardMask kAllShards = (ShardMask{1} << kShards) - 1;

  struct Holder {
    Txn* txn;
    LockMode mode;
    bool intention;
  };
  struct Queued {
    Waiter* waiter;
    LockMode mode;
    bool intention;
  };
  struct Resource {
    ResourceId id = 0;
    uint8_t shard = 0;
    // Collection stripes stay in the table: there are few, and every
    // transaction in the collection uses one or all of them.
    bool pinned = false;
    std::vector<Holder> holders;
    std::vector<Queued> queue;  // FIFO; short in practice
    bool idle() const { return holders.empty() && queue.empty(); }
  };
  struct Waiter {
    Txn* txn;
    uint64_t seq;
    std::vector<Want> wants;
    std::chrono::steady_clock::time_point deadline;
    Callback done;
  };
  using Ready = std::vector<std::pair<Callback, Status>>;
  // Only resources someone holds or waits for are in a shard's map; the
  // nodes of retired ones are kept (with their vectors' capacity) for reuse.
  using ResourceMap = std::unordered_map<ResourceId, Resource>;
  struct alignas(64) Shard {
    SpinMutex mu;
    ResourceMap resources;
    std::vector<ResourceMap::node_type> spare;
  };

  static int ShardOf(ResourceId document) { return static_cast<int>(document >> 60); }
  static ShardMask MaskOf(const std::vector<LockTarget>& targets);
  void LockShards(ShardMask mask);
  void UnlockShards(ShardMask mask);

  // Finds or makes the resources the targets name (their shards held), one
  // want per resource with the strongest mode asked for it.
  void Resolve(std::vector<LockTarget>& targets, std::vector<Want>* wants);
  Resource* Find(int shard, ResourceId id);
  // Whether w fits beside the other transactions' holders; CanGrant also
  // respects the requests queued ahead of self (null: all of them).
  bool HoldersAllow(const Txn* txn, const Want& w) const;
  bool CanGrant(const Txn* txn, const Want& w, const Waiter* self) const;
  bool CanGrantAll(const Txn* txn, const std::vector<Want>& wants) const;
  void Grant(Txn* txn, const std::vector<Want>& wants);
  static void RemoveHolder(Resource* r, const Txn* txn);
  // The slow paths: every shard held.
  Outcome AcquireGlobal(Txn* txn, std::vector<LockTarget>& targets, std::chrono::milliseconds timeout,
                        const std::function<Callback()>& make_done, Status* why);
  void ReleaseGlobal(Txn* txn, Ready* ready);
  bool WouldDeadlock(const Waiter* start) const;
  void Blockers(const Waiter* w, std::vector<const Txn*>* out) const;
  void Dequeue(Waiter* w);
  void EndWait(Waiter* w);
  void WakeLocked(const std::vector<Resource*>& touched, Ready* ready);
  // Takes an idle resource out of its shard's map, keeping the node.
  void Retire(Resource* r);
  void TimerLoop();
  static void Run(Ready& ready);

  Shard shards_[kShards];
  // Guarded by every shard's mutex together:
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
