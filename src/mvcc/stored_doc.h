// A committed document version's payload. Immutable once published, so any
// number of readers share it without copying.
//
// The JSON text is always there (rendered once at commit, or read back as
// it was logged); the parsed tree is built on first use. Recovery therefore
// only copies text — most documents are never parsed until a condition, a
// projection or an update needs them — and `readall` never needs the tree.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "doc/value.h"

namespace parendb {

class StoredDoc;
using DocRef = std::shared_ptr<const StoredDoc>;

class StoredDoc {
 public:
  // A document just committed: keeps the tree, renders the text.
  static DocRef FromValue(Value value);
  // Text ParenDB wrote itself (a log record or checkpoint): parsed lazily.
  static DocRef FromTrustedJson(std::string_view json);

  const std::string& json() const { return json_; }
  // The parsed document (an object whose first member is `_id`). Thread-safe.
  const Value& value() const;

  StoredDoc() = default;
  StoredDoc(const StoredDoc&) = delete;
  StoredDoc& operator=(const StoredDoc&) = delete;

 private:
  std::string json_;
  mutable std::once_flag parsed_;
  mutable Value value_;
};

// Builds a StoredDoc from a value, rendering its JSON.
inline DocRef MakeStoredDoc(Value value) { return StoredDoc::FromValue(std::move(value)); }

}  // namespace parendb
