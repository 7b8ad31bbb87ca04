#ifndef PARENDB_RAFT_SEGMENT_OVERLAP_H_
#define PARENDB_RAFT_SEGMENT_OVERLAP_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace parendb::raft_segments {

// libraft 0.15 can leave two closed log segments whose index ranges overlap
// (say 9001-9002 and 9002-9132): a truncation of the log that races a
// snapshot's barrier never completes on disk, and the entries written
// after it land in a new segment beside the old one (canonical/raft#372,
// fixed upstream after 0.15). The running node is unaffected; its loader
// is not: it sorts segments assuming they are disjoint and then refuses the
// directory ("closed segment … is past last snapshot …"), so the node
// cannot restart.
//
// Called before raft_start, with the directory locked. Where two closed
// segments overlap, the older one (the lower first index: it holds the
// entries the truncation should have removed) is renamed out of libraft's
// sight ("overlap-" prefixed, kept for inspection) if it ends at or before
// the newest snapshot's index: every entry the node needs from it is in
// that snapshot — the loader drops entries behind the snapshot anyway,
// except as spares for lagging followers. *set_aside gets the names moved.
// An older segment that reaches past the snapshot cannot go without losing
// entries: the answer is then an error naming the two and what to do (start
// the node with an empty directory; it catches up from the others).
// Directories without overlaps are not touched.
Status SetAsideOverlappingSegments(const std::string& raft_dir, std::vector<std::string>* set_aside);

}  // namespace parendb::raft_segments

#endif  // PARENDB_RAFT_SEGMENT_OVERLAP_H_
