// Building an index over what a collection holds: (mkindex) on the leader,
// and its replay on a follower (engine/replicated_apply.cc).
#pragma once

#include <functional>

#include "base/status.h"
#include "index/index.h"
#include "mvcc/collection.h"

namespace parendb {

// Fills index from every version the collection keeps (progress is told
// every 100,000); for a unique index, says whether two documents share a
// non-null key (duplicate-key).
Status FillIndex(const Collection& c, Index* index, const std::function<void(size_t)>& progress);

}  // namespace parendb
