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
    std::lock_guard<SpinMutex> lock(mu_);
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

void LockManager::Resolve(std::vector<LockTarget>& targets, std::vector<Want>* wants) {
  // One want per resource, with the strongest mode asked for it.
  std::sort(targets.begin(), targets.end(),
            [](const LockTarget& a, const LockTarget& b) { return a.resource < b.resource; });
  wants->clear();
  for (size_t i = 0; i < targets.size(); ++i) {
    const LockTarget& t = targets[i];
    if (i > 0 && targets[i - 1].resource == t.resource) {
      Want& w = wants->back();
      w.mode = Stronger(w.mode, t.mode);
      w.intention = w.intention && t.intention;
      continue;
    }
    auto it = resources_.find(t.resource);
    if (it == resources_.end()) {
      if (spare_.empty()) {
        it = resources_.emplace(t.resource, Resource()).first;
      } else {
        ResourceMap::node_type node = std::move(spare_.back());
        spare_.pop_back();
        node.key() = t.resource;
        it = resources_.insert(std::move(node)).position;
      }
      it->second.id = t.resource;
    }
    if (t.intention) it->second.pinned = true;
    wants->push_back(Want{&it->second, t.mode, t.intention});
  }
}

void LockManager::Retire(Resource* r) {
  if (r->pinned || !r->idle()) return;
  auto node = resources_.extract(r->id);
  if (spare_.size() < 1024) spare_.push_back(std::move(node));
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
  std::lock_guard<SpinMutex> lock(mu_);
  Resolve(targets, &scratch_wants_);
  bool now = std::all_of(scratch_wants_.begin(), scratch_wants_.end(),
                         [&](const Want& w) { return CanGrant(txn, w, nullptr); });
  if (now) {
    Grant(txn, scratch_wants_);
    return Outcome::kGranted;
  }
  auto* w = new Waiter{txn, next_seq_++, scratch_wants_, std::chrono::steady_clock::now() + timeout, nullptr};
  for (const Want& want : w->wants) want.resource->queue.push_back(Queued{w, want.mode, want.intention});
  txn->waiting_ = w;
  waiting_owner_[txn->owner_] = w;
  if (WouldDeadlock(w)) {
    Dequeue(w);
    txn->waiting_ = nullptr;
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
  timer_cv_.notify_one();
  return Outcome::kWaiting;
}

bool LockManager::TryAcquire(Txn* txn, std::vector<LockTarget>& targets) {
  std::lock_guard<SpinMutex> lock(mu_);
  Resolve(targets, &scratch_wants_);
  for (const Want& w : scratch_wants_) {
    bool holds = std::any_of(w.resource->holders.begin(), w.resource->holders.end(),
                             [&](const Holder& h) { return h.txn == txn; });
    // A resource we already hold may be strengthened past the queue (its
    // waiters wait for us anyway); a new one respects first-come order.
    bool ok = holds ? HoldersAllow(txn, w) : CanGrant(txn, w, nullptr);
    if (!ok) {
      for (const Want& x : scratch_wants_) Retire(x.resource);
      return false;
    }
  }
  Grant(txn, scratch_wants_);
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
    if (t->waiting_ != nullptr) {
      Blockers(static_cast<const Waiter*>(t->waiting_), &next);
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

// Takes a waiter out of every structure that knows it (not freed).
void LockManager::EndWait(Waiter* w) {
  Dequeue(w);
  deadlines_.erase(std::make_pair(w->deadline, w->seq));
  auto ow = waiting_owner_.find(w->txn->owner_);
  if (ow != waiting_owner_.end() && ow->second == w) waiting_owner_.erase(ow);
  w->txn->waiting_ = nullptr;
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
    EndWait(w);
    Grant(w->txn, w->wants);
    ready->emplace_back(std::move(w->done), Status::Ok());
    delete w;
  }
}

void LockManager::Release(Txn* txn) {
  Ready ready;
  {
    std::lock_guard<SpinMutex> lock(mu_);
    std::vector<Resource*>& touched = scratch_touched_;  // reused under mu_: no allocation
    touched.clear();
    if (txn->waiting_ != nullptr) {
      auto* w = static_cast<Waiter*>(txn->waiting_);
      EndWait(w);
      for (const Want& want : w->wants) touched.push_back(want.resource);
      delete w;
    }
    for (void* p : txn->held_) {
      auto* r = static_cast<Resource*>(p);
      auto& h = r->holders;
      h.erase(std::remove_if(h.begin(), h.end(), [&](const Holder& x) { return x.txn == txn; }), h.end());
      if (!r->queue.empty()) {
        touched.push_back(r);
      } else {
        Retire(r);
      }
    }
    txn->held_.clear();
    WakeLocked(touched, &ready);
    for (Resource* r : touched) Retire(r);
  }
  Run(ready);
}

void LockManager::TimerLoop() {
  std::unique_lock<SpinMutex> lock(mu_);
  Ready ready;
  std::vector<Resource*> touched;
  while (!stopping_) {
    if (deadlines_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    auto first = deadlines_.begin();
    // A copy: the entry may be erased (its request granted) while we sleep.
    const std::chrono::steady_clock::time_point deadline = first->first.first;
    if (deadline > std::chrono::steady_clock::now()) {
      timer_cv_.wait_until(lock, deadline);
      continue;
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
    lock.unlock();
    Run(ready);
    lock.lock();
  }
}

}  // namespace parendb
