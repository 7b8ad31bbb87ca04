// The conservative two-phase lock manager (section 5 of the contract).
//
// A transaction asks for all its locks at once. They are granted together or
// not at all; a request that must wait is queued first-come-first-served on
// every resource it names, and finishes later through its callback (no thread
// blocks). Every wait ends: granted, lock-timeout, or deadlock.
//
// Resources are strings (see lock_target.h): a whole collection, or one
// document of a collection. Document locks take an intention lock on their
// collection, so a whole-collection lock meets every document lock there.
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

struct LockTarget {
  ResourceId resource = 0;
  LockMode mode = LockMode::kShared;
  bool intention = false;  // held on a collection on behalf of a document lock
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
    std::vector<void*> held_;  // Resource*
    void* waiting_ = nullptr;  // Waiter*
  };

  LockManager();
  ~LockManager();
  LockManager(const LockManager&) = delete;
  LockManager& operator=(const LockManager&) = delete;

  // Asks for every target at once (targets is sorted in place). kGranted:
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
  struct Waiter;
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
    // Collection-level resources (they take intention locks) stay in the
    // table: there are few, and every transaction in the collection uses one.
    bool pinned = false;
    std::vector<Holder> holders;
    std::vector<Queued> queue;  // FIFO; short in practice
    bool idle() const { return holders.empty() && queue.empty(); }
  };
  struct Want {
    Resource* resource;
    LockMode mode;
    bool intention;
  };
  struct Waiter {
    Txn* txn;
    uint64_t seq;
    std::vector<Want> wants;
    std::chrono::steady_clock::time_point deadline;
    Callback done;
  };
  using Ready = std::vector<std::pair<Callback, Status>>;

  void Resolve(std::vector<LockTarget>& targets, std::vector<Want>* wants);
  // Whether w fits beside the other transactions' holders; CanGrant also
  // respects the requests queued ahead of self (null: all of them).
  bool HoldersAllow(const Txn* txn, const Want& w) const;
  bool CanGrant(const Txn* txn, const Want& w, const Waiter* self) const;
  void Grant(Txn* txn, const std::vector<Want>& wants);
  bool WouldDeadlock(const Waiter* start) const;
  void Blockers(const Waiter* w, std::vector<const Txn*>* out) const;
  void Dequeue(Waiter* w);
  void EndWait(Waiter* w);
  void WakeLocked(const std::vector<Resource*>& touched, Ready* ready);
  // Takes an idle resource out of the map, keeping its node for reuse.
  void Retire(Resource* r);
  void TimerLoop();
  static void Run(Ready& ready);

  mutable SpinMutex mu_;
  // Only resources someone holds or waits for are in the map; the nodes of
  // retired ones are kept (with their vectors' capacity) for the next.
  using ResourceMap = std::unordered_map<ResourceId, Resource>;
  ResourceMap resources_;
  std::vector<ResourceMap::node_type> spare_;
  std::unordered_map<OwnerId, Waiter*> waiting_owner_;
  std::map<std::pair<std::chrono::steady_clock::time_point, uint64_t>, Waiter*> deadlines_;
  uint64_t next_seq_ = 1;
  std::vector<Want> scratch_wants_;
  std::vector<Resource*> scratch_touched_;
  LockStats stats_;

  std::condition_variable_any timer_cv_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace parendb
