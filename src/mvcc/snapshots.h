// The commit clock and the registry of live read snapshots.
//
// Commits are installed one at a time under the registry's mutex (the
// engine's commit mutex: one lock per commit, not two) and the
// visible timestamp moves only after a commit is fully installed, so a
// snapshot sees every write of a transaction or none of them.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "base/spin_mutex.h"

namespace parendb {

class SnapshotRegistry {
 public:
  // Takes a snapshot of the visible state and registers it.
  uint64_t Acquire();
  uint64_t AcquireLocked();  // the caller holds mutex()
  void Release(uint64_t ts);
  // Sorted distinct live snapshot timestamps (into *out). The caller holds
  // mutex(): then no snapshot can be taken until it lets go, so versions
  // it prunes are ones no snapshot, present or about to be, can see.
  void LiveLocked(std::vector<uint64_t>* out) const;
  SpinMutex& mutex() const { return mu_; }
  size_t live_count() const;

  uint64_t visible() const { return visible_.load(std::memory_order_acquire); }
  // Called by the committer with the commit mutex held.
  uint64_t NextCommitTs() { return visible_.load(std::memory_order_relaxed) + 1; }
  void Publish(uint64_t ts) { visible_.store(ts, std::memory_order_release); }

 private:
  // The mutex and what every commit reads and writes under it share one
  // cache line: a commit on another core then moves one line, not two.
  alignas(64) mutable SpinMutex mu_;
  std::atomic<uint64_t> visible_{0};
  // (ts, number of readers), ascending: a few entries, and new snapshots
  // take the newest ts, so a vector beats a map (no node per reader).
  std::vector<std::pair<uint64_t, int>> live_;
  std::atomic<size_t> live_count_{0};  // live_.size(), readable without the mutex
};

}  // namespace parendb
