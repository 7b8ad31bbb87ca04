#include "mvcc/collection.h"

#include <algorithm>
#include <mutex>

#include "doc/json.h"

namespace parendb {

DocRef StoredDoc::FromValue(Value value) {
  auto doc = std::make_shared<StoredDoc>();
  AppendJson(value, &doc->json_);
  doc->value_ = std::move(value);
  std::call_once(doc->parsed_, [] {});  // the tree is already there
  return doc;
}

DocRef StoredDoc::FromTrustedJson(std::string_view json) {
  auto doc = std::make_shared<StoredDoc>();
  doc->json_.reserve(json.size() + JsonPadding());  // so the parser needs no copy
  doc->json_.assign(json);
  return doc;
}

const Value& StoredDoc::value() const {
  std::call_once(parsed_, [this] {
    // The text was written by ParenDB and checked by the log's CRC; were it
    // unreadable anyway, an empty object is safer than a crash.
    if (!ParseTrustedJsonObject(json_.data(), json_.size(), json_.capacity(), &value_).ok()) value_ = Value(Object{});
  });
  return value_;
}

const Collection::Version* Collection::VisibleAt(const Chain& chain, uint64_t ts) {
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (it->ts <= ts) return &*it;
  }
  return nullptr;
}

Collection::Chain* Collection::Lookup(const DocId& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

void Collection::Erase(const DocId& id) {
  index_.erase(id);
  docs_.erase(id);
}

DocRef Collection::Get(const DocId& id, uint64_t ts) const {
  std::shared_lock lock(mu_);
  const Chain* chain = Lookup(id);
  if (chain == nullptr) return nullptr;
  const Version* v = VisibleAt(*chain, ts);
  return v == nullptr ? nullptr : v->doc;
}

void Collection::Scan(uint64_t ts, const std::function<bool(const DocId&, const DocRef&)>& fn) const {
  std::shared_lock lock(mu_);
  for (const auto& [id, chain] : docs_) {
    const Version* v = VisibleAt(chain, ts);
    if (v != nullptr && v->doc != nullptr && !fn(id, v->doc)) return;
  }
}

int Collection::Install(const DocId& id, DocRef doc, uint64_t ts, const std::vector<uint64_t>& live_snapshots) {
  std::unique_lock lock(mu_);
  Chain* found = Lookup(id);
  if (found == nullptr) {
    found = &docs_[id];
    index_.emplace(id, found);
  }
  Chain& chain = *found;
  bool was_live = !chain.empty() && chain.back().doc != nullptr;
  bool is_live = doc != nullptr;
  chain.push_back(Version{ts, std::move(doc)});
  int64_t before = static_cast<int64_t>(chain.size());
  // Keep the newest version, plus for each live snapshot the version it sees.
  if (chain.size() > 1) {
    auto needed = [&](size_t i) {
      if (i + 1 == chain.size()) return true;
      for (uint64_t snap : live_snapshots) {
        if (chain[i].ts <= snap && chain[i + 1].ts > snap) return true;
      }
      return false;
    };
    size_t keep = 0;
    for (size_t i = 0; i < chain.size(); ++i) {
      if (needed(i)) {
        if (keep != i) chain[keep] = std::move(chain[i]);
        ++keep;
      }
    }
    chain.resize(keep);
  }
  int64_t kept = static_cast<int64_t>(chain.size());
  if (chain.size() == 1 && chain.back().doc == nullptr) {
    Erase(id);
    kept = 0;
  }
  versions_.fetch_add(kept - (before - 1), std::memory_order_relaxed);
  int delta = static_cast<int>(is_live) - static_cast<int>(was_live);
  live_.fetch_add(delta, std::memory_order_relaxed);
  return delta;
}

int Collection::InstallRecovered(const DocId& id, DocRef doc) {
  bool is_live = doc != nullptr;
  Chain* chain = Lookup(id);
  bool was_live = chain != nullptr && chain->back().doc != nullptr;
  if (!is_live) {
    if (chain != nullptr) {
      versions_.fetch_sub(static_cast<int64_t>(chain->size()), std::memory_order_relaxed);
      Erase(id);
    }
  } else if (chain == nullptr) {
    auto it = docs_.emplace_hint(docs_.end(), id, Chain{Version{0, std::move(doc)}});
    index_.emplace(id, &it->second);
    versions_.fetch_add(1, std::memory_order_relaxed);
  } else {
    chain->assign(1, Version{0, std::move(doc)});
  }
  int delta = static_cast<int>(is_live) - static_cast<int>(was_live);
  live_.fetch_add(delta, std::memory_order_relaxed);
  return delta;
}

void Collection::ScanChunk(uint64_t ts, const DocId* from, size_t max,
                           std::vector<std::pair<DocId, DocRef>>* out) const {
  out->clear();
  std::shared_lock lock(mu_);
  auto it = from == nullptr ? docs_.begin() : docs_.upper_bound(*from);
  for (; it != docs_.end() && out->size() < max; ++it) {
    const Version* v = VisibleAt(it->second, ts);
    if (v != nullptr && v->doc != nullptr) out->emplace_back(it->first, v->doc);
  }
}

void Collection::ReserveId(int64_t id) {
  if (id == INT64_MAX) return;
  int64_t cur = next_id_.load(std::memory_order_relaxed);
  while (cur <= id && !next_id_.compare_exchange_weak(cur, id + 1, std::memory_order_relaxed)) {
  }
}

}  // namespace parendb
