// Counters that every transaction bumps and `(stats)` rarely reads.
//
// One atomic shared by all threads would move its cache line from core to
// core on every bump; here each thread adds to its own stripe (one cache
// line holding all N counters) and a read sums the stripes. A sum taken
// while others add is a moment's approximation, exact once they stop.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/thread_stripe.h"

namespace parendb {

template <size_t N>
class StripedCounters {
  static_assert(N * sizeof(int64_t) <= 64, "one stripe is one cache line");

 public:
  void Add(size_t counter, int64_t n) {
    stripes_[ThreadStripe()].values[counter].fetch_add(n, std::memory_order_relaxed);
  }
  int64_t Sum(size_t counter) const {
    int64_t sum = 0;
    for (const Stripe& s : stripes_) sum += s.values[counter].load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) Stripe {
    std::atomic<int64_t> values[N] = {};
  };
  Stripe stripes_[kThreadStripes];
};

}  // namespace parendb
