// How current a cluster node's state is known to be — what a
// bounded-staleness read ((acquire T (stale MS)), lang-docs/cluster.md)
// asks instead of waiting for a read barrier.
//
// A read barrier asked at local time t0 that succeeded leaves this node
// having applied every commit acknowledged anywhere in the cluster before
// t0 (ClusterRole::ReadBarrier's contract), and applying more keeps that
// true. So after the newest such t0, a read here misses at most the
// commits acknowledged in the last now - t0. Only this node's monotonic
// clock is read: no clocks are compared across machines, and a node cut
// off from the leader simply stops getting fresher.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace parendb {

class ReadFreshness {
 public:
  using Clock = std::chrono::steady_clock;

  // A read barrier asked at asked_at has succeeded. Barriers may finish
  // out of order; the newest asked_at counts.
  void Confirmed(Clock::time_point asked_at) {
    int64_t t = asked_at.time_since_epoch().count();
    int64_t seen = confirmed_.load(std::memory_order_relaxed);
    while (seen < t && !confirmed_.compare_exchange_weak(seen, t, std::memory_order_release, std::memory_order_relaxed)) {
    }
  }

  // Whether this node has applied every commit acknowledged before
  // now - bound (false until a barrier has succeeded).
  bool Within(Clock::time_point now, std::chrono::milliseconds bound) const {
    int64_t t = confirmed_.load(std::memory_order_acquire);
    if (t == kNever) return false;
    // Compared in milliseconds, rounded up: any bound a client may send
    // (up to 2^63 - 1 ms) fits, and (stale 0) lets no age through.
    return std::chrono::ceil<std::chrono::milliseconds>(now - Clock::time_point(Clock::duration(t))) <= bound;
  }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
  std::atomic<int64_t> confirmed_{kNever};
};

}  // namespace parendb
