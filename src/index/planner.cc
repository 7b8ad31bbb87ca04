#include "index/planner.h"

#include <optional>

#include "index/key.h"

namespace parendb {
namespace {

using Scans = std::vector<IndexScan>;

// The ranges of `path OP literal` (literal on the right).
std::vector<KeyRange> ComparisonRanges(Expr::Op op, const Value& literal) {
  std::string key = KeyOf(&literal);
  if (op == Expr::Op::kEq) return {KeyRange::Point(std::move(key))};
  // <, <=, >, >= order numbers with numbers and strings with strings only.
  std::optional<KeyRange> kind = KindRange(literal);
  if (!kind) return {};
  KeyRange r = *kind;
  if (op == Expr::Op::kLt || op == Expr::Op::kLe) {
    r.hi = std::move(key);
    r.hi_open = op == Expr::Op::kLt;
  } else {
    r.lo = std::move(key);
    r.lo_open = op == Expr::Op::kGt;
  }
  if (r.empty()) return {};
  return {std::move(r)};
}

Expr::Op Mirror(Expr::Op op) {
  switch (op) {
    case Expr::Op::kLt: return Expr::Op::kGt;
    case Expr::Op::kLe: return Expr::Op::kGe;
    case Expr::Op::kGt: return Expr::Op::kLt;
    case Expr::Op::kGe: return Expr::Op::kLe;
    default: return op;
  }
}

// The path of a comparison of a path with a literal, either way round
// (*path_left: the path comes first); null for anything else.
const Expr* ComparedPath(const Expr& c, bool* path_left) {
  const Expr& a = c.args[0];
  const Expr& b = c.args[1];
  *path_left = a.op == Expr::Op::kPath && b.op == Expr::Op::kLiteral;
  if (*path_left) return &a;
  return b.op == Expr::Op::kPath && a.op == Expr::Op::kLiteral ? &b : nullptr;
}

void AddScan(Scans* scans, const std::shared_ptr<Index>& index, std::vector<KeyRange> ranges) {
  for (IndexScan& s : *scans) {
    if (s.index == index) {
      for (KeyRange& r : ranges) s.ranges.push_back(std::move(r));
      return;
    }
  }
  scans->push_back(IndexScan{index, std::move(ranges)});
}

bool AllPoints(const IndexScan& s) {
  for (const KeyRange& r : s.ranges) {
    if (!r.is_point()) return false;
  }
  return true;
}

std::optional<Scans> Ranges(const Expr& c, const Indexes& indexes) {
  switch (c.op) {
    case Expr::Op::kFalse:
      return Scans{};
    case Expr::Op::kEq:
    case Expr::Op::kLt:
    case Expr::Op::kLe:
    case Expr::Op::kGt:
    case Expr::Op::kGe: {
      bool path_left;
      const Expr* path = ComparedPath(c, &path_left);
      if (path == nullptr) return std::nullopt;
      const std::shared_ptr<Index>* index = indexes.Find(path->path);
      if (index == nullptr) return std::nullopt;
      const Expr& lit = c.args[path_left ? 1 : 0];
      Scans out;
      out.push_back(IndexScan{*index, ComparisonRanges(path_left ? c.op : Mirror(c.op), lit.literal)});
      return out;
    }
    case Expr::Op::kIn: {
      if (c.args[0].op != Expr::Op::kPath) return std::nullopt;
      const std::shared_ptr<Index>* index = indexes.Find(c.args[0].path);
      if (index == nullptr) return std::nullopt;
      std::vector<KeyRange> points;
      for (size_t i = 1; i < c.args.size(); ++i) {
        if (c.args[i].op != Expr::Op::kLiteral) return std::nullopt;
        points.push_back(KeyRange::Point(KeyOf(&c.args[i].literal)));
      }
      Scans out;
      out.push_back(IndexScan{*index, std::move(points)});
      return out;
    }
    case Expr::Op::kAnd: {
      // Conjuncts on one index narrow each other (a range from two
      // bounds); the plan then takes the narrowest-looking index: points
      // before ranges, fewer points first.
      Scans single;
      std::optional<Scans> multi;
      for (const Expr& a : c.args) {
        std::optional<Scans> r = Ranges(a, indexes);
        if (!r) continue;
        if (r->empty()) return Scans{};  // a false conjunct
        if (r->size() > 1) {
          if (!multi) multi = std::move(r);
          continue;
        }
        IndexScan& s = (*r)[0];
        bool merged = false;
        for (IndexScan& have : single) {
          if (have.index != s.index) continue;
          std::vector<KeyRange> both;
          for (const KeyRange& x : have.ranges) {
            for (const KeyRange& y : s.ranges) {
              KeyRange z = Intersect(x, y);
              if (!z.empty()) both.push_back(std::move(z));
            }
          }
          have.ranges = std::move(both);
          merged = true;
        }
        if (!merged) single.push_back(std::move(s));
      }
      const IndexScan* best = nullptr;
      for (const IndexScan& s : single) {
        if (s.ranges.empty()) return Scans{{s}};  // nothing can match
        bool points = AllPoints(s);
        if (best == nullptr || (points && (!AllPoints(*best) || s.ranges.size() < best->ranges.size()))) best = &s;
      }
      if (best != nullptr) return Scans{*best};
      return multi;
    }
    case Expr::Op::kOr: {
      Scans all;
      for (const Expr& a : c.args) {
        std::optional<Scans> r = Ranges(a, indexes);
        if (!r) return std::nullopt;
        for (IndexScan& s : *r) AddScan(&all, s.index, std::move(s.ranges));
      }
      return all;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

bool SamePath(const Path& a, const Path& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].is_index != b[i].is_index) return false;
    if (a[i].is_index ? a[i].index != b[i].index : a[i].name != b[i].name) return false;
  }
  return true;
}

bool PathsOverlap(const Path& a, const Path& b) {
  size_t n = std::min(a.size(), b.size());
  Path pa(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n)), pb(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
  return SamePath(pa, pb);
}

const std::shared_ptr<Index>* FindIndex(const IndexList& indexes, const Path& path) {
  for (const std::shared_ptr<Index>& i : indexes) {
    if (SamePath(i->path(), path)) return &i;
  }
  return nullptr;
}

IndexList WithoutIndex(const IndexList& indexes, const Path& path, std::shared_ptr<Index>* gone) {
  IndexList list;
  for (const std::shared_ptr<Index>& i : indexes) {
    if (SamePath(i->path(), path)) {
      *gone = i;
    } else {
      list.push_back(i);
    }
  }
  return list;
}

KeyRange Intersect(const KeyRange& a, const KeyRange& b) {
  KeyRange r;
  // The higher low bound (an open one wins a tie).
  if (a.lo_unbounded || b.lo_unbounded) {
    const KeyRange& x = a.lo_unbounded ? b : a;
    r.lo = x.lo;
    r.lo_open = x.lo_open;
    r.lo_unbounded = x.lo_unbounded;
  } else {
    int c = a.lo.compare(b.lo);
    const KeyRange& x = c > 0 ? a : b;
    r.lo = x.lo;
    r.lo_open = c == 0 ? (a.lo_open || b.lo_open) : x.lo_open;
  }
  if (a.hi_unbounded || b.hi_unbounded) {
    const KeyRange& x = a.hi_unbounded ? b : a;
    r.hi = x.hi;
    r.hi_open = x.hi_open;
    r.hi_unbounded = x.hi_unbounded;
  } else {
    int c = a.hi.compare(b.hi);
    const KeyRange& x = c < 0 ? a : b;
    r.hi = x.hi;
    r.hi_open = c == 0 ? (a.hi_open || b.hi_open) : x.hi_open;
  }
  return r;
}

// Whether cond is nothing but comparisons and `in`s of index's path with
// literals (an & of them included), so its ranges say exactly what matches.
static bool Exact(const Expr& c, const Index& index) {
  switch (c.op) {
    case Expr::Op::kTrue:
    case Expr::Op::kFalse:
      return true;
    case Expr::Op::kEq:
    case Expr::Op::kLt:
    case Expr::Op::kLe:
    case Expr::Op::kGt:
    case Expr::Op::kGe: {
      bool path_left;
      const Expr* path = ComparedPath(c, &path_left);
      return path != nullptr && SamePath(path->path, index.path());
    }
    case Expr::Op::kIn: {
      if (c.args[0].op != Expr::Op::kPath || !SamePath(c.args[0].path, index.path())) return false;
      for (size_t i = 1; i < c.args.size(); ++i) {
        if (c.args[i].op != Expr::Op::kLiteral) return false;
      }
      return true;
    }
    case Expr::Op::kAnd:
      for (const Expr& a : c.args) {
        if (a.op == Expr::Op::kAnd || !Exact(a, index)) return false;
      }
      return true;
    default:
      return false;
  }
}

const std::shared_ptr<Index>* Indexes::Find(const Path& path) const {
  if (id != nullptr && SamePath(path, (*id)->path())) return id;
  return FindIndex(list, path);
}

Plan PlanSelection(const Expr& cond, const Indexes& indexes, const OrderSpec& order) {
  Plan plan;
  std::optional<Scans> scans = Ranges(cond, indexes);
  const std::shared_ptr<Index>* by_order = order.ordered ? indexes.Find(order.path) : nullptr;
  if (by_order != nullptr) {
    bool one_range_here = scans && scans->size() == 1 && (*scans)[0].index == *by_order && (*scans)[0].ranges.size() == 1;
    if (one_range_here || !scans) {
      plan.by_index = true;
      plan.walk_in_order = true;
      plan.scans.push_back(IndexScan{*by_order, {one_range_here ? (*scans)[0].ranges[0] : KeyRange::All()}});
      plan.exact = cond.op == Expr::Op::kTrue || (one_range_here && Exact(cond, **by_order));
      return plan;
    }
  }
  if (scans) {
    plan.by_index = true;
    plan.scans = std::move(*scans);
    plan.exact = plan.scans.size() == 1 && Exact(cond, *plan.scans[0].index);
  }
  return plan;
}

}  // namespace parendb
