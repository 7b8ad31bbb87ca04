// A committed document version: its compact JSON text, in one allocation
// with its reference count. Immutable once published, so any number of
// readers share it without copying or locking.
//
// The text is the only form kept (docs/storage.md says why): conditions,
// projections and index keys read the values they need straight out of it
// through view() (see doc/doc_view.h), `readall` copies it as it is, and an
// update parses it into the transaction's own tree.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include <boost/intrusive_ptr.hpp>

#include "doc/doc_view.h"
#include "doc/value.h"

namespace parendb {

class StoredDoc;
using DocRef = boost::intrusive_ptr<const StoredDoc>;

class StoredDoc {
 public:
  // A document just committed: renders its text.
  static DocRef FromValue(const Value& value);
  // Text ParenDB wrote itself (a log record, a checkpoint, a new document
  // rendered by RenderJsonObject): kept as it is.
  static DocRef FromJson(std::string_view json);
  // The same, for text in pieces: written straight into the version's one
  // allocation (a created document is its _id and its members).
  static DocRef FromPieces(std::initializer_list<std::string_view> pieces);

  std::string_view json() const { return {text(), size_}; }
  DocView view() const { return DocView::Text(json()); }
  // Bytes allocated for this version (statistics).
  size_t allocated() const { return sizeof(StoredDoc) + size_; }

  StoredDoc(const StoredDoc&) = delete;
  StoredDoc& operator=(const StoredDoc&) = delete;

 private:
  explicit StoredDoc(uint32_t size) : size_(size) {}
  // The text follows the header in the same allocation.
  const char* text() const { return reinterpret_cast<const char*>(this + 1); }
  char* text() { return reinterpret_cast<char*>(this + 1); }

  friend void intrusive_ptr_add_ref(const StoredDoc* d) { d->refs_.fetch_add(1, std::memory_order_relaxed); }
  friend void intrusive_ptr_release(const StoredDoc* d) {
    if (d->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) Free(d);
  }
  static void Free(const StoredDoc* d);

  mutable std::atomic<uint32_t> refs_{0};
  const uint32_t size_;
};

// Builds a StoredDoc from a value, rendering its JSON.
inline DocRef MakeStoredDoc(const Value& value) { return StoredDoc::FromValue(value); }

}  // namespace parendb
