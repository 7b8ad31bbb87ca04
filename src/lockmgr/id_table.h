// The lock manager's table of resources by 64-bit id.
//
// Built so that looking a resource up writes nothing: the table is an
// open-addressed array of (id, pointer) slots, and once a document's
// resource is in it, every later transaction on that document reads the
// slot and goes straight to the resource (whose own latch it then takes).
// Two threads working on different documents thus share no written cache
// line here. Entries are added concurrently (a compare-and-swap claims an
// empty slot) but only removed by Compact, which the caller runs while no
// one else uses the table (the lock manager's gate held exclusively). Idle
// resources therefore stay until the table is half full: a cache of lock
// heads, bounded by the table's size.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/spin_mutex.h"

namespace parendb {

template <typename T>
class IdTable {
 public:
  explicit IdTable(size_t capacity) : min_capacity_(capacity) { Rebuild(capacity, {}); }
  ~IdTable() {
    for (size_t i = 0; i <= mask_; ++i) delete slots_[i].value.load(std::memory_order_relaxed);
  }
  IdTable(const IdTable&) = delete;
  IdTable& operator=(const IdTable&) = delete;

  // The value for id, made by make() if it is not there yet. Safe to call
  // from many threads at once. Returns null instead of adding when the table
  // is half full: the caller then makes room with Compact (alone).
  template <typename Make>
  T* FindOrAdd(uint64_t id, Make make) {
    uint64_t key = id == 0 ? 1 : id;  // 0 marks an empty slot; 0 and 1 share a value (safe, see ResourceId)
    for (size_t i = key & mask_;; i = (i + 1) & mask_) {
      uint64_t k = slots_[i].key.load(std::memory_order_acquire);
      if (k == key) return ValueAt(i);
      if (k != 0) continue;
      if (count_.load(std::memory_order_relaxed) >= (mask_ + 1) / 2) return nullptr;
      std::unique_ptr<T> fresh(make());
      if (slots_[i].key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
        count_.fetch_add(1, std::memory_order_relaxed);
        T* v = fresh.release();
        slots_[i].value.store(v, std::memory_order_release);
        return v;
      }
      if (k == key) return ValueAt(i);  // another thread added the same id
    }
  }

  // With no other user: deletes every value drop(v) says to, then resizes
  // so that at least `room` more values fit below half full — and, with
  // grow, to at least twice the present capacity (up to max_capacity), for
  // a cache that is too small for what is in use.
  template <typename Drop>
  void Compact(size_t room, Drop drop, bool grow = false, size_t max_capacity = 0) {
    std::vector<std::pair<uint64_t, T*>> kept;
    for (size_t i = 0; i <= mask_; ++i) {
      T* v = slots_[i].value.load(std::memory_order_relaxed);
      if (v == nullptr) continue;
      if (drop(*v)) {
        delete v;
      } else {
        kept.emplace_back(slots_[i].key.load(std::memory_order_relaxed), v);
      }
    }
    size_t capacity = min_capacity_;
    if (grow) capacity = std::max(capacity, std::min((mask_ + 1) * 2, std::max(max_capacity, min_capacity_)));
    while (capacity / 4 < kept.size() + room) capacity *= 2;
    Rebuild(capacity, kept);
  }
  // Whether `room` more values fit below half full (with no other user).
  bool HasRoom(size_t room) const { return count_.load(std::memory_order_relaxed) + room < (mask_ + 1) / 2; }

 private:
  struct Slot {
    std::atomic<uint64_t> key{0};
    std::atomic<T*> value{nullptr};
  };

  // A slot claimed by another thread gets its value a moment later.
  T* ValueAt(size_t i) const {
    for (int spins = 0;; SpinMutex::Backoff(&spins)) {
      if (T* v = slots_[i].value.load(std::memory_order_acquire)) return v;
    }
  }

  void Rebuild(size_t capacity, const std::vector<std::pair<uint64_t, T*>>& values) {
    slots_ = std::make_unique<Slot[]>(capacity);
    mask_ = capacity - 1;
    for (const auto& [key, v] : values) {
      size_t i = key & mask_;
      while (slots_[i].key.load(std::memory_order_relaxed) != 0) i = (i + 1) & mask_;
      slots_[i].key.store(key, std::memory_order_relaxed);
      slots_[i].value.store(v, std::memory_order_relaxed);
    }
    count_.store(values.size(), std::memory_order_relaxed);
  }

  const size_t min_capacity_;  // a power of two
  std::unique_ptr<Slot[]> slots_;
  size_t mask_ = 0;
  alignas(64) std::atomic<size_t> count_{0};  // written by adds only, away from what lookups read
};

}  // namespace parendb
