// A mutex for critical sections of a few hundred nanoseconds that many
// threads enter (the lock manager, the commit installer): waiting by
// spinning costs less than parking a thread in the kernel and waking it,
// which is what std::mutex does under contention. After a short spin it
// yields, so a preempted holder still gets the CPU back.
#pragma once

#include <atomic>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace parendb {

class SpinMutex {
 public:
  void lock() {
    for (int spins = 0; locked_.exchange(true, std::memory_order_acquire);) {
      while (locked_.load(std::memory_order_relaxed)) Backoff(&spins);
    }
  }
  bool try_lock() { return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() { locked_.store(false, std::memory_order_release); }

  // One step of waiting: the CPU's spin-wait hint for a short while, then
  // yielding, so a preempted holder gets the CPU back (also SpinRwLock's).
  static void Backoff(int* spins) {
    if (++*spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }

 private:
  // Not padded to a cache line of its own: the owner places it, ideally on
  // the same line as the data it guards, so taking the lock brings the
  // data along.
  std::atomic<bool> locked_{false};
};

}  // namespace parendb
