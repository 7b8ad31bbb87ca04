#include "mvcc/collection.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "doc/json.h"
#include "index/key.h"

namespace parendb {

DocRef StoredDoc::FromValue(const Value& value) {
  thread_local std::string text;  // reused: a commit renders many
  text.clear();
  AppendJson(value, &text);
  return FromJson(text);
}

DocRef StoredDoc::FromJson(std::string_view json) { return FromPieces({json}); }

DocRef StoredDoc::FromPieces(std::initializer_list<std::string_view> pieces) {
  // Documents are far below 4 GiB (the reader's limits); the size is kept
  // in 32 bits so the header is 8 bytes.
  size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  void* mem = ::operator new(sizeof(StoredDoc) + size);
  auto* doc = new (mem) StoredDoc(static_cast<uint32_t>(size));
  char* at = doc->text();
  for (std::string_view p : pieces) {
    std::memcpy(at, p.data(), p.size());
    at += p.size();
  }
  return DocRef(doc);
}

void StoredDoc::Free(const StoredDoc* d) {
  // Unsized delete: clang before 19 declares the sized form only with
  // -fsized-deallocation, and the fuzz and sanitizer builds use clang.
  d->~StoredDoc();
  ::operator delete(const_cast<StoredDoc*>(d));
}

const Collection::Version* Collection::VisibleAt(const Chain& chain, uint64_t ts) {
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (it->ts <= ts) return &*it;
  }
  return nullptr;
}

namespace {
constexpr size_t kFirstBuckets = 16;
}  // namespace

Collection::Collection(std::string name)
    : name_(std::move(name)), buckets_(kFirstBuckets), index_(ByHash::bucket_traits(buckets_.data(), buckets_.size())) {
  static_assert(sizeof(Entry) <= 96, "an entry per document: keep it in the allocator's 96-byte class");
  index_lists_[0] = std::make_unique<IndexList>();
  indexes_.store(index_lists_[0].get(), std::memory_order_release);
}

Collection::~Collection() {
  index_.clear();
  docs_.clear_and_dispose([](Entry* e) { delete e; });
}

Collection::Entry* Collection::Find(const DocId& id) const {
  auto it = index_.find(id, EntryHash(), EntryEqual());
  return it == index_.end() ? nullptr : &*it;
}

Collection::Entry* Collection::Add(const DocId& id, bool last) {
  if (index_.size() >= buckets_.size()) {  // a load factor of at most one
    std::vector<ByHash::bucket_type> bigger(buckets_.size() * 2);
    index_.rehash(ByHash::bucket_traits(bigger.data(), bigger.size()));
    buckets_.swap(bigger);
  }
  auto* e = new Entry(id);
  index_.insert(*e);
  if (last) {
    docs_.insert(docs_.end(), *e);
  } else {
    docs_.insert(*e);
  }
  return e;
}

void Collection::Erase(Entry* e) {
  index_.erase(index_.iterator_to(*e));
  docs_.erase(docs_.iterator_to(*e));
  delete e;
}

DocRef Collection::Get(const DocId& id, uint64_t ts) const {
  std::shared_lock ids(ids_lock_);
  const Entry* e = Find(id);
  if (e == nullptr) return nullptr;
  std::shared_lock latch(e->latch);
  const Version& newest = e->chain.back();
  if (newest.ts <= ts) return newest.doc;
  const Version* v = VisibleAt(e->chain, ts);
  return v == nullptr ? nullptr : v->doc;
}

DocRef Collection::Get(const DocId& id, uint64_t ts, bool* only) const {
  std::shared_lock ids(ids_lock_);
  const Entry* e = Find(id);
  *only = false;
  if (e == nullptr) return nullptr;
  std::shared_lock latch(e->latch);
  *only = e->chain.size() == 1;
  const Version* v = VisibleAt(e->chain, ts);
  return v == nullptr ? nullptr : v->doc;
}

void Collection::Scan(uint64_t ts, const std::function<bool(const DocId&, const DocRef&)>& fn) const {
  // A chunk at a time, so a new _id (which needs the set exclusively) waits
  // for one chunk, not the whole scan, and fn runs with no lock held.
  // Between chunks the set may change; what ts sees does not: versions a
  // snapshot can see are kept, and an update transaction's scan holds its
  // collection's lock.
  constexpr size_t kChunk = 256;
  std::vector<std::pair<DocId, DocRef>> chunk;
  DocId last;
  for (const DocId* from = nullptr;; from = &last) {
    ScanChunk(ts, from, kChunk, &chunk);
    for (const auto& [id, doc] : chunk) {
      if (!fn(id, doc)) return;
    }
    if (chunk.size() < kChunk) return;
    last = chunk.back().first;
  }
}

int64_t Collection::Prune(Chain* chain_ptr, const std::vector<uint64_t>& live_snapshots, std::vector<DocRef>* dropped) {
  Chain& chain = *chain_ptr;
  auto before = static_cast<int64_t>(chain.size());
  // Keep the newest version, plus for each live snapshot the version it sees.
  auto needed = [&](size_t i) {
    if (i + 1 == chain.size()) return true;
    for (uint64_t snap : live_snapshots) {
      if (chain[i].ts <= snap && chain[i + 1].ts > snap) return true;
    }
    return false;
  };
  size_t keep = 0;
  for (size_t i = 0; i < chain.size(); ++i) {
    if (!needed(i)) {
      if (chain[i].doc != nullptr) dropped->push_back(std::move(chain[i].doc));
      continue;
    }
    if (keep != i) chain[keep] = std::move(chain[i]);
    ++keep;
  }
  chain.resize(keep);
  return static_cast<int64_t>(keep) - before;
}

int Collection::Install(const DocId& id, DocRef doc, uint64_t ts, const std::vector<uint64_t>& live_snapshots,
                        std::vector<DocRef>* dropped) {
  bool is_live = doc != nullptr;
  {
    // A new version of a document that stays: its own latch is enough.
    std::shared_lock ids(ids_lock_);
    Entry* e = Find(id);
    if (e != nullptr && is_live) {
      std::unique_lock latch(e->latch);
      bool was_live = e->chain.back().doc != nullptr;
      e->chain.push_back(Version{ts, std::move(doc)});
      int64_t versions = 1 + Prune(&e->chain, live_snapshots, dropped);
      latch.unlock();
      if (versions != 0) versions_.fetch_add(versions, std::memory_order_relaxed);
      if (!was_live) live_.fetch_add(1, std::memory_order_relaxed);
      return was_live ? 0 : 1;
    }
  }
  // The set of _ids may change: hold it exclusively (no reader is in, so
  // no latch is needed).
  bool was_live;
  int64_t versions;
  {
    std::unique_lock ids(ids_lock_);
    Entry* e = Find(id);
    if (e == nullptr) e = Add(id);
    Chain& chain = e->chain;
    was_live = !chain.empty() && chain.back().doc != nullptr;
    chain.push_back(Version{ts, std::move(doc)});
    versions = 1 + Prune(&chain, live_snapshots, dropped);
    if (chain.size() == 1 && chain.back().doc == nullptr) {
      Erase(e);
      versions -= 1;
    }
  }
  if (versions != 0) versions_.fetch_add(versions, std::memory_order_relaxed);
  int delta = static_cast<int>(is_live) - static_cast<int>(was_live);
  if (delta != 0) live_.fetch_add(delta, std::memory_order_relaxed);
  return delta;
}

int Collection::InstallRecovered(const DocId& id, DocRef doc) {
  bool is_live = doc != nullptr;
  Entry* e = Find(id);
  bool was_live = e != nullptr && e->chain.back().doc != nullptr;
  if (!is_live) {
    if (e != nullptr) {
      versions_.fetch_sub(static_cast<int64_t>(e->chain.size()), std::memory_order_relaxed);
      Erase(e);
    }
  } else if (e == nullptr) {
    // A checkpoint lists _ids in order: each then goes last at no cost.
    e = Add(id, docs_.empty() || docs_.rbegin()->id < id);
    e->chain.push_back(Version{0, std::move(doc)});
    versions_.fetch_add(1, std::memory_order_relaxed);
  } else {
    e->chain.assign(1, Version{0, std::move(doc)});
  }
  int delta = static_cast<int>(is_live) - static_cast<int>(was_live);
  live_.fetch_add(delta, std::memory_order_relaxed);
  return delta;
}

void Collection::ScanChunk(uint64_t ts, const DocId* from, size_t max,
                           std::vector<std::pair<DocId, DocRef>>* out) const {
  out->clear();
  std::shared_lock ids(ids_lock_);
  auto it = from == nullptr ? docs_.begin() : docs_.upper_bound(*from, EntryOrder());
  for (; it != docs_.end() && out->size() < max; ++it) {
    std::shared_lock latch(it->latch);
    const Version* v = VisibleAt(it->chain, ts);
    if (v != nullptr && v->doc != nullptr) out->emplace_back(it->id.ToDocId(), v->doc);
  }
}
void Collection::ScanVersions(const std::function<void(const DocId&, const DocRef&)>& fn) const {
  std::shared_lock ids(ids_lock_);
  for (const Entry& e : docs_) {
    std::shared_lock latch(e.latch);
    DocId id = e.id.ToDocId();
    for (const Version& v : e.chain) {
      if (v.doc != nullptr) fn(id, v.doc);
    }
  }
}

namespace {

// An _id near where key lies among the _ids' keys (integer ids key as
// numbers, string ids as strings): at or before every _id whose key is at
// least key (upper: at or after every _id whose key is at most key). A
// walk starts there and skips what lies outside its range.
DocId IdNear(std::string_view key, bool upper) {
  auto tag = key.empty() ? 0 : static_cast<uint8_t>(key[0]);
  if (tag < static_cast<uint8_t>(KeyTag::kNumber)) return DocId::Int(INT64_MIN);
  if (tag == static_cast<uint8_t>(KeyTag::kNumber) && key.size() < 9) {
    return DocId::Int(upper ? INT64_MAX : INT64_MIN);  // a kind's bound (KindRange): every integer
  }
  if (tag < static_cast<uint8_t>(KeyTag::kString) && tag > static_cast<uint8_t>(KeyTag::kNumber)) {
    return upper ? DocId::Int(INT64_MAX) : DocId::Str("");  // between the integers and the strings
  }
  if (tag == static_cast<uint8_t>(KeyTag::kNumber)) {
    uint64_t bits = 0;
    for (int i = 1; i <= 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(key[i]);
    bits = (bits & (uint64_t{1} << 63)) != 0 ? bits & ~(uint64_t{1} << 63) : ~bits;
    double d = std::bit_cast<double>(bits);
    // The key's exact remainder is at most 1024 either way: a margin.
    if (!(d > -9.2e18)) return DocId::Int(upper ? INT64_MIN + 4096 : INT64_MIN);
    if (d >= 9.2e18) return DocId::Int(upper ? INT64_MAX : INT64_MAX - 4096);
    auto i = static_cast<int64_t>(std::floor(d));
    return DocId::Int(upper ? i + 2048 : i - 2048);
  }
  if (tag == static_cast<uint8_t>(KeyTag::kString)) {
    // Undo the string key's escapes (00 ff is a zero byte; 00 01 ends it).
    std::string s;
    for (size_t i = 1; i < key.size(); ++i) {
      if (key[i] != '\0') {
        s.push_back(key[i]);
      } else if (i + 1 < key.size() && key[i + 1] == '\xff') {
        s.push_back('\0');
        ++i;
      } else {
        break;
      }
    }
    return DocId::Str(std::move(s));
  }
  return DocId::Str(std::string(upper ? 64 : 1, '\xff'));  // arrays, objects: above every _id
}

}  // namespace

void Collection::CollectIds(const KeyRange& range, bool desc, size_t max, std::vector<Index::Hit>* out,
                            const DocId* after) const {
  if (range.empty()) return;
  std::shared_lock ids(ids_lock_);
  size_t n = 0;
  auto take = [&](const DocId& id) {  // false: stop
    Value v = id.ToValue();
    std::string key = KeyOf(&v);
    if (!range.Contains(key)) {
      // Past the range's end in the walk's direction: stop; short of its start: skip.
      bool past = desc ? (!range.lo_unbounded && key.compare(range.lo) <= 0)
                       : (!range.hi_unbounded && key.compare(range.hi) >= 0);
      return !past;
    }
    out->push_back(Index::Hit{std::move(key), id, 0});
    return max == 0 || ++n < max;
  };
  if (!desc) {
    auto it = after != nullptr        ? docs_.upper_bound(*after, EntryOrder())
              : range.lo_unbounded ? docs_.begin()
                                   : docs_.lower_bound(IdNear(range.lo, false), EntryOrder());
    for (; it != docs_.end(); ++it) {
      if (!take(it->id.ToDocId())) return;
    }
  } else {
    auto it = after != nullptr        ? docs_.lower_bound(*after, EntryOrder())
              : range.hi_unbounded ? docs_.end()
                                   : docs_.upper_bound(IdNear(range.hi, true), EntryOrder());
    while (it != docs_.begin()) {
      --it;
      if (!take(it->id.ToDocId())) return;
    }
  }
}

void Collection::SetIndexes(IndexList list) {
  index_lists_.push_back(std::make_unique<IndexList>(std::move(list)));
  indexes_.store(index_lists_.back().get(), std::memory_order_release);
}

void Collection::ReserveId(int64_t id) {
  if (id == INT64_MAX) return;
  int64_t cur = next_id_.load(std::memory_order_relaxed);
  while (cur <= id && !next_id_.compare_exchange_weak(cur, id + 1, std::memory_order_relaxed)) {
  }
}

}  // namespace parendb
