#include "lockmgr/lock_manager.h"

#include <algorithm>

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

}  // namespace

LockManager::LockManager() : timer_([this] { TimerLoop(); }) {}

LockManager::~LockManager() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  timer_cv_.notify_all();
  timer_.join();
  for (auto& [id, tl] : txns_) delete tl.waiting;
}

void LockManager::Run(Ready& ready) {
  for (auto& [cb, st] : ready) cb(std::move(st));
  ready.clear();
}

std::vector<LockManager::Want> LockManager::Resolve(std::vector<LockTarget>& targets) {
  // One want per resource, with the strongest mode asked for it.
  std::sort(targets.begin(), targets.end(),
            [](const LockTarget& a, const LockTarget& b) { return a.resource < b.resource; });
  std::vector<Want> wants;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!wants.empty() && *wants.back().key == targets[i].resource) {
      Want& w = wants.back();
      w.mode = Stronger(w.mode, targets[i].mode);
      w.intention = w.intention && targets[i].intention;
      continue;
    }
    auto it = resources_.try_emplace(targets[i].resource).first;
    wants.push_back(Want{&it->second, &it->first, targets[i].mode, targets[i].intention});
  }
  return wants;
}

bool LockManager::CanGrant(TxnId txn, const Want& w, const Waiter* self) const {
  for (const Holder& h : w.resource->holders) {
    if (h.txn != txn && !Compatible(h.mode, h.intention, w.mode, w.intention)) return false;
  }
  for (const Queued& q : w.resource->queue) {
    if (q.waiter == self) break;  // only requests ahead of us count
    if (q.waiter->txn != txn && !Compatible(q.mode, q.intention, w.mode, w.intention)) return false;
  }
  return true;
}

void LockManager::Grant(TxnId txn, const std::vector<Want>& wants) {
  TxnLocks& tl = txns_[txn];
  for (const Want& w : wants) {
    auto& holders = w.resource->holders;
    auto mine = std::find_if(holders.begin(), holders.end(), [&](const Holder& h) { return h.txn == txn; });
    if (mine == holders.end()) {
      holders.push_back(Holder{txn, w.mode, w.intention});
      tl.held.emplace_back(w.resource, w.key);
    } else {
      mine->mode = Stronger(mine->mode, w.mode);
      mine->intention = mine->intention && w.intention;
    }
  }
}

LockManager::Outcome LockManager::Acquire(TxnId txn, OwnerId owner, std::vector<LockTarget> targets,
                                          std::chrono::milliseconds timeout, Callback done, Status* why) {
  std::lock_guard lock(mu_);
  TxnLocks& tl = txns_[txn];
  tl.owner = owner;
  std::vector<Want> wants = Resolve(targets);
  bool now = std::all_of(wants.begin(), wants.end(), [&](const Want& w) { return CanGrant(txn, w, nullptr); });
  if (now) {
    Grant(txn, wants);
    return Outcome::kGranted;
  }
  auto* w = new Waiter{txn, owner, next_seq_++, std::move(wants), std::chrono::steady_clock::now() + timeout,
                       std::move(done)};
  for (const Want& want : w->wants) want.resource->queue.push_back(Queued{w, want.mode, want.intention});
  tl.waiting = w;
  waiting_owner_[owner] = w;
  if (WouldDeadlock(w)) {
    Dequeue(w);
    tl.waiting = nullptr;
    waiting_owner_.erase(owner);
    for (const Want& want : w->wants) GarbageCollect(want.resource, want.key);
    delete w;
    stats_.deadlocks.fetch_add(1, std::memory_order_relaxed);
    *why = Status(ErrorCode::kDeadlock, "waiting for these locks would deadlock with a transaction that waits, "
                                        "directly or through its connection, for this one");
    return Outcome::kDenied;
  }
  deadlines_.emplace(std::make_pair(w->deadline, w->seq), w);
  stats_.waits.fetch_add(1, std::memory_order_relaxed);
  timer_cv_.notify_one();
  return Outcome::kWaiting;
}

bool LockManager::TryAcquire(TxnId txn, OwnerId owner, const std::vector<LockTarget>& targets) {
  std::lock_guard lock(mu_);
  TxnLocks& tl = txns_[txn];
  tl.owner = owner;
  std::vector<LockTarget> copy = targets;
  std::vector<Want> wants = Resolve(copy);
  for (const Want& w : wants) {
    bool holds = std::any_of(w.resource->holders.begin(), w.resource->holders.end(),
                             [&](const Holder& h) { return h.txn == txn; });
    // A resource we already hold may be strengthened past the queue (its
    // waiters wait for us anyway); a new one respects first-come order.
    bool ok = true;
    for (const Holder& h : w.resource->holders) {
      if (h.txn != txn && !Compatible(h.mode, h.intention, w.mode, w.intention)) ok = false;
    }
    if (ok && !holds) ok = CanGrant(txn, w, nullptr);
    if (!ok) {
      for (const Want& x : wants) GarbageCollect(x.resource, x.key);
      return false;
    }
  }
  Grant(txn, wants);
  return true;
}

void LockManager::Blockers(const Waiter* w, std::vector<TxnId>* out) const {
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
  std::vector<TxnId> stack{start->txn};
  std::vector<TxnId> seen{start->txn};
  std::vector<TxnId> next;
  while (!stack.empty()) {
    TxnId t = stack.back();
    stack.pop_back();
    next.clear();
    auto it = txns_.find(t);
    if (it == txns_.end()) continue;
    if (it->second.waiting != nullptr) {
      Blockers(it->second.waiting, &next);
    } else {
      auto ow = waiting_owner_.find(it->second.owner);
      if (ow != waiting_owner_.end() && ow->second->txn != t) next.push_back(ow->second->txn);
    }
    for (TxnId n : next) {
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

void LockManager::GarbageCollect(Resource* r, const std::string* key) {
  if (r->holders.empty() && r->queue.empty()) resources_.erase(*key);
}

void LockManager::WakeLocked(std::vector<Resource*> touched, Ready* ready) {
  std::vector<Waiter*> candidates;
  for (Resource* r : touched) {
    for (const Queued& q : r->queue) candidates.push_back(q.waiter);
  }
  std::sort(candidates.begin(), candidates.end(), [](Waiter* a, Waiter* b) { return a->seq < b->seq; });
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (Waiter* w : candidates) {
    bool all = std::all_of(w->wants.begin(), w->wants.end(), [&](const Want& want) { return CanGrant(w->txn, want, w); });
    if (!all) continue;
    Dequeue(w);
    deadlines_.erase(std::make_pair(w->deadline, w->seq));
    waiting_owner_.erase(w->owner);
    txns_[w->txn].waiting = nullptr;
    Grant(w->txn, w->wants);
    ready->emplace_back(std::move(w->done), Status::Ok());
    delete w;
  }
}

void LockManager::ReleaseLocked(TxnId txn, Ready* ready) {
  auto it = txns_.find(txn);
  if (it == txns_.end()) return;
  TxnLocks tl = std::move(it->second);
  txns_.erase(it);
  std::vector<Resource*> touched;
  std::vector<std::pair<Resource*, const std::string*>> all = tl.held;
  if (tl.waiting != nullptr) {
    Waiter* w = tl.waiting;
    Dequeue(w);
    deadlines_.erase(std::make_pair(w->deadline, w->seq));
    auto ow = waiting_owner_.find(w->owner);
    if (ow != waiting_owner_.end() && ow->second == w) waiting_owner_.erase(ow);
    for (const Want& want : w->wants) all.emplace_back(want.resource, want.key);
    delete w;
  }
  for (auto& [r, key] : tl.held) {
    auto& h = r->holders;
    h.erase(std::remove_if(h.begin(), h.end(), [&](const Holder& x) { return x.txn == txn; }), h.end());
  }
  for (auto& [r, key] : all) touched.push_back(r);
  WakeLocked(touched, ready);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  for (auto& [r, key] : all) GarbageCollect(r, key);
}

void LockManager::Release(TxnId txn) {
  Ready ready;
  {
    std::lock_guard lock(mu_);
    ReleaseLocked(txn, &ready);
  }
  Run(ready);
}

void LockManager::TimerLoop() {
  std::unique_lock lock(mu_);
  Ready ready;
  while (!stopping_) {
    if (deadlines_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    auto first = deadlines_.begin();
    auto now = std::chrono::steady_clock::now();
    if (first->first.first > now) {
      timer_cv_.wait_until(lock, first->first.first);
      continue;
    }
    Waiter* w = first->second;
    deadlines_.erase(first);
    Dequeue(w);
    waiting_owner_.erase(w->owner);
    txns_[w->txn].waiting = nullptr;
    stats_.timeouts.fetch_add(1, std::memory_order_relaxed);
    ready.emplace_back(std::move(w->done), Status(ErrorCode::kLockTimeout, "locks not granted in time"));
    std::vector<Resource*> touched;
    std::vector<std::pair<Resource*, const std::string*>> keys;
    for (const Want& want : w->wants) {
      touched.push_back(want.resource);
      keys.emplace_back(want.resource, want.key);
    }
    delete w;
    WakeLocked(touched, &ready);
    for (auto& [r, key] : keys) GarbageCollect(r, key);
    lock.unlock();
    Run(ready);
    lock.lock();
  }
}

}  // namespace parendb
