// Votes held back by a node that started from an empty data directory.
//
// Such a node bootstraps the configuration it was given, as every node of
// a new cluster does — but it may instead be a member that lost its
// directory. Then it forgot the entries it helped commit and the vote it
// cast, and with its empty log it would grant its vote to any candidate:
// with one other node lagging, the two could elect the laggard, and
// commits acknowledged before would be lost (docs/replication.md).
//
// So until the node has caught up with a leader (ClusterNode disarms the
// guard once a read barrier succeeds: it then holds every commit ever
// acknowledged; or once it follows a leader it voted for, which is a new
// cluster's first election), it drops vote requests — pre-votes too —
// from candidates whose log holds more than the bootstrap configuration
// (index 1). In a new cluster every candidate's log is that one entry, so
// the first election goes on; in a running cluster a candidate can no
// longer win with this node's vote alone, and the node catches up from
// the leader. A dropped request is a lost message to the candidate, which
// Raft tolerates. (IncomingMessages, incoming.h, asks it of each request.) Not covered: two of three nodes without the data (one
// that lost it, one that never had it) can still elect each other.
#pragma once

#include "raft/libraft.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace parendb {

class VoteGuard {
 public:
  VoteGuard() = default;
  VoteGuard(const VoteGuard&) = delete;
  VoteGuard& operator=(const VoteGuard&) = delete;

  void Arm() { armed_.store(true, std::memory_order_release); }
  // Whether it was armed (so only one caller tells of it).
  bool Disarm() { return armed_.exchange(false, std::memory_order_acq_rel); }
  bool armed() const { return armed_.load(std::memory_order_acquire); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // Told (on the Raft loop) of the first request refused in each term.
  void SetEventLog(std::function<void(const std::string&)> log) { event_log_ = std::move(log); }

  // Whether a vote request may reach a node whose guard is armed.
  static bool Admits(const struct raft_request_vote& request) { return request.last_log_index <= 1; }
  // On the Raft loop, for every vote request received (incoming.h): true
  // to drop it, as if lost. Counts and logs what it refuses.
  bool Refuses(const struct raft_request_vote& request);

 private:
  std::atomic<bool> armed_{false};
  std::atomic<uint64_t> refused_{0};
  raft_term logged_term_ = 0;  // the Raft loop's
  std::function<void(const std::string&)> event_log_;
};

}  // namespace parendb
