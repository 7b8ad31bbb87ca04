#ifndef PARENDB_RAFT_SEGMENT_OVERLAP_H_
#define PARENDB_RAFT_SEGMENT_OVERLAP_H_

#include <cstdint>
#include <functional>
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
// entries the truncation should have removed) is repaired, and the file as
// it was is kept for inspection under an "overlap-" prefix, out of
// libraft's sight:
// - if it ends at or before the newest snapshot's index, it is set aside
//   whole: every entry the node needs from it is in that snapshot (the
//   loader drops entries behind the snapshot anyway, except as spares for
//   lagging followers);
// - otherwise it is trimmed to the entries before the newer segment's
//   first — what the interrupted truncation would have left — when that
//   cut falls between two of its write batches and the terms stay in
//   order across it (the last kept entry's term at most the newer
//   segment's first): a copy of the kept bytes is written and synced as
//   "trimming-NAME", the original renamed away, the copy renamed in, the
//   directory synced. A "trimming-" file found at the next start (a crash
//   mid-repair) is finished or dropped.
// Two segments that start at one index are different: nothing on disk
// tells which was written last (terms do not, file times do not), so when
// both end at or before the snapshot both are set aside, and otherwise the
// log is cut before them: the two, every later closed segment and every
// open segment are set aside (overlap-NAME), and the node is left with the
// snapshot and the entries before their first index. It may have
// acknowledged some of those set aside, so `before_cut` runs first and
// must succeed (ClusterNode arms and records its VoteGuard there,
// kLostEntries: no vote and no candidacy until it has caught up with a
// leader, vote_guard.h). A pair it cannot cut back (the cut inside a batch,
// terms out of order, an unreadable segment) is an error naming the two
// and what to do: start the node with an empty directory; it catches up
// from the others. Apart from finishing an interrupted repair, nothing is
// changed unless every overlap can be repaired. Directories without
// overlaps are not touched.
struct Repair {
  std::vector<std::string> set_aside;  // segments moved whole to overlap-NAME
  struct Trim {
    std::string from, to;  // the segment's name before and after
    uint64_t dropped = 0;  // entries cut from its end
  };
  std::vector<Trim> trimmed;
  uint64_t cut_from = 0;  // the log was cut before this index (0: it was not)
};
Status RepairOverlappingSegments(const std::string& raft_dir, Repair* done,
                                 const std::function<Status()>& before_cut = nullptr);

}  // namespace parendb::raft_segments

#endif  // PARENDB_RAFT_SEGMENT_OVERLAP_H_
