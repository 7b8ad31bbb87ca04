// A range of index keys, as the lock manager locks it (section 10 of the
// contract). Keys are byte strings whose memcmp order is the index order
// (index/key.h makes them); the lock manager only compares them.
#pragma once

#include <string>
#include <string_view>

namespace parendb {

struct KeyRange {
  std::string lo, hi;         // bounds; ignored where unbounded
  bool lo_open = false;       // lo itself excluded
  bool hi_open = false;       // hi itself excluded
  bool lo_unbounded = false;  // from the first key
  bool hi_unbounded = false;  // to the last key

  static KeyRange Point(std::string key) {
    KeyRange r;
    r.lo = key;
    r.hi = std::move(key);
    return r;
  }
  static KeyRange All() {
    KeyRange r;
    r.lo_unbounded = r.hi_unbounded = true;
    return r;
  }
  bool is_point() const { return !lo_unbounded && !hi_unbounded && !lo_open && !hi_open && lo == hi; }
  // Whether no key can lie in it.
  bool empty() const {
    if (lo_unbounded || hi_unbounded) return false;
    int c = lo.compare(hi);
    return c > 0 || (c == 0 && (lo_open || hi_open));
  }
  bool Contains(std::string_view k) const {
    if (!lo_unbounded) {
      int c = k.compare(lo);
      if (c < 0 || (c == 0 && lo_open)) return false;
    }
    if (!hi_unbounded) {
      int c = k.compare(hi);
      if (c > 0 || (c == 0 && hi_open)) return false;
    }
    return true;
  }
};

// The smallest range holding both.
inline KeyRange Span(const KeyRange& a, const KeyRange& b) {
  KeyRange r;
  if (a.lo_unbounded || b.lo_unbounded) {
    r.lo_unbounded = true;
  } else {
    int c = a.lo.compare(b.lo);
    const KeyRange& x = c < 0 ? a : b;
    r.lo = x.lo;
    r.lo_open = c == 0 ? (a.lo_open && b.lo_open) : x.lo_open;
  }
  if (a.hi_unbounded || b.hi_unbounded) {
    r.hi_unbounded = true;
  } else {
    int c = a.hi.compare(b.hi);
    const KeyRange& x = c > 0 ? a : b;
    r.hi = x.hi;
    r.hi_open = c == 0 ? (a.hi_open && b.hi_open) : x.hi_open;
  }
  return r;
}

// Whether some key lies in both.
inline bool Overlap(const KeyRange& a, const KeyRange& b) {
  // a ends before b starts?
  auto before = [](const KeyRange& x, const KeyRange& y) {
    if (x.hi_unbounded || y.lo_unbounded) return false;
    int c = x.hi.compare(y.lo);
    return c < 0 || (c == 0 && (x.hi_open || y.lo_open));
  };
  return !a.empty() && !b.empty() && !before(a, b) && !before(b, a);
}

}  // namespace parendb
