// A reader-writer lock whose readers on different threads write different
// cache lines (a "big reader" lock).
//
// A reader announces itself in its thread's slot (see thread_stripe.h) and
// then checks that no writer is in; a writer raises its flag and waits for
// every slot to empty. Read-locking therefore costs two atomic operations
// on a line the reader's own core already holds, where a one-word rwlock
// moves its line between the cores of any two readers. Writing costs a
// look at every slot: use it where writes are rare (the set of _ids in a
// collection, the lock manager's slow paths).
//
// Writers are preferred: once a writer waits, new readers wait behind it,
// so readers can not starve it. The price: it is not recursive — a thread
// that holds it shared must not take it again, or a writer arriving in
// between would wait for the thread while the thread waits for the writer.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/spin_mutex.h"
#include "base/thread_stripe.h"

namespace parendb {

class DistributedRwLock {
 public:
  void lock_shared() {
    std::atomic<uint32_t>& mine = slots_[ThreadStripe()].readers;
    for (int spins = 0;;) {
      // Announce, then look: a writer that raised its flag before our
      // announcement waits for it to go away (seq_cst on both sides, so at
      // least one of the two sees the other).
      mine.fetch_add(1, std::memory_order_seq_cst);
      if (!writer_.load(std::memory_order_seq_cst)) return;
      mine.fetch_sub(1, std::memory_order_release);
      while (writer_.load(std::memory_order_relaxed)) SpinMutex::Backoff(&spins);
    }
  }
  // Must run on the thread that took the lock (its slot is the thread's).
  void unlock_shared() { slots_[ThreadStripe()].readers.fetch_sub(1, std::memory_order_release); }

  void lock() {
    writers_.lock();
    writer_.store(true, std::memory_order_seq_cst);
    for (Slot& s : slots_) {
      for (int spins = 0; s.readers.load(std::memory_order_seq_cst) != 0;) SpinMutex::Backoff(&spins);
    }
  }
  void unlock() {
    writer_.store(false, std::memory_order_release);
    writers_.unlock();
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint32_t> readers{0};
  };
  Slot slots_[kThreadStripes];
  // Read by every reader, written only by writers: stays in every core's
  // cache while no one writes.
  alignas(64) std::atomic<bool> writer_{false};
  SpinMutex writers_;  // one writer at a time
};

}  // namespace parendb
