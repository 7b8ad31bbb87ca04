// How a selection finds and locks its documents (sections 5 and 10 of the
// contract), and how writes keep indexes' locked keys safe. docs/indexes.md
// explains why this stays strictly serializable.
//
// A selection by _id locks those documents. One the planner answers with an
// index locks the index's key ranges it reads and every document whose key
// lies in them (whether or not it matches the rest of the condition: a
// write that makes it match must wait). A write that moves a document's key
// in an index — create, delete, or a changed value — locks the old and the
// new key at once or fails with conflict, so no document enters or leaves a
// range another transaction holds. Everything else locks the collection.
//
// Locks are taken before the documents are read (conservative two-phase
// locking), so an index plan predicts its documents and, for an ordered
// walk with a limit, how far it reads, from the newest committed state.
// Once the locks are granted, binding checks the prediction; if it missed
// (a commit in between), every lock is let go and the acquire starts again.
// Nothing has been read or written by then, so that is safe; after a few
// misses the selection locks its collection instead.
#include <algorithm>
#include <deque>

#include "eval/evaluator.h"
#include "eval/evaluator_state.h"
#include "index/key.h"

namespace parendb {
namespace {

// More documents than this in an index plan's ranges: lock the collection.
constexpr size_t kMaxDocumentLocks = 4096;
// Acquires made again for missed predictions before locking the collection.
constexpr int kMaxAttempts = 3;
// Index entries read per batch of an ordered walk.
constexpr size_t kWalkBatch = 256;

struct Found {
  std::string key;  // at the index's path (an ordered walk: the order's)
  DocId id;
  DocRef doc;
};

// What an index plan finds at ts.
struct Findings {
  std::vector<DocId> in_ranges;  // every document whose key lies in the ranges read
  std::vector<Found> matches;    // those that satisfy the condition, bound order
  // An ordered walk that stopped early: the last key it needed (the key
  // of the last document bound; the rest of the range is not needed).
  bool stopped = false;
  std::string bound;
  // Not a walk: every entry read, and each scan's index changes() then.
  std::vector<Index::Hit> hits;
  std::vector<uint64_t> changes;
};

// How many documents a selection binds at most.
size_t Wanted(const Evaluator::Selection& s) {
  size_t n = s.order.limit >= 0 ? static_cast<size_t>(s.order.limit) : SIZE_MAX;
  return s.multi ? n : std::min<size_t>(n, 1);
}

bool Sooner(const Found& a, const Found& b, bool desc) {
  int c = a.key.compare(b.key);
  if (c != 0) return desc ? c > 0 : c < 0;
  return a.id < b.id;  // ties by _id, in either direction
}

// Whether the entries s->hits were read from are all still as they were.
bool HitsCurrent(const Evaluator::Selection& s) {
  if (s.plan.walk_in_order || s.hit_changes.size() != s.plan.scans.size()) return false;
  for (size_t i = 0; i < s.plan.scans.size(); ++i) {
    if (s.plan.scans[i].index->changes() != s.hit_changes[i]) return false;
  }
  return true;
}

// The documents of an index plan at ts. With reuse, the entries are
// s.hits (HitsCurrent said they are what a search would find).
void Find(const Evaluator::Selection& s, uint64_t ts, bool reuse, Findings* f) {
  *f = Findings();
  const Collection& c = *s.collection;
  auto consider = [&](const Index& index, const Index::Hit& h) {
    bool only;
    DocRef doc = c.Get(h.id, ts, &only);
    if (doc == nullptr) return;
    // The entry may be another version's (kept for a snapshot): then the
    // visible version has an entry of its own. With one version, the
    // entry is that version's (Engine::Reindex), and needs no parsing.
    if (!only && index.KeyOf(doc->view()) != h.key) return;
    f->in_ranges.push_back(h.id);
    if (s.plan.exact || Test(s.condition, doc->view())) {
      f->matches.push_back(Found{h.key, h.id, std::move(doc)});
    }
  };
  std::vector<Index::Hit> hits;
  if (s.plan.walk_in_order) {
    const Index& index = *s.plan.scans[0].index;
    const KeyRange& range = s.plan.scans[0].ranges[0];
    DocId hits_after;
    size_t want = Wanted(s);
    if (want == 0) {
      f->stopped = true;  // binds nothing: needs no key at all
      return;
    }
    bool by_id = &index == c.id_index().get();
    std::string resume;
    while (true) {
      hits.clear();
      if (by_id) {
        c.CollectIds(range, s.order.desc, kWalkBatch, &hits, resume.empty() ? nullptr : &hits_after);
      } else {
        index.Collect(range, s.order.desc, kWalkBatch, &hits, resume);
      }
      for (const Index::Hit& h : hits) {
        // Enough: stop at the first key after the last one bound (its
        // ties are all read, so the first N by key and _id are known).
        if (f->matches.size() >= want && h.key != f->matches.back().key) {
          f->stopped = true;
          f->bound = f->matches.back().key;
          break;
        }
        consider(index, h);
      }
      if (f->stopped || hits.size() < kWalkBatch) break;
      resume = hits.back().key;
      AppendEntryId(hits.back().id, &resume);
      hits_after = hits.back().id;
    }
    std::stable_sort(f->matches.begin(), f->matches.end(),
                     [&](const Found& a, const Found& b) { return Sooner(a, b, s.order.desc); });
    if (f->matches.size() > want) f->matches.resize(want);
  } else if (reuse) {
    // s.hits hold every scan's entries, each marked with its scan.
    for (const Index::Hit& h : s.hits) consider(*s.plan.scans[h.scan].index, h);
  } else {
    for (size_t i = 0; i < s.plan.scans.size(); ++i) {
      const IndexScan& scan = s.plan.scans[i];
      uint64_t changes = 0;
      for (size_t r = 0; r < scan.ranges.size(); ++r) {
        size_t first = f->hits.size();
        uint64_t now = 0;
        if (scan.index == c.id_index()) {
          c.CollectIds(scan.ranges[r], false, 0, &f->hits);
          now = UINT64_MAX;  // the _ids have no change count: never reused
        } else {
          scan.index->Collect(scan.ranges[r], false, 0, &f->hits, {}, &now);
        }
        // Ranges read at different moments: keep the earliest count, so a
        // change between them shows as a change.
        if (r == 0) changes = now;
        if (now != changes) changes = UINT64_MAX;
        for (size_t h = first; h < f->hits.size(); ++h) {
          f->hits[h].scan = static_cast<uint32_t>(i);
          consider(*scan.index, f->hits[h]);
        }
      }
      f->changes.push_back(changes);
    }
  }
  if (!s.plan.walk_in_order) {
    // Ranges may overlap, and | may use several indexes: one each, by _id.
    std::sort(f->matches.begin(), f->matches.end(), [](const Found& a, const Found& b) { return a.id < b.id; });
    f->matches.erase(std::unique(f->matches.begin(), f->matches.end(),
                                 [](const Found& a, const Found& b) { return a.id == b.id; }),
                     f->matches.end());
  }
  std::sort(f->in_ranges.begin(), f->in_ranges.end());
  f->in_ranges.erase(std::unique(f->in_ranges.begin(), f->in_ranges.end()), f->in_ranges.end());
}

// The part of an ordered walk's range that it needs.
KeyRange NeededRange(const Evaluator::Selection& s, const Findings& f) {
  KeyRange r = s.plan.scans[0].ranges[0];
  if (!f.stopped) return r;
  if (Wanted(s) == 0) {
    r.lo = r.hi = "";
    r.lo_open = true;  // empty
    r.lo_unbounded = r.hi_unbounded = false;
    return r;
  }
  if (s.order.desc) {
    r.lo = f.bound;
    r.lo_open = r.lo_unbounded = false;
  } else {
    r.hi = f.bound;
    r.hi_open = r.hi_unbounded = false;
  }
  return r;
}

// Whether `held` covers every key of `needed`.
bool Covers(const KeyRange& held, const KeyRange& needed) {
  if (needed.empty()) return true;
  if (!held.lo_unbounded) {
    if (needed.lo_unbounded) return false;
    int c = needed.lo.compare(held.lo);
    if (c < 0 || (c == 0 && held.lo_open && !needed.lo_open)) return false;
  }
  if (!held.hi_unbounded) {
    if (needed.hi_unbounded) return false;
    int c = needed.hi.compare(held.hi);
    if (c > 0 || (c == 0 && held.hi_open && !needed.hi_open)) return false;
  }
  return true;
}

}  // namespace

// Locks to ask for, from what the newest committed state holds. `also`:
// documents a bind found that the last prediction missed.
static void Predict(Evaluator::Selection* s, const std::vector<DocId>& also) {
  s->range_locks.clear();
  s->predicted.clear();
  s->hits.clear();
  s->hit_changes.clear();
  if (!s->plan.by_index || s->whole_collection) return;
  Findings f;
  Find(*s, kLatest, false, &f);
  s->hits = std::move(f.hits);
  s->hit_changes = std::move(f.changes);
  s->predicted = std::move(f.in_ranges);
  s->predicted.insert(s->predicted.end(), also.begin(), also.end());
  std::sort(s->predicted.begin(), s->predicted.end());
  s->predicted.erase(std::unique(s->predicted.begin(), s->predicted.end()), s->predicted.end());
  if (s->predicted.size() > kMaxDocumentLocks) {
    s->whole_collection = true;
    s->predicted.clear();
    return;
  }
  if (s->plan.walk_in_order) {
    const Index* index = s->plan.scans[0].index.get();
    s->range_locks.push_back({index->lock_name(), index == s->collection->id_index().get(), NeededRange(*s, f)});
    return;
  }
  for (const IndexScan& scan : s->plan.scans) {
    bool ids = scan.index == s->collection->id_index();
    for (const KeyRange& r : scan.ranges) s->range_locks.push_back({scan.index->lock_name(), ids, r});
  }
}

void Evaluator::PlanAccess(Selection* s) {
  s->whole_collection = false;
  s->plan = s->by_ids ? Plan()
                      : PlanSelection(s->condition, parendb::Indexes{s->collection->indexes(), &s->collection->id_index()}, s->order);
  Predict(s, {});
}

void Evaluator::RequestLocks(Transaction* t) {
  std::vector<LockTarget>& targets = targets_;  // reused: no allocation per acquire
  targets.clear();
  for (Selection* s : t->selections) {
    LockMode mode = ModeFor(s->lock, t->read_only);
    ResourceId coll = s->lock_name;
    if (s->by_ids) {
      for (const DocId& id : s->ids) targets.push_back(LockTarget{DocumentResource(coll, id), mode, coll});
    } else if (s->by_index()) {
      for (const Selection::RangeLock& r : s->range_locks) {
        // _id keys: the collection's stripes, meeting creates' keys.
        targets.push_back(r.id_keys ? LockTarget{coll, mode, 0, &r.range} : LockTarget{r.index, mode, coll, &r.range});
      }
      for (const DocId& id : s->predicted) targets.push_back(LockTarget{DocumentResource(coll, id), mode, coll});
    } else {
      targets.push_back(LockTarget{coll, mode});
    }
  }
  if (targets.empty()) return FinishAcquire(t);
  auto millis = t->acquire_millis >= 0 ? std::chrono::milliseconds(t->acquire_millis) : engine_->options().lock_timeout;
  // The completion state is made only when the request has to wait.
  std::shared_ptr<PendingWait> p;
  auto make_done = [&]() -> LockManager::Callback {
    p = std::make_shared<PendingWait>();
    p->wakeup = wakeup_;
    return PendingWait::Completer(p);
  };
  Status why;
  switch (engine_->locks().Acquire(&t->locks, targets, millis, make_done, &why)) {
    case LockManager::Outcome::kGranted:
      return FinishAcquire(t);
    case LockManager::Outcome::kDenied:
      return Fail(std::move(why), t);
    case LockManager::Outcome::kWaiting:
      t->stage = Transaction::Stage::kWaiting;
      pending_ = std::move(p);
      pending_txn_ = t;
      pending_kind_ = WaitKind::kAcquire;
      return;
  }
}

Status Evaluator::BindIndexed(Transaction* t, Selection* s, uint64_t ts, bool* retry) {
  bool missed = false;
  for (const IndexScan& scan : s->plan.scans) missed = missed || scan.index->dropped();
  if (missed) {
    s->redo = Selection::Redo::kPlan;  // the index went away while we waited
    *retry = true;
    return Status::Ok();
  }
  Findings f;
  Find(*s, ts, HitsCurrent(*s), &f);
  for (const DocId& id : f.in_ranges) {
    if (!std::binary_search(s->predicted.begin(), s->predicted.end(), id)) missed = true;
  }
  if (s->plan.walk_in_order && !Covers(s->range_locks[0].range, NeededRange(*s, f))) missed = true;
  if (missed) {
    s->redo = Selection::Redo::kPredict;
    s->missed = std::move(f.in_ranges);
    *retry = true;
    return Status::Ok();
  }
  s->docs.clear();
  for (Found& m : f.matches) s->docs.push_back(Selection::Bound{std::move(m.id), std::move(m.doc)});
  if (!s->plan.walk_in_order) OrderAndLimit(s);
  return Status::Ok();
}

void Evaluator::RedoPredictions(Transaction* t) {
  for (Selection* s : t->selections) {
    switch (s->redo) {
      case Selection::Redo::kNone: continue;
      case Selection::Redo::kPlan: PlanAccess(s); break;
      case Selection::Redo::kPredict:
        if (t->attempts >= kMaxAttempts) s->whole_collection = true;
        Predict(s, s->missed);
        break;
    }
    s->redo = Selection::Redo::kNone;
    s->missed.clear();
  }
}

void Evaluator::OrderAndLimit(Selection* s) {
  if (s->order.ordered && s->docs.size() > 1) {
    std::vector<Found> keyed;
    keyed.reserve(s->docs.size());
    for (Selection::Bound& b : s->docs) {
      Value slot;
      std::string key = KeyOf(b.committed->view().Resolve(s->order.path, &slot));
      keyed.push_back(Found{std::move(key), std::move(b.id), std::move(b.committed)});
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const Found& a, const Found& b) { return Sooner(a, b, s->order.desc); });
    s->docs.clear();
    for (Found& k : keyed) s->docs.push_back(Selection::Bound{std::move(k.id), std::move(k.doc)});
  }
  size_t want = Wanted(*s);
  if (s->docs.size() > want) s->docs.resize(want);
}

std::vector<std::string> Evaluator::IndexKeys(const Collection* c, const DocView& doc) {
  std::vector<std::string> keys;
  const IndexList& indexes = c->indexes();
  if (indexes.empty() || !doc) return keys;
  keys.reserve(indexes.size());
  for (const auto& index : indexes) keys.push_back(index->KeyOf(doc));
  return keys;
}

Status Evaluator::NoteIndexWrite(Transaction* t, Collection* c, const DocId& id, const std::vector<std::string>& before,
                                 const std::vector<std::string>& after, LockKind lock) {
  const IndexList& indexes = c->indexes();
  if (indexes.empty()) return Status::Ok();
  // Keys moved out of and into, locked together, now or not at all.
  std::vector<LockTarget> targets;
  ResourceId coll = CollectionResource(c->name());
  LockMode mode = ModeFor(lock == LockKind::kRead ? LockKind::kWriteNonBlocking : lock, false);
  for (size_t i = 0; i < indexes.size(); ++i) {
    const std::string* old_key = before.empty() ? nullptr : &before[i];
    const std::string* new_key = after.empty() ? nullptr : &after[i];
    if (old_key != nullptr && new_key != nullptr && *old_key == *new_key) continue;
    for (const std::string* k : {old_key, new_key}) {
      if (k == nullptr) continue;
      t->write_ranges.push_back(KeyRange::Point(*k));
      targets.push_back(LockTarget{indexes[i]->lock_name(), mode, coll, &t->write_ranges.back()});
    }
  }
  if (targets.empty()) return Status::Ok();
  if (!engine_->locks().TryAcquire(&t->locks, targets)) {
    return Error(ErrorCode::kConflict, "writing _id " + id.ToString() + " of " + c->name() +
                                           " would move it into or out of index keys another live transaction holds");
  }
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (!indexes[i]->unique()) continue;
    const std::string* old_key = before.empty() ? nullptr : &before[i];
    const std::string* new_key = after.empty() ? nullptr : &after[i];
    if (old_key != nullptr && new_key != nullptr && *old_key == *new_key) continue;
    if (old_key != nullptr) {
      auto it = t->unique_keys.find({indexes[i].get(), *old_key});
      if (it != t->unique_keys.end() && it->second == id) t->unique_keys.erase(it);
    }
    if (new_key == nullptr || IsNullKey(*new_key)) continue;
    Status st = CheckUnique(t, c, *indexes[i], id, *new_key);
    if (!st.ok()) return st;
    t->unique_keys[{indexes[i].get(), *new_key}] = id;
  }
  return Status::Ok();
}

Status Evaluator::CheckUnique(Transaction* t, Collection* c, const Index& index, const DocId& id, const std::string& key) {
  auto duplicate = [&](const DocId& other) {
    return Error(ErrorCode::kDuplicateKey, "_id " + id.ToString() + " of " + c->name() + " would share its value at " +
                                               PathToString(index.path()) + " with _id " + other.ToString() +
                                               " (a unique index)");
  };
  auto mine = t->unique_keys.find({&index, key});
  if (mine != t->unique_keys.end() && !(mine->second == id)) return duplicate(mine->second);
  // Committed holders of the key, unless this transaction moved or deleted
  // them. The key's lock keeps other transactions from changing this.
  std::vector<Index::Hit> hits;
  index.Collect(KeyRange::Point(key), false, 0, &hits);
  for (const Index::Hit& h : hits) {
    if (h.id == id) continue;
    auto w = t->workspace.find(WorkspaceKey{c, h.id});
    if (w != t->workspace.end()) {
      if (!w->second.deleted && index.KeyOf(w->second.view()) == key) return duplicate(h.id);
      continue;
    }
    DocRef doc = c->Get(h.id, kLatest);
    if (doc != nullptr && index.KeyOf(doc->view()) == key) return duplicate(h.id);
  }
  return Status::Ok();
}

}  // namespace parendb
