// Votes held back by a node that may have forgotten entries it helped
// commit, until it has caught up with a leader.
//
// Two such nodes:
//   - kStartedEmpty: a node that started from an empty data directory. It
//     bootstraps the configuration it was given, as every node of a new
//     cluster does — but it may instead be a member that lost its
//     directory. Then it forgot the entries it helped commit and the vote
//     it cast, and with its empty log it would grant its vote to any
//     candidate: with one other node lagging, the two could elect the
//     laggard, and commits acknowledged before would be lost
//     (docs/replication.md). It drops vote requests — pre-votes too — from
//     candidates whose log holds more than the bootstrap configuration
//     (index 1). In a new cluster every candidate's log is that one entry,
//     so the first election goes on; in a running cluster a candidate can
//     no longer win with this node's vote alone.
//   - kLostEntries: a node whose log had to be cut back at start to the
//     newest snapshot or before (raft/segment_overlap.h: two segments that
//     start at one index). Its log is no longer empty, so besides voting
//     for a laggard it could itself win against one and lead without the
//     entries it lost. It drops every vote request, and it does not stand:
//     the answers to its own vote requests (and a leader's TimeoutNow) are
//     dropped too, so as a candidate it never gets past the pre-vote and
//     never raises its term (incoming.h).
// Either way a dropped message is a lost one, which Raft tolerates; the
// cluster goes on without this node's vote, and the node catches up from
// the leader.
//
// The guard is disarmed once a read barrier succeeds (ClusterNode: the node
// then holds every commit ever acknowledged), or, kStartedEmpty only, once
// it follows a leader it voted for (a new cluster's first election). Armed
// with a directory (Open), it is recorded there, synced, in the file
// "votes-held" and removed on Disarm: a node that restarts before it has
// caught up holds back again, though its directory is no longer empty and
// its log no longer overlaps. Not covered: two of three nodes without the
// data (one that lost it, one that never had it) can still elect each
// other.
#pragma once

#include "base/status.h"
#include "raft/libraft.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace parendb {

enum class VoteHold : uint8_t { kNone, kStartedEmpty, kLostEntries };

class VoteGuard {
 public:
  static constexpr const char* kRecordName = "votes-held";

  VoteGuard() = default;
  VoteGuard(const VoteGuard&) = delete;
  VoteGuard& operator=(const VoteGuard&) = delete;

  // Before raft_start: arms the guard as recorded in raft_dir, if it is,
  // and records every later Arm there. (Unknown contents read as
  // kLostEntries, the stricter: a crash may have cut the record short.)
  Status Open(const std::string& raft_dir);
  // Arms the guard (never less strictly than it is), recorded and synced
  // first where Open gave a directory.
  Status Arm(VoteHold why);
  // Whether it was armed (so only one caller tells of it); removes the record.
  bool Disarm();
  bool armed() const { return hold() != VoteHold::kNone; }
  VoteHold hold() const { return static_cast<VoteHold>(hold_.load(std::memory_order_acquire)); }
  // Whether the node must not stand as a candidate (kLostEntries).
  bool HoldsCandidacy() const { return hold() == VoteHold::kLostEntries; }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // Told (on the Raft loop) of the first request refused in each term, and
  // of a record it could not remove.
  void SetEventLog(std::function<void(const std::string&)> log) { event_log_ = std::move(log); }

  // Whether a vote request may reach a node whose guard holds `why`.
  static bool Admits(VoteHold why, const struct raft_request_vote& request) {
    return why == VoteHold::kNone || (why == VoteHold::kStartedEmpty && request.last_log_index <= 1);
  }
  // On the Raft loop, for every vote request received (incoming.h): true
  // to drop it, as if lost. Counts and logs what it refuses.
  bool Refuses(const struct raft_request_vote& request);

 private:
  std::atomic<uint8_t> hold_{static_cast<uint8_t>(VoteHold::kNone)};
  std::atomic<uint64_t> refused_{0};
  std::string dir_;  // where the record goes; empty: nowhere
  raft_term logged_term_ = 0;  // the Raft loop's
  std::function<void(const std::string&)> event_log_;
};

}  // namespace parendb
