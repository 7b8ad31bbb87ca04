#include "lockmgr/lock_manager.h"

#include <algorithm>
#include <bit>

namespace parendb {

bool Compatible(LockMode held, bool held_intention, LockMode wanted, bool wanted_intention) {
  // Intention locks only announce document locks below; the documents'
  // own locks decide between two of them.
  if (held_intention && wanted_intention) return true;
  //                            RS     S      X      XB   (wanted)
  static const bool kTable[4][4] = {{true, true, true, false},      // RS held
                                    {true, true, false, false},     // S held
                                    {true, false, false, false},    // X held
                                    {false, false, false, false}};  // XB held
  return kTable[static_cast<int>(held)][static_cast<int>(wanted)];
}

namespace {

LockMode Stronger(LockMode a, LockMode b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

// Calls f(shard) for each shard in mask, lowest first (the lock order).
template <typename F>
void ForEachShard(uint32_t mask, F f) {
  for (; mask != 0; mask &= mask - 1) f(std::countr_zero(mask));
}

}  // namespace

LockManager::LockManager() : timer_([this] { TimerLoop(); }) {}

LockManager::~LockManager() {
  {
    std::lock_guard lock(timer_mu_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  timer_.join();
  for (auto& [deadline, w] : deadlines_) delete w;
}

void LockManager::Run(Ready& ready) {
  for (auto& [cb, st] : ready) cb(std::move(st));
  ready.clear();
}

LockManager::ShardMask LockManager::MaskOf(const std::vector<LockTarget>& targets) {
  ShardMask mask = 0;
  for (const LockTarget& t : targets) mask |= t.collection == 0 ? kAllShards : ShardMask{1} << ShardOf(t.resource);
  return mask;
}

void LockManager::LockShards(ShardMask mask) {
  ForEachShard(mask, [&](int i) { shards_[i].mu.lock(); });
}

void LockManager::UnlockShards(ShardMask mask) {
  ForEachShard(mask, [&](int i) { shards_[i].mu.unlock(); });
}

LockManager::Resource* LockManager::Find(int shard, ResourceId id) {
  Shard& sh = shards_[shard];
  auto it = sh.resources.find(id);
  if (it == sh.resources.end()) {
    if (sh.spare.empty()) {
      it = sh.resources.emplace(id, Resource()).first;
    } else {
      ResourceMap::node_type node = std::move(sh.spare.back());
      sh.spare.pop_back();
      node.key() = id;
      it = sh.resources.insert(std::move(node)).position;
    }
    it->second.id = id;
    it->second.shard = static_cast<uint8_t>(shard);
  }
  return &it->second;
}

void LockManager::Resolve(std::vector<LockTarget>& targets, std::vector<Want>* wants) {
  // A document target becomes its own lock plus the intention lock on its
  // collection's stripe in the same shard; a collection target, one lock
  // per stripe. Stripes stay in the table (pinned): there are few, and
  // making and retiring sixteen of them per transaction would cost more.
  wants->clear();
  for (const LockTarget& t : targets) {
    if (t.collection == 0) {
      for (int s = 0; s < kShards; ++s) {
        wants->push_back(Want{nullptr, t.resource, static_cast<uint8_t>(s), t.mode, false, true});
      }
    } else {
      auto s = static_cast<uint8_t>(ShardOf(t.resource));
      wants->push_back(Want{nullptr, t.resource, s, t.mode, false, false});
      wants->push_back(Want{nullptr, t.collection, s, t.mode, true, true});
    }
  }
  // One want per resource, with the strongest mode asked for it.
  // Usually two or sixteen wants, nearly in order: insertion sort for few.
  auto before = [](const Want& a, const Want& b) { return a.shard != b.shard ? a.shard < b.shard : a.id < b.id; };
  if (wants->size() > 32) std::sort(wants->begin(), wants->end(), before);
  for (size_t i = 1; i < wants->size(); ++i) {
    Want w = (*wants)[i];
    size_t j = i;
    for (; j > 0 && before(w, (*wants)[j - 1]); --j) (*wants)[j] = (*wants)[j - 1];
    (*wants)[j] = w;
  }
  size_t n = 0;
  for (size_t i = 0; i < wants->size(); ++i) {
    const Want& w = (*wants)[i];
    if (n > 0 && (*wants)[n - 1].shard == w.shard && (*wants)[n - 1].id == w.id) {
      Want& merged = (*wants)[n - 1];
      merged.mode = Stronger(merged.mode, w.mode);
      merged.intention = merged.intention && w.intention;
      merged.pin = merged.pin || w.pin;
      continue;
    }
    (*wants)[n++] = w;
  }
  wants->resize(n);
  for (Want& w : *wants) {
    w.resource = Find(w.shard, w.id);
    if (w.pin) w.resource->pinned = true;
  }
}

void LockManager::Retire(Resource* r) {
  if (r->pinned || !r->idle()) return;
  Shard& sh = shards_[r->shard];
  auto node = sh.resources.extract(r->id);
  if (!node.empty() && sh.spare.size() < 256) sh.spare.push_back(std::move(node));
}

bool LockManager::HoldersAllow(const Txn* txn, const Want& w) const {
  for (const Holder& h : w.resource->holders) {
    if (h.txn != txn && !Compatible(h.mode, h.intention, w.mode, w.intention)) return false;
  }
  return true;
}

bool LockManager::CanGrant(const Txn* txn, const Want& w, const Waiter* self) const {
  if (!HoldersAllow(txn, w)) return false;
  for (const Queued& q : w.resource->queue) {
    if (q.waiter == self) break;  // only requests ahead of us count
    if (q.waiter->txn != txn && !Compatible(q.mode, q.intention, w.mode, w.intention)) return false;
  }
  return true;
}

bool LockManager::CanGrantAll(const Txn* txn, const std::vector<Want>& wants) const {
  return std::all_of(wants.begin(), wants.end(), [&](const Want& w) { return CanGrant(txn, w, nullptr); });
}

void LockManager::RemoveHolder(Resource* r, const Txn* txn) {
  auto& h = r->holders;
  h.erase(std::remove_if(h.begin(), h.end(), [&](const Holder& x) { return x.txn == txn; }), h.end());
}

void LockManager::Grant(Txn* txn, const std::vector<Want>& wants) {
  for (const Want& w : wants) {
    auto& holders = w.resource->holders;
    auto mine = std::find_if(holders.begin(), holders.end(), [&](const Holder& h) { return h.txn == txn; });
    if (mine == holders.end()) {
      holders.push_back(Holder{txn, w.mode, w.intention});
      txn->held_.push_back(w.resource);
    } else {
      mine->mode = Stronger(mine->mode, w.mode);
      mine->intention = mine->intention && w.intention;
    }
  }
}

LockManager::Outcome LockManager::Acquire(Txn* txn, std::vector<LockTarget>& targets, std::chrono::milliseconds timeout,
                                          const std::function<Callback()>& make_done, Status* why) {
  // First try with only the shards the targets live in: the common case,
  // and the one that lets transactions on different documents run apart.
  ShardMask mask = MaskOf(targets);
  if (mask != kAllShards) {
    LockShards(mask);
    Resolve(targets, &txn->scratch_);
    if (CanGrantAll(txn, txn->scratch_)) {
      Grant(txn, txn->scratch_);
      UnlockShards(mask);
      return Outcome::kGranted;
    }
    for (const Want& w : txn->scratch_) Retire(w.resource);
    UnlockShards(mask);
  }
  LockShards(kAllShards);
  Outcome out = AcquireGlobal(txn, targets, timeout, make_done, why);
  UnlockShards(kAllShards);
  return out;
}

LockManager::Outcome LockManager::AcquireGlobal(Txn* txn, std::vector<LockTarget>& targets,
                                                std::chrono::milliseconds timeout,
                                                const std::function<Callback()>& make_done, Status* why) {
  std::vector<Want>& wants = txn->scratch_;
  Resolve(targets, &wants);
  if (CanGrantAll(txn, wants)) {
    Grant(txn, wants);
    return Outcome::kGranted;
  }
  auto* w = new Waiter{txn, next_seq_++, wants, std::chrono::steady_clock::now() + timeout, nullptr};
  for (const Want& want : w->wants) want.resource->queue.push_back(Queued{w, want.mode, want.intention});
  txn->waiting_.store(w, std::memory_order_release);
  waiting_owner_[txn->owner_] = w;
  if (WouldDeadlock(w)) {
    Dequeue(w);
    txn->waiting_.store(nullptr, std::memory_order_release);
    waiting_owner_.erase(txn->owner_);
    for (const Want& want : w->wants) Retire(want.resource);
    delete w;
    stats_.deadlocks.fetch_add(1, std::memory_order_relaxed);
    *why = Status(ErrorCode::kDeadlock, "waiting for these locks would deadlock with a transaction that waits, "
                                        "directly or through its connection, for this one");
    return Outcome::kDenied;
  }
  w->done = make_done();
  deadlines_.emplace(std::make_pair(w->deadline, w->seq), w);
  stats_.waits.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(timer_mu_);  // order: shards, then timer_mu_
    ++timer_generation_;
  }
  timer_cv_.notify_one();
  return Outcome::kWaiting;
}

bool LockManager::TryAcquire(Txn* txn, std::vector<LockTarget>& targets) {
  ShardMask mask = MaskOf(targets);
  LockShards(mask);
  std::vector<Want>& wants = txn->scratch_;
  Resolve(targets, &wants);
  for (const Want& w : wants) {
    bool holds = std::any_of(w.resource->holders.begin(), w.resource->holders.end(),
                             [&](const Holder& h) { return h.txn == txn; });
    // A resource we already hold may be strengthened past the queue (its
    // waiters wait for us anyway); a new one respects first-come order.
    bool ok = holds ? HoldersAllow(txn, w) : CanGrant(txn, w, nullptr);
    if (!ok) {
      for (const Want& x : wants) Retire(x.resource);
      UnlockShards(mask);
      return false;
    }
  }
  Grant(txn, wants);
  UnlockShards(mask);
  return true;
}

void LockManager::Blockers(const Waiter* w, std::vector<const Txn*>* out) const {
  for (const Want& want : w->wants) {
    for (const Holder& h : want.resource->holders) {
      if (h.txn != w->txn && !Compatible(h.mode, h.intention, want.mode, want.intention)) out->push_back(h.txn);
    }
    for (const Queued& q : want.resource->queue) {
      if (q.waiter == w) break;
      if (q.waiter->txn != w->txn && !Compatible(q.mode, q.intention, want.mode, want.intention)) {
        out->push_back(q.waiter->txn);
      }
    }
  }
}

bool LockManager::WouldDeadlock(const Waiter* start) const {
  // Waits-for graph: a waiter waits for the holders and earlier queued
  // requests it conflicts with; a holder whose connection is blocked in
  // another acquire waits for that acquire.
  std::vector<const Txn*> stack{start->txn};
  std::vector<const Txn*> seen{start->txn};
  std::vector<const Txn*> next;
  while (!stack.empty()) {
    const Txn* t = stack.back();
    stack.pop_back();
    next.clear();
    if (const Waiter* tw = t->waiting_.load(std::memory_order_relaxed)) {
      Blockers(tw, &next);
    } else {
      auto ow = waiting_owner_.find(t->owner_);
      if (ow != waiting_owner_.end() && ow->second->txn != t) next.push_back(ow->second->txn);
    }
    for (const Txn* n : next) {
      if (n == start->txn) return true;
      if (std::find(seen.begin(), seen.end(), n) == seen.end()) {
        seen.push_back(n);
        stack.push_back(n);
      }
    }
  }
  return false;
}

void LockManager::Dequeue(Waiter* w) {
  for (const Want& want : w->wants) {
    auto& q = want.resource->queue;
    q.erase(std::remove_if(q.begin(), q.end(), [&](const Queued& e) { return e.waiter == w; }), q.end());
  }
}

// Takes a waiter out of every structure that knows it (not freed). Clearing
// txn->waiting_ comes last: its owner may then read held_ without a lock.
void LockManager::EndWait(Waiter* w) {
  Dequeue(w);
  deadlines_.erase(std::make_pair(w->deadline, w->seq));
  auto ow = waiting_owner_.find(w->txn->owner_);
  if (ow != waiting_owner_.end() && ow->second == w) waiting_owner_.erase(ow);
  w->txn->waiting_.store(nullptr, std::memory_order_release);
}

void LockManager::WakeLocked(const std::vector<Resource*>& touched, Ready* ready) {
  std::vector<Waiter*> candidates;
  for (Resource* r : touched) {
    for (const Queued& q : r->queue) candidates.push_back(q.waiter);
  }
  if (candidates.empty()) return;
  std::sort(candidates.begin(), candidates.end(), [](Waiter* a, Waiter* b) { return a->seq < b->seq; });
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (Waiter* w : candidates) {
    bool all = std::all_of(w->wants.begin(), w->wants.end(), [&](const Want& want) { return CanGrant(w->txn, want, w); });
    if (!all) continue;
    Grant(w->txn, w->wants);
    EndWait(w);
    ready->emplace_back(std::move(w->done), Status::Ok());
    delete w;
  }
}

void LockManager::Release(Txn* txn) {
  // Only this transaction's own Acquire sets waiting_, so null stays null.
  if (txn->waiting_.load(std::memory_order_acquire) == nullptr) {
    if (txn->held_.empty()) return;
    ShardMask mask = 0;
    for (const Resource* r : txn->held_) mask |= ShardMask{1} << r->shard;
    LockShards(mask);
    // Queues change only with every shard held, so if none of ours has a
    // waiter now, no one needs waking.
    bool waiters = std::any_of(txn->held_.begin(), txn->held_.end(), [](const Resource* r) { return !r->queue.empty(); });
    if (!waiters) {
      for (Resource* r : txn->held_) {
        RemoveHolder(r, txn);
        Retire(r);
      }
      txn->held_.clear();
      UnlockShards(mask);
      return;
    }
    UnlockShards(mask);
  }
  Ready ready;
  LockShards(kAllShards);
  ReleaseGlobal(txn, &ready);
  UnlockShards(kAllShards);
  Run(ready);
}

void LockManager::ReleaseGlobal(Txn* txn, Ready* ready) {
  std::vector<Resource*> touched;
  if (Waiter* w = txn->waiting_.load(std::memory_order_relaxed)) {
    EndWait(w);
    for (const Want& want : w->wants) touched.push_back(want.resource);
    delete w;
  }
  for (Resource* r : txn->held_) {
    RemoveHolder(r, txn);
    if (!r->queue.empty()) {
      touched.push_back(r);
    } else {
      Retire(r);
    }
  }
  txn->held_.clear();
  WakeLocked(touched, ready);
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (Resource* r : touched) Retire(r);
}

void LockManager::TimerLoop() {
  std::unique_lock timer_lock(timer_mu_);
  Ready ready;
  std::vector<Resource*> touched;
  while (!stopping_) {
    uint64_t generation = timer_generation_;
    timer_lock.unlock();
    // Ends every wait whose deadline has passed; notes the next deadline.
    bool any = false;
    std::chrono::steady_clock::time_point next;
    LockShards(kAllShards);
    auto now = std::chrono::steady_clock::now();
    while (!deadlines_.empty()) {
      auto first = deadlines_.begin();
      if (first->first.first > now) {
        any = true;
        next = first->first.first;
        break;
      }
      Waiter* w = first->second;
      EndWait(w);
      stats_.timeouts.fetch_add(1, std::memory_order_relaxed);
      ready.emplace_back(std::move(w->done), Status(ErrorCode::kLockTimeout, "locks not granted in time"));
      touched.clear();
      for (const Want& want : w->wants) touched.push_back(want.resource);
      delete w;
      WakeLocked(touched, &ready);
      for (Resource* r : touched) Retire(r);
    }
    UnlockShards(kAllShards);
    Run(ready);
    timer_lock.lock();
    auto woken = [&] { return stopping_ || timer_generation_ != generation; };
    if (any) {
      timer_cv_.wait_until(timer_lock, next, woken);
    } else {
      timer_cv_.wait(timer_lock, woken);
    }
  }
}

}  // namespace parendb
