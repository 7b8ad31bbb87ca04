#include "doc/doc_view.h"

#include "doc/json.h"
#include "doc/json_text.h"

namespace parendb {

const Value* Resolve(const Path& path, const Value& doc) {
  const Value* cur = &doc;
  for (const PathStep& s : path) {
    if (s.is_index) {
      if (!cur->is_array() || static_cast<uint64_t>(s.index) >= cur->as_array().size()) return nullptr;
      cur = &cur->as_array()[s.index];
    } else {
      cur = cur->find(s.name);
      if (cur == nullptr) return nullptr;
    }
  }
  return cur;
}

const Value* DocView::Resolve(const Path& path, Value* slot) const {
  if (!is_text_) return tree_ == nullptr ? nullptr : parendb::Resolve(path, *tree_);
  std::string_view found;
  switch (FindInJsonText(text_, path, &found)) {
    case TextLookup::kAbsent: return nullptr;
    case TextLookup::kFound:
      if (ValueFromJsonText(found, slot)) return slot;
      break;
    case TextLookup::kMalformed: break;
  }
  // Not text ParenDB writes (it cannot be: the log's CRC vouches for it);
  // read it the slow way rather than misread it.
  Value whole;
  const Value* v = parendb::Resolve(path, Tree(&whole));
  if (v == nullptr) return nullptr;
  *slot = *v;
  return slot;
}

bool DocView::Has(const Path& path) const {
  if (is_text_) {
    std::string_view found;
    TextLookup r = FindInJsonText(text_, path, &found);
    if (r != TextLookup::kMalformed) return r == TextLookup::kFound;
  }
  Value slot;
  return Resolve(path, &slot) != nullptr;
}

const Value& DocView::Tree(Value* slot) const {
  if (!is_text_) return *tree_;
  // Were the text unreadable, an empty object is safer than a crash.
  if (!ParseTrustedJsonObject(text_.data(), text_.size(), text_.size(), slot).ok()) *slot = Value(Object{});
  return *slot;
}

}  // namespace parendb
