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

#include "base/status.h"

namespace parendb {

// Base modes, weakest first. kSnapshotRead is `r` in a transaction that only
// reads (it reads a snapshot, so writers with kExclusive do not disturb it);
// kShared is `r` in an update transaction; kExclusive is `wn`;
// kExclusiveBlocking is `wb`.
enum class LockMode : uint8_t { kSnapshotRead, kShared, kExclusive, kExclusiveBlocking };

struct LockTarget {
  std::string resource;
  LockMode mode = LockMode::kShared;
  bool intention = false;  // held on a collection on behalf of a document lock
};

// Whether a lock held by one transaction lets another's be granted.
bool Compatible(LockMode held, bool held_intention, LockMode wanted, bool wanted_intention);

using TxnId = uint64_t;
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

  LockManager();
  ~LockManager();
  LockManager(const LockManager&) = delete;
  LockManager& operator=(const LockManager&) = delete;

  // Asks for every target at once. kGranted: held now, `done` is dropped.
  // kWaiting: `done` runs exactly once later, on another thread, with OK,
  // lock-timeout or deadlock (unless Release cancels the wait first).
  // kDenied: waiting would deadlock; *why says so and nothing is held.
  Outcome Acquire(TxnId txn, OwnerId owner, std::vector<LockTarget> targets, std::chrono::milliseconds timeout,
                  Callback done, Status* why);

  // Takes more locks for a transaction that already holds some, only if they
  // can be granted at once (used by create after acquire).
  bool TryAcquire(TxnId txn, OwnerId owner, const std::vector<LockTarget>& targets);

  // Releases everything txn holds and cancels its wait, if any.
  void Release(TxnId txn);

  const LockStats& stats() const { return stats_; }

 private:
  struct Waiter;
  struct Holder {
    TxnId txn;
    LockMode mode;
    bool intention;
  };
  struct Queued {
    Waiter* waiter;
    LockMode mode;
    bool intention;
  };
  struct Resource {
    std::vector<Holder> holders;
    std::vector<Queued> queue;  // FIFO; short in practice
  };
  struct Want {
    Resource* resource;
    const std::string* key;
    LockMode mode;
    bool intention;
  };
  struct Waiter {
    TxnId txn;
    OwnerId owner;
    uint64_t seq;
    std::vector<Want> wants;
    std::chrono::steady_clock::time_point deadline;
    Callback done;
  };
  struct TxnLocks {
    OwnerId owner = 0;
    std::vector<std::pair<Resource*, const std::string*>> held;
    Waiter* waiting = nullptr;
  };
  using Ready = std::vector<std::pair<Callback, Status>>;

  std::vector<Want> Resolve(std::vector<LockTarget>& targets);
  bool CanGrant(TxnId txn, const Want& w, const Waiter* self) const;
  void Grant(TxnId txn, const std::vector<Want>& wants);
  bool WouldDeadlock(const Waiter* start) const;
  void Blockers(const Waiter* w, std::vector<TxnId>* out) const;
  void Dequeue(Waiter* w);
  void ReleaseLocked(TxnId txn, Ready* ready);
  void WakeLocked(std::vector<Resource*> touched, Ready* ready);
  void GarbageCollect(Resource* r, const std::string* key);
  void TimerLoop();
  static void Run(Ready& ready);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Resource> resources_;
  std::unordered_map<TxnId, TxnLocks> txns_;
  std::unordered_map<OwnerId, Waiter*> waiting_owner_;
  std::map<std::pair<std::chrono::steady_clock::time_point, uint64_t>, Waiter*> deadlines_;
  uint64_t next_seq_ = 1;
  LockStats stats_;

  std::condition_variable timer_cv_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace parendb
