// A histogram with fixed bucket bounds, for metrics (src/metrics renders it
// in Prometheus's text format). Observe is a few relaxed atomic adds on the
// calling thread's own stripe (see thread_stripe.h), so threads on many
// cores observing at once do not share cache lines; Collect sums the
// stripes. A collection taken while others observe is a moment's
// approximation; its buckets are consistent with its own count.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "base/thread_stripe.h"

namespace parendb {

class Histogram {
 public:
  static constexpr size_t kMaxBounds = 24;

  // Ascending upper bounds, in the unit observed (nanoseconds for a
  // duration, or a plain count); at most kMaxBounds. A last bucket (+Inf)
  // takes what is above them all.
  explicit Histogram(std::initializer_list<uint64_t> bounds) : bounds_(bounds) {}
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(uint64_t value) {
    size_t b = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    Stripe& s = stripes_[ThreadStripe()];
    s.buckets[b].fetch_add(1, std::memory_order_relaxed);
    s.sum.fetch_add(value, std::memory_order_relaxed);
  }

  struct Snapshot {
    std::vector<uint64_t> bounds;      // as given
    std::vector<uint64_t> cumulative;  // observations <= bounds[i]; one more entry: all (+Inf)
    uint64_t sum = 0;                  // of every value observed
    uint64_t count() const { return cumulative.back(); }
  };
  Snapshot Collect() const {
    Snapshot s{bounds_, std::vector<uint64_t>(bounds_.size() + 1, 0), 0};
    for (const Stripe& stripe : stripes_) {
      for (size_t b = 0; b <= bounds_.size(); ++b) s.cumulative[b] += stripe.buckets[b].load(std::memory_order_relaxed);
      s.sum += stripe.sum.load(std::memory_order_relaxed);
    }
    for (size_t b = 1; b < s.cumulative.size(); ++b) s.cumulative[b] += s.cumulative[b - 1];
    return s;
  }

  // Durations in nanoseconds: 1 µs to 10 s in 1-2.5-5 steps.
  // (Histogram h = Histogram::Durations(); — returned in place.)
  static Histogram Durations() {
    return Histogram({1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000,
                      2'500'000, 5'000'000, 10'000'000, 25'000'000, 50'000'000, 100'000'000, 250'000'000,
                      500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000});
  }
  // Counts: powers of two up to 4096.
  static Histogram Counts() { return Histogram({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}); }

 private:
  struct alignas(64) Stripe {
    std::atomic<uint64_t> buckets[kMaxBounds + 1] = {};
    std::atomic<uint64_t> sum{0};
  };
  std::vector<uint64_t> bounds_;
  Stripe stripes_[kThreadStripes];
};

}  // namespace parendb
