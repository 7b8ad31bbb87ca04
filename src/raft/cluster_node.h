// A server's membership in a replicated cluster (section 11): its data
// directory, the Raft instance (libraft, libuv backend and TCP transport)
// on a thread of its own, and the engine every commit of which goes
// through Raft (ReplicatedLog). The counterpart of datadir/data_dir.h for a
// standalone server: the engine sees a CommitLog either way.
//
//   DIR/LOCK   flock'ed by the one process that has it open
//   DIR/raft/  libraft's log segments, snapshots and metadata
//
// A fresh directory bootstraps the configuration given in the options
// (every node must be given the same one) unless it joins a running
// cluster; a directory that has been used ignores it and rejoins with what
// its log says. There is no other state:
// on start the engine is rebuilt from the newest snapshot and the log.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "engine/cluster_role.h"
#include "engine/engine.h"
#include "raft/incoming.h"
#include "raft/libraft.h"
#include "raft/read_freshness.h"
#include "raft/read_index_client.h"
#include "raft/replicated_log.h"
#include "raft/vote_guard.h"
#include "wal/file.h"

namespace parendb {

struct ClusterOptions {
  std::string dir;
  uint64_t node_id = 0;
  std::map<uint64_t, std::string> members;  // id -> Raft address HOST:PORT; includes node_id
  // A node joining a running cluster: no bootstrap; it waits, empty, for
  // the leader to add it ((cluster add …)) and then catches up.
  bool join = false;
  std::string advertise;                    // this node's client address HOST:PORT
  std::string password;                     // for (cluster read-index) at the leader, if servers require one
  EngineOptions engine;
  unsigned election_timeout_ms = 1000;
  unsigned heartbeat_ms = 100;
  unsigned snapshot_threshold = 65536;  // entries after which a snapshot is taken
  unsigned snapshot_trailing = 8192;    // entries kept behind it for followers that lag a little
  // How long the leader waits for a follower to install a snapshot before
  // it tries again.
  unsigned install_snapshot_timeout_ms = 10000;
  std::chrono::milliseconds read_timeout{5000};  // a follower read's wait for the leader and to catch up
  std::function<void(const std::string&)> on_event;  // elections, announcements, snapshots
};

// "1=127.0.0.1:7521,2=127.0.0.1:7522,…" -> members; errors name the bad entry.
Status ParseClusterMembers(const std::string& spec, std::map<uint64_t, std::string>* out);

class ClusterNode final : public ClusterRole {
 public:
  static Status Open(ClusterOptions options, std::unique_ptr<ClusterNode>* out);
  ~ClusterNode() override;  // leaves the loop; unfinished commits answer unavailable

  Engine* engine() { return engine_.get(); }

  Status AcceptsUpdates(uint64_t* epoch) override { return log_->AcceptsUpdates(epoch); }
  void ReadBarrier(std::function<void(Status)> done) override;
  bool CurrentWithin(std::chrono::milliseconds bound) override;
  void ReadIndex(std::function<void(Status, uint64_t)> done) override { log_->ReadIndex(std::move(done)); }
  void ChangeMembership(MembershipChange change, std::function<void(Status)> done) override {
    log_->ChangeMembership(std::move(change), std::move(done));
  }
  Metrics GetMetrics() override;
  std::string DescribeJson() override;

 private:
  explicit ClusterNode(ClusterOptions options) : options_(std::move(options)) {}
  Status Start();
  // A follower's read barrier: the leader's read index, then until this
  // node has applied it.
  void AskLeader(std::function<void(Status)> done);
  // Everything in Metrics, from r and this node's counters.
  void FillMetrics(const ReplicatedLog::Role& r, Metrics* m);
  // While the vote guard is armed (a node that bootstrapped from an empty
  // directory): disarms it if this node voted for the current leader in
  // its term (a new cluster), or else asks a read barrier now and then,
  // since the first that succeeds (this one or a read's) disarms it. On
  // the loop thread.
  void CheckCaughtUp();
  // A read barrier nobody waits for — it refreshes freshness_ and disarms
  // the vote guard like any other — unless one is out already.
  void BackgroundBarrier();
  void Event(const std::string& line) {
    if (options_.on_event) options_.on_event(line);
  }

  const ClusterOptions options_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<Engine> engine_;
  ReplicatedLog* log_ = nullptr;  // owned by engine_
  // Before read_index_: its pending questions are failed, and their
  // callbacks run, when it is destroyed.
  ReadFreshness freshness_;
  std::atomic<bool> background_barrier_{false};  // a BackgroundBarrier is out
  std::atomic<int64_t> read_barriers_{0}, stale_reads_{0};
  VoteGuard vote_guard_;
  IncomingMessages incoming_;                         // holds the raft_io
  std::chrono::steady_clock::time_point probe_at_{};  // CheckCaughtUp's last barrier (loop thread)
  std::unique_ptr<ReadIndexClient> read_index_;

  uv_loop_t loop_{};
  uv_async_t wake_{};
  uv_check_t check_{};
  struct raft_uv_transport transport_ {};
  struct raft raft_ {};
  bool loop_ready_ = false, raft_ready_ = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace parendb
