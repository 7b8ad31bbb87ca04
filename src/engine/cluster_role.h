// What an engine that replicates through a cluster (src/raft) asks of it.
// A standalone database has none (Engine::cluster() is null) and pays
// nothing for the question.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"

namespace parendb {

class ClusterRole {
 public:
  virtual ~ClusterRole() = default;

  // Whether update transactions may acquire here (only the leader's do,
  // once it has applied every commit of the terms before its own). When
  // not, the not-leader error to answer: its message begins with the
  // leader's client address (HOST:PORT) when this node knows it. When so,
  // *epoch is the term this node leads in: a commit is proposed only in
  // that same term (Engine::CommitAsync), so a transaction that read under
  // one leadership never commits under a later one of the same node — the
  // commits of other leaders in between would be lost under its writes.
  virtual Status AcceptsUpdates(uint64_t* epoch) = 0;

  // Calls done, from any thread, once this node has applied every commit
  // that had been acknowledged anywhere in the cluster when ReadBarrier was
  // called — what a read-only acquire waits for (section 11). Fails with
  // unavailable when that cannot be learnt (no leader, no majority).
  virtual void ReadBarrier(std::function<void(Status)> done) = 0;

  // Whether this node has applied every commit acknowledged anywhere in the
  // cluster up to bound ago: then a read-only acquire with (stale MS) takes
  // its snapshot at once, without a barrier (lang-docs/cluster.md). Counts
  // the reads it lets through.
  virtual bool CurrentWithin(std::chrono::milliseconds bound) = 0;

  // On the leader: done(ok, index) once the leader has confirmed it still
  // leads and applied every commit up to index, which covers every commit
  // acknowledged before the call. Followers ask it of the leader
  // ((cluster read-index)); elsewhere not-leader.
  virtual void ReadIndex(std::function<void(Status, uint64_t index)> done) = 0;

  // (cluster add|remove|transfer-leader …), on the leader: done once the
  // change is committed (add: once the new node has caught up and votes)
  // or the leadership has moved; not-leader elsewhere.
  struct MembershipChange {
    enum class Kind { kAdd, kRemove, kTransferLeader } kind = Kind::kAdd;
    uint64_t node = 0;    // transfer-leader: 0 lets the leader pick
    std::string address;  // add: the new node's Raft address HOST:PORT
  };
  virtual void ChangeMembership(MembershipChange change, std::function<void(Status)> done) = 0;

  // The numbers of (stats)'s "cluster" member and of the metrics endpoint.
  struct Metrics {
    std::string role;  // "leader", "follower", "candidate"
    int64_t node = 0, term = 0, applied = 0, leader_id = 0, members = 0;
    int64_t elections_won = 0, commits_proposed = 0, snapshots_taken = 0, snapshots_installed = 0;
    int64_t read_barriers = 0;  // barriers this node asked for (current reads, and refreshes for stale ones)
    int64_t stale_reads = 0;    // read-only acquires let through by CurrentWithin
    int64_t votes_refused = 0;  // vote requests held back after an empty start (raft/vote_guard.h)
    int64_t follower_logs_lost = 0;  // as leader: followers found to have lost their log (raft/incoming.h)
  };
  virtual Metrics GetMetrics() = 0;

  // (cluster): this node, its role, the leader and the members, as a JSON
  // object.
  virtual std::string DescribeJson() = 0;
};

}  // namespace parendb
