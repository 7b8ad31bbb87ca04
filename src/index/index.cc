#include "index/index.h"

#include <mutex>

#include "doc/json.h"
#include "index/key.h"

namespace parendb {
namespace {

// What an entry's string costs on the heap beyond the node.
size_t HeapBytes(const std::string& s) { return s.size() > 15 ? s.capacity() + 1 : 0; }

void Head(std::string_view b, uint64_t head[2]) {
  unsigned char buf[16] = {};
  b.copy(reinterpret_cast<char*>(buf), 16);
  for (int w = 0; w < 2; ++w) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | buf[w * 8 + i];
    head[w] = v;
  }
}

}  // namespace

Index::Probe::Probe(std::string_view b) : bytes(b) { Head(b, head); }

Value PathToValue(const Path& path) {
  Array steps;
  for (const PathStep& s : path) steps.push_back(s.is_index ? Value(s.index) : Value(s.name));
  return Value(std::move(steps));
}

bool PathFromValue(const Value& v, Path* out) {
  out->clear();
  if (!v.is_array() || v.as_array().empty()) return false;
  for (const Value& s : v.as_array()) {
    PathStep& step = out->emplace_back();
    if (s.is_int() && s.as_int() >= 0) {
      step.is_index = true;
      step.index = s.as_int();
    } else if (s.is_string()) {
      step.name = s.as_string();
    } else {
      return false;
    }
  }
  return true;
}

std::string Index::KeyOf(const DocView& doc) const {
  Value slot;
  return parendb::KeyOf(doc.Resolve(path_, &slot));
}

void Index::Add(std::string_view key, const DocId& id) {
  std::string entry(key);
  AppendEntryId(id, &entry);
  std::unique_lock lock(mu_);
  Entry e;
  Head(entry, e.head);
  e.bytes = std::move(entry);
  auto [it, fresh] = entries_.try_emplace(std::move(e), Posting{static_cast<uint32_t>(key.size()), 0});
  if (fresh) {
    heap_bytes_ += HeapBytes(it->first.bytes);
    changes_.fetch_add(1, std::memory_order_release);
  }
  ++it->second.count;
}

void Index::Remove(std::string_view key, const DocId& id) {
  std::string entry(key);
  AppendEntryId(id, &entry);
  std::unique_lock lock(mu_);
  auto it = entries_.find(Probe(entry));
  if (it == entries_.end()) return;
  if (--it->second.count == 0) {
    heap_bytes_ -= HeapBytes(it->first.bytes);
    entries_.erase(it);
    changes_.fetch_add(1, std::memory_order_release);
  }
}

void Index::Clear() {
  std::unique_lock lock(mu_);
  entries_.clear();
  heap_bytes_ = 0;
  changes_.fetch_add(1, std::memory_order_release);
}

void Index::Collect(const KeyRange& range, bool desc, size_t max, std::vector<Hit>* out, std::string_view resume,
                    uint64_t* changes) const {
  std::shared_lock lock(mu_);
  if (changes != nullptr) *changes = changes_.load(std::memory_order_relaxed);
  if (range.empty()) return;
  // Entries are key + _id: the first entry of key k is at lower_bound(k),
  // and k + kAfterEntries comes after every entry of k.
  auto first = entries_.begin();
  if (!range.lo_unbounded) {
    first = range.lo_open ? entries_.lower_bound(Probe(range.lo + kAfterEntries)) : entries_.lower_bound(Probe(range.lo));
  }
  // Ascending walks stop at the first key past hi (no second search: most
  // lookups are of one key and end a step or two after they start).
  auto past_hi = [&](const Entries::value_type& e) {
    if (range.hi_unbounded) return false;
    int c = std::string_view(e.first.bytes).substr(0, e.second.key_len).compare(range.hi);
    return c > 0 || (c == 0 && range.hi_open);
  };
  auto last = entries_.end();
  if (!range.hi_unbounded && desc) {
    last = range.hi_open ? entries_.lower_bound(Probe(range.hi)) : entries_.lower_bound(Probe(range.hi + kAfterEntries));
  }
  if (!resume.empty()) {
    // Narrow [first, last) to what lies after (asc) or before (desc) resume.
    auto earlier = [&](auto a, auto b) {
      return b == entries_.end() || (a != entries_.end() && EntryLess()(a->first, b->first));
    };
    if (!desc) {
      auto after = entries_.upper_bound(Probe(resume));
      if (earlier(first, after)) first = after;
    } else {
      auto at = entries_.lower_bound(Probe(resume));
      if (earlier(at, last)) last = at;
    }
  }
  size_t n = 0;
  auto emit = [&](const Entries::value_type& e) {
    out->push_back(Hit{e.first.bytes.substr(0, e.second.key_len), EntryId(e.first.bytes, e.second.key_len)});
    return max == 0 || ++n < max;
  };
  if (first == entries_.end() || first == last || (last != entries_.end() && !EntryLess()(first->first, last->first))) return;
  if (!desc) {
    for (auto it = first; it != last && !past_hi(*it); ++it) {
      if (!emit(*it)) return;
    }
  } else {
    for (auto it = last; it != first;) {
      if (!emit(*--it)) return;
    }
  }
}

size_t Index::entries() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

size_t Index::memory_bytes() const {
  std::shared_lock lock(mu_);
  // A red-black tree node: three pointers and a colour, then the pair.
  constexpr size_t kNode = 32 + sizeof(Entry) + sizeof(Posting);
  return entries_.size() * kNode + heap_bytes_;
}

}  // namespace parendb
