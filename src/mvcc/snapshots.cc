#include "mvcc/snapshots.h"

namespace parendb {

uint64_t SnapshotRegistry::Acquire() {
  std::lock_guard lock(mu_);
  uint64_t ts = visible_.load(std::memory_order_acquire);
  ++live_[ts];
  return ts;
}

void SnapshotRegistry::Release(uint64_t ts) {
  std::lock_guard lock(mu_);
  auto it = live_.find(ts);
  if (it != live_.end() && --it->second == 0) live_.erase(it);
}

std::vector<uint64_t> SnapshotRegistry::Live() const {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> out;
  out.reserve(live_.size());
  for (const auto& [ts, n] : live_) out.push_back(ts);
  return out;
}

size_t SnapshotRegistry::live_count() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

}  // namespace parendb
