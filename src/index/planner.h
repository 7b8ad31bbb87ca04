// The planner: where a condition becomes index lookups (section 10).
//
// A selection's condition is answered by an index when it is, or holds as
// an `&` conjunct, an `=`, `in` or range (`<` `<=` `>` `>=`) comparing an
// indexed path with literals, or an `|` whose every branch is. An ordered
// selection on an indexed path walks that index in order. Everything else
// scans. The plan only narrows where documents are looked for and which
// keys are locked: the whole condition is still tested on every document
// found, so an index never changes an answer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eval/expr.h"
#include "index/index.h"
#include "lockmgr/key_range.h"

namespace parendb {

using IndexList = std::vector<std::shared_ptr<Index>>;

// `(order (f P) asc|desc)` and `(limit N)` of a select/selects.
struct OrderSpec {
  bool ordered = false;
  Path path;
  bool desc = false;
  int64_t limit = -1;  // -1: none
};

// Ranges of one index that together cover what a condition can match.
struct IndexScan {
  std::shared_ptr<Index> index;
  std::vector<KeyRange> ranges;
};

struct Plan {
  // Not _id lookups: those are decided before planning (CandidateIds).
  bool by_index = false;  // false: scan the collection
  std::vector<IndexScan> scans;
  // scans[0].ranges[0] is walked in the order's direction, so the first
  // documents found are the first in order (and limit can stop early).
  bool walk_in_order = false;
  // A document whose key lies in the ranges satisfies the whole condition
  // (it is one comparison, one `in`, or an `&` of them on this one index):
  // no need to test it.
  bool exact = false;
};

// The indexes a plan may use: a collection's, and its _id index (which
// answers ranges of _id; =/in of _id are decided before planning).
struct Indexes {
  const IndexList& list;
  const std::shared_ptr<Index>* id = nullptr;
  const std::shared_ptr<Index>* Find(const Path& path) const;
};

// The plan for a condition over a collection with these indexes.
Plan PlanSelection(const Expr& cond, const Indexes& indexes, const OrderSpec& order);

// The index on exactly this path, or null.
const std::shared_ptr<Index>* FindIndex(const IndexList& indexes, const Path& path);
// The list without the index on path (dropping it); *gone gets that index
// (null when there is none).
IndexList WithoutIndex(const IndexList& indexes, const Path& path, std::shared_ptr<Index>* gone);

bool SamePath(const Path& a, const Path& b);
// Whether setting one path can change the value at the other (one is a
// prefix of the other).
bool PathsOverlap(const Path& a, const Path& b);

// The overlap of two ranges (possibly empty).
KeyRange Intersect(const KeyRange& a, const KeyRange& b);

}  // namespace parendb
