// What ParenDB does to Raft messages between libraft's I/O and libraft:
// it sits between the raft_io given to raft_init and the receive callback
// libraft passes to its start, and sees every message the node receives.
//
// Three things happen there:
//   - Vote requests go through the node's VoteGuard (vote_guard.h), which
//     drops some while a node that started empty, or lost the end of its
//     log, catches up; and a node of the second kind gets no answers to its
//     own vote requests and no TimeoutNow, so that it never wins.
//   - On a leader, a follower's answer that shows it no longer holds what
//     it acknowledged (a rejection naming a last index below the one the
//     leader has as matched, or its answer to a snapshot at or below it:
//     the follower lost its directory and started empty) makes the leader
//     forget that match index before libraft sees the answer. libraft 0.15
//     never lowers a match index: it takes such a rejection for a stale one
//     and such a snapshot answer for no progress, and sends that follower
//     nothing until --snapshot-timeout (10 s by default) — and meanwhile
//     still counts it as holding entries it lost. Forgetting is always
//     safe: a match index only counts the follower towards a majority and
//     says what to send it, and libraft learns the true one from the
//     follower's next answers. (Found by
//     timing a follower wiped in an idle cluster: 11.3 s to catch up.)
//   - An InstallSnapshot that arrives while this node is taking (or
//     installing) a snapshot of its own is held, not handed on: libraft
//     0.15 drops such a message without an answer, and the leader then
//     resends it only after --snapshot-timeout (10 s by default), a stall
//     of every commit when the other follower is down. It is handed on
//     by Poll, called after each turn of the loop, once the node's own
//     snapshot is done; a newer one replaces it meanwhile. (Found by the
//     nemesis test in tests/cluster_test.cc: a follower restarted behind
//     applies entries, crosses its snapshot threshold, and the leader's
//     snapshot arrives during its own.)
// Raft tolerates the first two: a message dropped or delayed is one lost or
// late.
#pragma once

#include "raft/libraft.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>

namespace parendb {

class VoteGuard;

class IncomingMessages {
 public:
  IncomingMessages() = default;
  IncomingMessages(const IncomingMessages&) = delete;
  IncomingMessages& operator=(const IncomingMessages&) = delete;
  ~IncomingMessages() { DropHeld(); }

  // The raft_io to give raft_uv_init and raft_init. This object holds it,
  // so libraft's callbacks, which carry only the io, lead back here.
  struct raft_io* io() { return &slot_.io; }
  // Goes between io() and `raft`, which will start it: after raft_uv_init,
  // before raft_start. Both outlive this object's use.
  void Install(struct raft* raft, VoteGuard* votes);
  // On the loop thread, after each turn: hands on a held InstallSnapshot
  // once the node's own snapshot is done.
  void Poll();
  // InstallSnapshot messages held so far (each at most once).
  uint64_t snapshots_held() const { return held_count_.load(std::memory_order_relaxed); }
  // Match indexes forgotten so far (followers found to have lost their log).
  uint64_t matches_forgotten() const { return forgotten_.load(std::memory_order_relaxed); }
  // Told (on the Raft loop) of each match index forgotten.
  void SetEventLog(std::function<void(const std::string&)> log) { event_log_ = std::move(log); }

 private:
  static int Start(struct raft_io* io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv);
  static void Recv(struct raft_io* io, struct raft_message* message);
  // What libraft 0.15's recvInstallSnapshot checks before it drops one.
  bool SnapshotBusy() const { return raft_->snapshot.pending.term != 0 || raft_->snapshot.put.data != nullptr; }
  // On a leader: forgets the sender's match index if the answer shows the
  // sender lost entries it acknowledged (see the top of this file).
  void CheckFollowerLog(const struct raft_message& message);
  void DropHeld();

  // io first in a standard-layout struct: a raft_io* of ours is a Slot*.
  struct Slot {
    struct raft_io io;
    IncomingMessages* self;
  };
  static IncomingMessages* Of(struct raft_io* io) { return reinterpret_cast<Slot*>(io)->self; }

  Slot slot_{{}, this};
  struct raft* raft_ = nullptr;
  VoteGuard* votes_ = nullptr;
  int (*inner_start_)(struct raft_io*, unsigned, raft_io_tick_cb, raft_io_recv_cb) = nullptr;
  raft_io_recv_cb inner_recv_ = nullptr;
  std::optional<struct raft_message> held_;  // the loop thread's; owns its data and configuration
  std::atomic<uint64_t> held_count_{0};
  std::atomic<uint64_t> forgotten_{0};
  std::function<void(const std::string&)> event_log_;
};

}  // namespace parendb
