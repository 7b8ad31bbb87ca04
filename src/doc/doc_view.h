// A document as conditions, projections and index keys read it: either a
// parsed tree (a transaction's own writes) or a committed version's JSON
// text, which is walked for the values asked for rather than parsed whole
// (see json_text.h and docs/storage.md).
#pragma once

#include <string_view>

#include "doc/path.h"
#include "doc/value.h"

namespace parendb {

// The value a path names in a tree, or nullptr when it does not resolve (a
// member absent, an index past the end, a step into a scalar).
const Value* Resolve(const Path& path, const Value& doc);

class DocView {
 public:
  DocView() = default;  // no document (deleted, or not there)
  DocView(const Value& tree) : tree_(&tree) {}  // NOLINT: a tree is a view of itself
  // Text ParenDB wrote (AppendJson's compact form); must outlive the view.
  static DocView Text(std::string_view json) {
    DocView v;
    v.text_ = json;
    v.is_text_ = true;
    return v;
  }

  explicit operator bool() const { return tree_ != nullptr || is_text_; }

  // The value at path, or nullptr when it does not resolve. From a tree it
  // points into the tree; from text it is read into *slot.
  const Value* Resolve(const Path& path, Value* slot) const;
  // Whether path resolves (nothing is read into a Value).
  bool Has(const Path& path) const;
  // The whole document: the tree, or the text parsed into *slot.
  const Value& Tree(Value* slot) const;

 private:
  const Value* tree_ = nullptr;
  std::string_view text_;
  bool is_text_ = false;
};

}  // namespace parendb
