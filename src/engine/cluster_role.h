// What an engine that replicates through a cluster (src/raft) asks of it.
// A standalone database has none (Engine::cluster() is null) and pays
// nothing for the question.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

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

  // The numbers of (cluster), of (stats)'s "cluster" member and of the
  // metrics endpoint.
  struct Metrics {
    std::string role;  // "leader", "follower", "candidate"
    int64_t node = 0, term = 0, applied = 0, leader_id = 0, members = 0;
    int64_t elections_won = 0, commits_proposed = 0, snapshots_taken = 0, snapshots_installed = 0;
    int64_t snapshots_held = 0;  // a leader's snapshots held while taking one's own (raft/incoming.h)
    int64_t read_barriers = 0;   // barriers this node asked for (current reads, and refreshes for stale ones)
    int64_t stale_reads = 0;     // read-only acquires let through by CurrentWithin
    int64_t follower_logs_lost = 0;  // as leader: followers found to have lost their log (raft/incoming.h)
    int64_t votes_refused = 0;       // vote requests held back after an empty start (raft/vote_guard.h)

    // The counters, in the order all three list them: the JSON name (the
    // metric is parendb_cluster_NAME_total) and the metric's help.
    struct Counter {
      std::string_view name;
      int64_t Metrics::*field;
      std::string_view help;
    };
    static constexpr Counter kCounters[] = {
        {"elections_won", &Metrics::elections_won, "Elections this node won."},
        {"commits_proposed", &Metrics::commits_proposed, "Commits this node proposed as leader."},
        {"snapshots_taken", &Metrics::snapshots_taken, "Raft snapshots this node took."},
        {"snapshots_installed", &Metrics::snapshots_installed, "Raft snapshots this node installed from a leader."},
        {"snapshots_held", &Metrics::snapshots_held,
         "Snapshots from a leader that arrived while this node was taking its own, handed on once it was done."},
        {"read_barriers", &Metrics::read_barriers,
         "Read barriers this node asked for (current reads, and refreshes for stale reads)."},
        {"stale_reads", &Metrics::stale_reads, "Read-only acquires with (stale MS) served without a barrier."},
        {"follower_logs_lost", &Metrics::follower_logs_lost,
         "Followers this node, as leader, found to have lost the log they had acknowledged (restarted empty)."},
        {"votes_refused", &Metrics::votes_refused,
         "Vote requests held back after starting from an empty directory, until caught up with a leader."},
    };
  };
  virtual Metrics GetMetrics() = 0;

  // (cluster): this node, its role, the leader and the members, as a JSON
  // object.
  virtual std::string DescribeJson() = 0;
};

}  // namespace parendb
