#include "lockmgr/lock_manager.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "base/mix.h"

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

// Sorts a transaction's wants or held locks: usually two or three, which an
// insertion sort handles for less than std::sort's setup; a bulk load's
// thousands (one lock per created document) get std::sort, as an
// insertion sort would make them quadratic.
template <typename T, typename Less>
void SortFew(std::vector<T>* items, Less less) {
  std::vector<T>& v = *items;
  if (v.size() > 16) return std::sort(v.begin(), v.end(), less);
  for (size_t i = 1; i < v.size(); ++i) {
    T x = v[i];
    size_t j = i;
    for (; j > 0 && less(x, v[j - 1]); --j) v[j] = v[j - 1];
    v[j] = x;
  }
}

LockMode Stronger(LockMode a, LockMode b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

}  // namespace

// 8192 slots: up to 4096 resources (256 KB) before idle ones are dropped.
LockManager::LockManager() : resources_(8192), timer_([this] { TimerLoop(); }) {}

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

ResourceId LockManager::StripeOf(ResourceId collection, int stripe) {
  ResourceId id = Mix64(collection + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(stripe + 1));
  return id == 0 ? 1 : id;  // as for documents (see Resolve)
}

bool LockManager::AnyWholeCollection(const std::vector<LockTarget>& targets) {
  return std::any_of(targets.begin(), targets.end(), [](const LockTarget& t) { return t.collection == 0; });
}

// Several ranges of one index are several wants on one resource (adjacent,
// as wants are sorted by id): its latch is taken once.
void LockManager::Latch(const std::vector<Want>& wants) {
  for (size_t i = 0; i < wants.size(); ++i) {
    if (i == 0 || wants[i].resource != wants[i - 1].resource) wants[i].resource->latch.lock();
  }
}

void LockManager::Unlatch(const std::vector<Want>& wants) {
  for (size_t i = 0; i < wants.size(); ++i) {
    if (i == 0 || wants[i].resource != wants[i - 1].resource) wants[i].resource->latch.unlock();
  }
}

void LockManager::Resolve(const std::vector<LockTarget>& targets, std::vector<Want>* wants) {
  // A document target becomes its own lock plus the intention lock on the
  // calling thread's stripe of its collection; a collection target, one
  // lock per stripe. Stripes stay in the table (pinned): there are few, and
  // every transaction in the collection uses one or all of them.
  wants->clear();
  for (const LockTarget& t : targets) {
    if (t.collection == 0) {
      // The whole collection, or (with a range) its _id keys in the range.
      for (int s = 0; s < kStripes; ++s) {
        ResourceId stripe = StripeOf(t.resource, s);
        wants->push_back(Want{nullptr, stripe, t.mode, false, true, t.range});
      }
    } else {
      ResourceId stripe = StripeOf(t.collection, static_cast<int>(ThreadStripe()));
      // The table keeps 0 as its empty mark and stores name 0 as 1: name
      // it 1 here too, so one resource never comes as two wants (whose
      // latch would then be taken twice).
      wants->push_back(Want{nullptr, t.resource == 0 ? 1 : t.resource, t.mode, false, t.range != nullptr, t.range});
      wants->push_back(Want{nullptr, stripe, t.mode, true, true, t.range == nullptr ? t.id_point : nullptr});
    }
  }
  // One want per resource, with the strongest mode asked for it, in id
  // order (the order latches are taken in).
  SortFew(wants, [](const Want& a, const Want& b) { return a.id < b.id; });
  size_t n = 0;
  for (size_t i = 0; i < wants->size(); ++i) {
    const Want& w = (*wants)[i];
    // Ranges of one index stay apart: each is its own lock.
    if (n > 0 && (*wants)[n - 1].id == w.id && w.range == nullptr && (*wants)[n - 1].range == nullptr) {
      Want& merged = (*wants)[n - 1];
      merged.mode = Stronger(merged.mode, w.mode);
      merged.intention = merged.intention && w.intention;
      merged.pin = merged.pin || w.pin;
      continue;
    }
    (*wants)[n++] = w;
  }
  wants->resize(n);
}

bool LockManager::Bind(std::vector<Want>* wants) {
  for (Want& w : *wants) {
    w.resource = resources_.FindOrAdd(w.id, [&] { return new Resource(w.id); });
    if (w.resource == nullptr) return false;
    // Read by Compact only (with the gate exclusive).
    if (w.pin && !w.resource->pinned.load(std::memory_order_relaxed)) {
      w.resource->pinned.store(true, std::memory_order_relaxed);
    }
  }
  return true;
}

void LockManager::MakeRoom(size_t wants) {
  if (resources_.HasRoom(wants)) return;
  // Idle resources are only a cache: drop them (no one points at an idle,
  // unpinned resource while the gate is held exclusively). A cache that
  // fills up is smaller than the documents in use, so every compaction also
  // doubles it, up to 256K slots (4 MB, and 8 MB of idle resources at most).
  // (Doubling only when it refilled within 100 ms, as before, left a
  // 100,000-document read load churning forever: 13 compactions and
  // 173,000 new resources per million reads, 8% of a read's instructions.)
  constexpr size_t kMaxSlots = 1u << 18;
  resources_.Compact(
      wants, [](const Resource& r) { return !r.pinned.load(std::memory_order_relaxed) && r.idle(); }, true, kMaxSlots);
}

bool LockManager::HoldersAllow(const Txn* txn, const Want& w) const {
  if (w.intention && w.resource->non_intentions == 0) return true;
  for (const Holder& h : w.resource->holders) {
    if (h.txn != txn && !CompatibleRanges(h.mode, h.intention, h.range, w.mode, w.intention, w.range)) return false;
  }
  return true;
}

bool LockManager::CanGrant(const Txn* txn, const Want& w, const Waiter* self) const {
  if (!HoldersAllow(txn, w)) return false;
  for (const Queued& q : w.resource->queue) {
    if (q.waiter == self) break;  // only requests ahead of us count
    if (q.waiter->txn != txn && !CompatibleRanges(q.mode, q.intention, q.range, w.mode, w.intention, w.range)) {
      return false;
    }
  }
  return true;
}

bool LockManager::CanGrantAll(const Txn* txn, const std::vector<Want>& wants) const {
  return std::all_of(wants.begin(), wants.end(), [&](const Want& w) { return CanGrant(txn, w, nullptr); });
}

void LockManager::RemoveHolder(Resource* r, const Txn* txn) {
  auto& h = r->holders;
  size_t kept = 0;
  for (const Holder& x : h) {
    if (x.txn != txn) {
      h[kept++] = x;
    } else if (!x.intention) {
      --r->non_intentions;
    }
  }
  h.resize(kept);
}

// A transaction that takes many keys of one resource — a bulk load's
// creates, one key per document and index — would otherwise pile up one
// holder per key, and every later request on the resource would look at
// them all (quadratic). Past a few, its next key widens one of its holders
// to span both, if nothing else holds or waits for a key in between (a lock
// may cover more than needed, never less).
bool LockManager::Widen(Txn* txn, const Want& w) {
  constexpr int kKeysBeforeWidening = 8;
  auto& holders = w.resource->holders;
  Holder* widest = nullptr;
  int mine = 0;
  for (Holder& h : holders) {
    if (h.txn != txn || h.range == nullptr || h.intention != w.intention) continue;
    ++mine;
    if (widest == nullptr || h.widened) widest = &h;
  }
  if (mine < kKeysBeforeWidening) return false;
  KeyRange span = Span(*widest->range, *w.range);
  LockMode mode = static_cast<int>(widest->mode) >= static_cast<int>(w.mode) ? widest->mode : w.mode;
  for (const Holder& h : holders) {
    if (h.txn != txn && !CompatibleRanges(h.mode, h.intention, h.range, mode, w.intention, &span)) return false;
  }
  for (const Queued& q : w.resource->queue) {
    if (q.waiter->txn != txn && !CompatibleRanges(q.mode, q.intention, q.range, mode, w.intention, &span)) return false;
  }
  if (widest->widened) {
    // Ours alone; readers of holders hold this resource's latch or the gate, as we do.
    *const_cast<KeyRange*>(widest->range) = std::move(span);
  } else {
    widest->range = &txn->widened_.emplace_back(std::move(span));
    widest->widened = true;
  }
  widest->mode = mode;
  return true;
}

void LockManager::Grant(Txn* txn, const std::vector<Want>& wants) {
  for (const Want& w : wants) {
    auto& holders = w.resource->holders;
    auto mine = std::find_if(holders.begin(), holders.end(), [&](const Holder& h) { return h.txn == txn; });
    if (mine == holders.end() || w.range != nullptr) {
      // A range is a holder of its own; held_ names each resource once.
      if (mine == holders.end()) txn->held_.push_back(w.resource);
      if (mine != holders.end() && Widen(txn, w)) continue;
      holders.push_back(Holder{txn, w.mode, w.intention, w.range});
      if (!w.intention) ++w.resource->non_intentions;
    } else {
      mine->mode = Stronger(mine->mode, w.mode);
      if (mine->intention && !w.intention) ++w.resource->non_intentions;
      mine->intention = mine->intention && w.intention;
    }
  }
}

LockManager::Outcome LockManager::Acquire(Txn* txn, std::vector<LockTarget>& targets, std::chrono::milliseconds timeout,
                                          const std::function<Callback()>& make_done, Status* why) {
  // First try with only the latches of the resources named: the common
  // case, and the one that lets transactions on different documents run
  // apart.
  if (!AnyWholeCollection(targets)) {
    std::vector<Want>& wants = txn->scratch_;
    std::shared_lock gate(gate_);
    Resolve(targets, &wants);
    if (Bind(&wants)) {
      Latch(wants);
      bool granted = CanGrantAll(txn, wants);
      if (granted) Grant(txn, wants);
      Unlatch(wants);
      if (granted) return Outcome::kGranted;
    }
  }
  std::unique_lock gate(gate_);
  return AcquireGlobal(txn, targets, timeout, make_done, why);
}

LockManager::Outcome LockManager::AcquireGlobal(Txn* txn, std::vector<LockTarget>& targets,
                                                std::chrono::milliseconds timeout,
                                                const std::function<Callback()>& make_done, Status* why) {
  std::vector<Want>& wants = txn->scratch_;
  Resolve(targets, &wants);
  MakeRoom(wants.size());
  Bind(&wants);
  if (CanGrantAll(txn, wants)) {
    Grant(txn, wants);
    return Outcome::kGranted;
  }
  auto now = std::chrono::steady_clock::now();
  auto* w = new Waiter{txn, next_seq_++, wants, now + timeout, nullptr, now};
  for (const Want& want : w->wants) want.resource->queue.push_back(Queued{w, want.mode, want.intention, want.range});
  txn->waiting_.store(w, std::memory_order_release);
  waiting_owner_[txn->owner_] = w;
  if (WouldDeadlock(w)) {
    Dequeue(w);
    txn->waiting_.store(nullptr, std::memory_order_release);
    waiting_owner_.erase(txn->owner_);
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
    std::lock_guard lock(timer_mu_);  // order: gate, then timer_mu_
    ++timer_generation_;
  }
  timer_cv_.notify_one();
  return Outcome::kWaiting;
}

bool LockManager::TryAcquire(Txn* txn, std::vector<LockTarget>& targets) {
  std::vector<Want>& wants = txn->scratch_;
  auto try_grant = [&] {
    bool ok = std::all_of(wants.begin(), wants.end(), [&](const Want& w) {
      bool holds = std::any_of(w.resource->holders.begin(), w.resource->holders.end(),
                               [&](const Holder& h) { return h.txn == txn; });
      // A resource we already hold may be strengthened past the queue (its
      // waiters wait for us anyway); a new one — or a new range — respects
      // first-come order.
      return holds && w.range == nullptr ? HoldersAllow(txn, w) : CanGrant(txn, w, nullptr);
    });
    if (ok) Grant(txn, wants);
    return ok;
  };
  // A whole collection has many stripes: take them with the gate exclusive.
  if (!AnyWholeCollection(targets)) {
    std::shared_lock gate(gate_);
    Resolve(targets, &wants);
    if (Bind(&wants)) {
      Latch(wants);
      bool ok = try_grant();
      Unlatch(wants);
      return ok;
    }
  }
  std::unique_lock gate(gate_);
  Resolve(targets, &wants);
  MakeRoom(wants.size());
  Bind(&wants);
  return try_grant();
}

void LockManager::Blockers(const Waiter* w, std::vector<const Txn*>* out) const {
  for (const Want& want : w->wants) {
    for (const Holder& h : want.resource->holders) {
      if (h.txn != w->txn && !CompatibleRanges(h.mode, h.intention, h.range, want.mode, want.intention, want.range)) {
        out->push_back(h.txn);
      }
    }
    for (const Queued& q : want.resource->queue) {
      if (q.waiter == w) break;
      if (q.waiter->txn != w->txn &&
          !CompatibleRanges(q.mode, q.intention, q.range, want.mode, want.intention, want.range)) {
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
  stats_.wait_ns.Observe(
      static_cast<uint64_t>(std::chrono::nanoseconds(std::chrono::steady_clock::now() - w->started).count()));
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
    std::vector<Resource*>& held = txn->held_;
    // Latches in id order, like Acquire's.
    SortFew(&held, [](const Resource* a, const Resource* b) { return a->id < b->id; });
    std::shared_lock gate(gate_);
    for (Resource* r : held) r->latch.lock();
    // Queues change only under the gate held exclusively, so if none of
    // ours has a waiter now, no one needs waking.
    bool waiters = std::any_of(held.begin(), held.end(), [](const Resource* r) { return !r->queue.empty(); });
    if (!waiters) {
      for (Resource* r : held) {
        RemoveHolder(r, txn);
        r->latch.unlock();
      }
      held.clear();
      txn->widened_.clear();
      return;
    }
    for (Resource* r : held) r->latch.unlock();
  }
  Ready ready;
  {
    std::unique_lock gate(gate_);
    ReleaseGlobal(txn, &ready);
  }
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
    if (!r->queue.empty()) touched.push_back(r);
  }
  txn->held_.clear();
  txn->widened_.clear();
  WakeLocked(touched, ready);
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
    gate_.lock();
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
    }
    gate_.unlock();
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
