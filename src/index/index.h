// A secondary index: one field path of one collection, ordered by key
// (index/key.h), each entry naming a document.
//
// The index mirrors the collection's versions, not just the newest: every
// version a chain keeps has an entry for its key (counted, as two versions
// may share one). So a lookup at any live snapshot finds every document
// whose visible version lies in the range, plus perhaps documents whose
// other versions do; callers check the visible version (IndexedKey) and
// then the whole condition, so an index only narrows a search and never
// decides an answer.
//
// Concurrency: the engine's commit mutex makes one writer at a time (Add,
// Remove, Clear); readers (Collect) hold the index shared for one range.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>
#include <vector>

#include "doc/doc_id.h"
#include "doc/value.h"
#include "eval/expr.h"
#include "lockmgr/key_range.h"
#include "mvcc/stored_doc.h"

namespace parendb {

// A path as a JSON array of its steps (["address", "city"], ["tags", 0]):
// how `indexes` shows it and the log stores it.
Value PathToValue(const Path& path);
bool PathFromValue(const Value& v, Path* out);

class Index {
 public:
  // lock_name: the lock manager's resource for the index's keys.
  Index(Path path, bool unique, uint64_t lock_name) : path_(std::move(path)), unique_(unique), lock_name_(lock_name) {}
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  const Path& path() const { return path_; }
  bool unique() const { return unique_; }
  uint64_t lock_name() const { return lock_name_; }

  // The key of doc (an object: a tree, or a stored version's text, of
  // which only the indexed value is read) at this index's path.
  std::string KeyOf(const DocView& doc) const;

  // Writers (one at a time).
  void Add(std::string_view key, const DocId& id);
  void Remove(std::string_view key, const DocId& id);
  void Clear();

  // One entry found by Collect.
  struct Hit {
    std::string key;
    DocId id;
    uint32_t scan = 0;  // the caller's: which of its scans found it
  };
  // Appends the entries whose key is in range, in key order (then _id), or
  // in reverse with desc; stops after max (0: no limit).
  // After resume (an entry: key then AppendEntryId), when not empty: the
  // next batch of a walk.
  void Collect(const KeyRange& range, bool desc, size_t max, std::vector<Hit>* out,
               std::string_view resume = {}, uint64_t* changes = nullptr) const;

  size_t entries() const;
  // Moves whenever an entry is added or goes (not when only a count
  // changes); Collect says what it was when it read. Equal values mean
  // a second Collect would find the same entries.
  uint64_t changes() const { return changes_.load(std::memory_order_acquire); }

  // Set when the index is dropped (its entries are then cleared): a plan
  // made before must be made again.
  void MarkDropped() { dropped_.store(true, std::memory_order_release); }
  bool dropped() const { return dropped_.load(std::memory_order_acquire); }
  // Bytes the entries take, estimated (for `indexes` and the benchmark).
  size_t memory_bytes() const;

 private:
  struct Posting {
    uint32_t key_len;  // the key's bytes at the front of the entry
    uint32_t count;    // versions with this key
  };
  // An entry (key + _id) with its first 16 bytes in the tree node, as two
  // big-endian words: most comparisons of a search end there, without a
  // visit to the string's heap bytes (a cache miss per tree level).
  struct Entry {
    uint64_t head[2];
    std::string bytes;
  };
  // A search key: the same head over a view.
  struct Probe {
    uint64_t head[2];
    std::string_view bytes;
    explicit Probe(std::string_view b);
  };
  struct EntryLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      if (a.head[0] != b.head[0]) return a.head[0] < b.head[0];
      if (a.head[1] != b.head[1]) return a.head[1] < b.head[1];
      return std::string_view(a.bytes) < std::string_view(b.bytes);
    }
  };
  using Entries = std::map<Entry, Posting, EntryLess>;
  const Path path_;
  const bool unique_;
  const uint64_t lock_name_;
  std::atomic<bool> dropped_{false};
  std::atomic<uint64_t> changes_{0};
  mutable std::shared_mutex mu_;
  Entries entries_;  // key + _id
  size_t heap_bytes_ = 0;  // entry strings past their inline buffer
};

}  // namespace parendb
