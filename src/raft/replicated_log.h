// Where a cluster node's commits go: a CommitLog that proposes each
// commit's records to Raft (libraft) and completes it once a majority
// holds it and this node has applied it — and the state machine that
// applies every committed entry, in log order, to the engine.
//
// Threads. Append, ReadIndex, WhenApplied and the getters may be called
// from any thread; they queue work and call `wake`, which must make the
// loop thread call Drain() soon (ClusterNode: a uv_async; the tests: by
// hand). Everything else — Drain, Refresh, the FSM callbacks, the raft_*
// calls — runs on the one thread that runs the Raft instance. Commits
// queued between two Drains share one raft_apply (one disk write and one
// round of AppendEntries), as commits arriving together share a sync in
// the write-ahead log.
//
// Outcomes of a commit: ok once applied here (the leader applies an entry
// only after a majority stored it); not-leader when this node was not
// the leader when it proposed (nothing was replicated); unavailable when
// the leadership was lost while it was being replicated (it may still be
// applied, by this node too, when the next leader commits it).
#pragma once

#include "raft/libraft.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "wal/commit_log.h"

namespace parendb {

class ReplicatedLog final : public CommitLog {
 public:
  // The leader's client address for not-leader answers is learnt from the
  // announcements (raft/entry.h); client_address is this node's own.
  ReplicatedLog(Engine* engine, struct raft* raft, std::string client_address, std::function<void()> wake);
  ~ReplicatedLog() override;

  // --- any thread
  void Append(const std::vector<LogRecord>& records, Done done) override { AppendIn(0, records, std::move(done)); }
  // epoch 0: whatever the term (catalog changes, which check as they go).
  void AppendIn(uint64_t epoch, const std::vector<LogRecord>& records, Done done) override;
  const LogStats& stats() const override { return stats_; }
  // On the leader: done(ok, index) after a Raft barrier: the leadership is
  // confirmed and every entry up to index applied here. Barriers are
  // shared by every request queued while the previous one was out.
  void ReadIndex(std::function<void(Status, uint64_t)> done);
  // A membership change or a leadership transfer (ClusterRole's contract).
  void ChangeMembership(ClusterRole::MembershipChange change, std::function<void(Status)> done);
  // done(ok) once this node has applied index (at once if it has), or
  // unavailable once the deadline passes first (checked by Refresh).
  void WhenApplied(uint64_t index, std::chrono::steady_clock::time_point deadline, std::function<void(Status)> done);
  uint64_t applied() const { return applied_.load(std::memory_order_acquire); }
  // A leader that has applied its own announcement (update transactions
  // may acquire); otherwise not-leader naming the leader if known.
  Status AcceptsUpdates(uint64_t* epoch = nullptr) const;
  // The leader's client address, or empty.
  std::string LeaderAddress() const;
  // Snapshot of the role for (cluster): "leader", "follower", "candidate".
  struct Role {
    int state = RAFT_UNAVAILABLE;
    uint64_t term = 0, leader_id = 0;
    std::string leader_address;
    std::vector<std::pair<uint64_t, std::string>> members;  // id, Raft address
    uint64_t elections_won = 0, commits_proposed = 0, snapshots_taken = 0, snapshots_installed = 0;
  };
  Role role() const;
  // Whether Raft had this node leading at the last Refresh: what a read
  // asks on every acquire, without copying the role.
  bool is_leader() const { return is_leader_.load(std::memory_order_acquire); }

  // --- the loop thread
  void Drain();
  // Picks up role changes: a new leader announces itself; a node that lost
  // the leadership fails its queued work. Call after Raft may have changed
  // state (a timer does, every few milliseconds).
  void Refresh();
  // Fails everything queued or in flight (closing).
  void FailAll(const Status& why);
  struct raft_fsm* fsm() { return &fsm_; }
  // Whether snapshots are encoded off the loop (needs raft_io version 2).
  void SetAsyncSnapshots(bool on) { fsm_.snapshot_async = on ? &SnapshotAsync : nullptr; }
  // Told of elections, announcements and snapshots, one line each.
  void SetEventLog(std::function<void(const std::string&)> log) { event_log_ = std::move(log); }

 private:
  struct Proposal;
  struct Queued {
    struct raft_buffer buf;  // the entry, padded (raft/entry.h); seq filled in by Drain
    size_t payload = 0;      // bytes of records after the header
    Done done;
    uint64_t epoch = 0;  // propose only in this term (0: any)
    // Gives up a commit that is not proposed: its buffer is still ours.
    void Fail(const Status& why) {
      raft_free(buf.base);
      done(why, 0);
    }
  };
  struct Barrier;
  struct Change {
    ClusterRole::MembershipChange change;
    std::function<void(Status)> done;
  };

  static int Apply(struct raft_fsm* fsm, const struct raft_buffer* buf, void** result);
  static int Snapshot(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs);
  static int SnapshotAsync(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs);
  static int SnapshotFinalize(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs);
  static int Restore(struct raft_fsm* fsm, struct raft_buffer* buf);
  static void ApplyDone(struct raft_apply* req, int status, void* result);
  static void BarrierDone(struct raft_barrier* req, int status);

  int ApplyEntry(std::string_view entry, uint64_t index);
  void Applied(uint64_t index);
  void ExpireWaiters();
  void FailProposal(Proposal* p, const Status& why);
  void StartBarrier();
  void StartChange(Change c);
  void Announce();
  Status NotLeader() const;
  void Event(const std::string& line) {
    if (event_log_) event_log_(line);
  }

  Engine* engine_;
  struct raft* raft_;
  const std::string client_address_;
  const std::function<void()> wake_;
  const uint64_t origin_;  // random per process start
  struct raft_fsm fsm_ {};
  LogStats stats_;
  std::function<void(const std::string&)> event_log_;

  // Queued by any thread, taken by Drain.
  std::mutex queue_mu_;
  std::vector<Queued> queue_;
  std::vector<std::function<void(Status, uint64_t)>> read_queue_;
  std::vector<Change> change_queue_;

  // Loop thread only.
  uint64_t next_seq_ = 1;
  std::map<uint64_t, Done> waiting_;  // seq -> the commit proposed, not yet applied or failed
  std::vector<Proposal*> in_flight_;
  Barrier* barrier_ = nullptr;  // the read barrier out, if any
  std::vector<std::function<void(Status, uint64_t)>> reads_next_;  // for the next barrier
  uint64_t announced_term_ = 0;  // the term this node last announced itself in
  std::chrono::steady_clock::time_point announced_at_{};
  struct SnapshotWork;
  std::unique_ptr<SnapshotWork> snapshot_;

  // Written by the loop thread, read by any.
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> ready_term_{0};  // the term whose announcement this leader applied
  mutable std::mutex role_mu_;
  Role role_;
  std::map<uint64_t, std::string> client_addresses_;  // node -> announced client address
  bool addresses_changed_ = false;                     // since Refresh last looked (role_mu_)
  std::pair<uint64_t, uint64_t> members_stamp_{};      // the configuration role_.members shows (loop thread)
  std::atomic<bool> is_leader_{false};
  struct Waiter {
    std::chrono::steady_clock::time_point deadline;
    std::function<void(Status)> done;
  };
  std::multimap<uint64_t, Waiter> applied_waiters_;  // guarded by role_mu_
};

}  // namespace parendb
