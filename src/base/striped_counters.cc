#include "base/striped_counters.h"

namespace parendb {

size_t ThreadCounterStripe() {
  static std::atomic<size_t> next{0};
  thread_local const size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kCounterStripes;
  return stripe;
}

}  // namespace parendb
