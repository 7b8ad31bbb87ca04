#include "mvcc/snapshots.h"

#include <algorithm>

namespace parendb {

uint64_t SnapshotRegistry::Acquire() {
  std::lock_guard<SpinMutex> lock(mu_);
  return AcquireLocked();
}

uint64_t SnapshotRegistry::AcquireLocked() {
  uint64_t ts = visible_.load(std::memory_order_acquire);
  // visible_ only grows, so the newest entry is the only one that can match.
  if (!live_.empty() && live_.back().first == ts) {
    ++live_.back().second;
  } else {
    live_.emplace_back(ts, 1);
  }
  live_count_.store(live_.size(), std::memory_order_release);
  return ts;
}

void SnapshotRegistry::Release(uint64_t ts) {
  std::lock_guard<SpinMutex> lock(mu_);
  auto it = std::lower_bound(live_.begin(), live_.end(), std::make_pair(ts, 0));
  if (it != live_.end() && it->first == ts && --it->second == 0) live_.erase(it);
  live_count_.store(live_.size(), std::memory_order_release);
}

void SnapshotRegistry::LiveLocked(std::vector<uint64_t>* out) const {
  out->clear();
  for (const auto& [ts, n] : live_) out->push_back(ts);
}

size_t SnapshotRegistry::live_count() const { return live_count_.load(std::memory_order_acquire); }

}  // namespace parendb
