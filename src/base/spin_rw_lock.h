// A reader-writer lock for critical sections of a few hundred nanoseconds:
// like SpinMutex, waiting spins and then yields instead of parking the
// thread in the kernel (std::shared_mutex's futex calls cost more than the
// sections it would guard). Readers share; a writer excludes everyone.
// Four bytes, not padded: the owner places it, ideally beside what it
// guards (a document's versions), so taking it brings the data along.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/spin_mutex.h"

namespace parendb {

class SpinRwLock {
 public:
  void lock_shared() {
    for (int spins = 0;; SpinMutex::Backoff(&spins)) {
      int32_t v = state_.load(std::memory_order_relaxed);
      if (v >= 0 && state_.compare_exchange_weak(v, v + 1, std::memory_order_acquire)) return;
    }
  }
  void unlock_shared() { state_.fetch_sub(1, std::memory_order_release); }

  void lock() {
    for (int spins = 0;; SpinMutex::Backoff(&spins)) {
      int32_t v = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(v, kWriter, std::memory_order_acquire)) {
        return;
      }
    }
  }
  void unlock() { state_.store(0, std::memory_order_release); }

 private:
  static constexpr int32_t kWriter = -1;
  std::atomic<int32_t> state_{0};  // readers, or kWriter
};

}  // namespace parendb
