// A committed document version's payload. Immutable once published, so any
// number of readers share it without copying.
//
// The JSON text is always there (rendered once at commit, or read back as
// it was logged); the parsed tree is built on first use. Recovery therefore
// only copies text — most documents are never parsed until a condition, a
// projection or an update needs them — and `readall` never needs the tree.
#pragma once

#include <memory>
#include <atomic>
#include <string>

#include "doc/value.h"

namespace parendb {

class StoredDoc;
using DocRef = std::shared_ptr<const StoredDoc>;

class StoredDoc {
 public:
  // A document just committed: renders the text, and keeps the tree too
  // when keep_tree (an updated document is likely to be updated again; a
  // new one is mostly read back whole or not at all, and then costs only
  // its text until something needs the tree).
  static DocRef FromValue(Value value, bool keep_tree = true);
  // Text ParenDB wrote itself (a log record or checkpoint): parsed lazily.
  static DocRef FromTrustedJson(std::string_view json);
  // The same, taking the text (a new document rendered by
  // RenderJsonObject; spare capacity of JsonPadding() spares a later parse
  // a copy).
  static DocRef FromRenderedJson(std::string json);

  const std::string& json() const { return json_; }
  // The parsed document (an object whose first member is `_id`). Thread-safe.
  // Whether the tree is built (a test and statistics hook; value() builds it).
  bool has_tree() const { return parsed_.load(std::memory_order_acquire) == kParsed; }
  const Value& value() const {
    return parsed_.load(std::memory_order_acquire) == kParsed ? value_ : ParseOnce();
  }

  StoredDoc() = default;
  StoredDoc(const StoredDoc&) = delete;
  StoredDoc& operator=(const StoredDoc&) = delete;

 private:
  // Not std::call_once: glibc's pthread_once makes a futex system call on
  // every first call, and every commit makes a new document.
  enum : uint8_t { kText, kParsing, kParsed };
  const Value& ParseOnce() const;

  std::string json_;
  mutable std::atomic<uint8_t> parsed_{kText};
  mutable Value value_;
};

// Builds a StoredDoc from a value, rendering its JSON.
inline DocRef MakeStoredDoc(Value value, bool keep_tree = true) {
  return StoredDoc::FromValue(std::move(value), keep_tree);
}

}  // namespace parendb
