// Runs one connection's handlers one at a time (src/net/server.cc).
//
// With several I/O threads, a connection's read completion, write
// completion, idle timer and the wakeups other threads post (lock grants,
// commit syncs) could otherwise run at once. A handler that arrives while
// another runs is queued, and the thread running that one runs it next: no
// thread ever waits for another. In the common case nothing is running and
// the cost is one uncontended spin lock taken twice — an asio strand's
// queue, mutex, operation and reference counts were an eighth of a point
// read's instructions. With one thread nothing can overlap, and handlers
// run directly.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <utility>

#include "base/spin_mutex.h"

namespace parendb {

class Serializer {
 public:
  // needed: false when one thread runs every handler anyway.
  explicit Serializer(bool needed) : needed_(needed) {}
  Serializer(const Serializer&) = delete;
  Serializer& operator=(const Serializer&) = delete;

  // Runs fn now, or right after the handler running now (on its thread);
  // a copy of keep is held until fn has run (what fn needs alive). Handlers
  // run in the order they arrive here; each sees everything the ones
  // before it wrote.
  template <typename Fn, typename Keep>
  void Run(Fn&& fn, const Keep& keep) {
    if (!needed_) return fn();
    {
      std::lock_guard lock(mu_);
      if (busy_) {
        queued_.emplace_back([keep, fn = std::forward<Fn>(fn)]() mutable { fn(); });
        return;
      }
      busy_ = true;
    }
    fn();
    RunQueued();
  }

 private:
  void RunQueued() {
    for (;;) {
      std::function<void()> next;
      {
        std::lock_guard lock(mu_);
        if (queued_.empty()) {
          busy_ = false;
          return;
        }
        next = std::move(queued_.front());
        queued_.pop_front();
      }
      next();
    }
  }

  const bool needed_;
  SpinMutex mu_;
  bool busy_ = false;  // a handler is running
  std::deque<std::function<void()>> queued_;
};

}  // namespace parendb
