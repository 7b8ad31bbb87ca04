#include "raft/incoming.h"

#include "raft/vote_guard.h"

namespace parendb {

void IncomingMessages::Install(struct raft* raft, VoteGuard* votes) {
  static_assert(std::is_standard_layout_v<Slot>, "Of() casts a raft_io* to its Slot");
  raft_ = raft;
  votes_ = votes;
  inner_start_ = slot_.io.start;
  slot_.io.start = &Start;
}

int IncomingMessages::Start(struct raft_io* io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv) {
  IncomingMessages* self = Of(io);
  self->inner_recv_ = recv;
  return self->inner_start_(io, msecs, tick, &Recv);
}

void IncomingMessages::Recv(struct raft_io* io, struct raft_message* message) {
  IncomingMessages* self = Of(io);
  switch (message->type) {
    case RAFT_IO_REQUEST_VOTE:
      if (self->votes_ != nullptr && self->votes_->Refuses(message->request_vote)) return;  // nothing to free
      break;
    case RAFT_IO_REQUEST_VOTE_RESULT:
    case RAFT_IO_TIMEOUT_NOW:
      // A node that must not stand (vote_guard.h) hears no answer to its
      // vote requests, and no leader handing it the leadership.
      if (self->votes_ != nullptr && self->votes_->HoldsCandidacy()) return;  // nothing to free
      break;
    case RAFT_IO_INSTALL_SNAPSHOT:
      if (self->SnapshotBusy()) {
        self->DropHeld();  // a newer snapshot replaces it
        self->held_ = *message;
        self->held_count_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      break;
    case RAFT_IO_APPEND_ENTRIES_RESULT:
      self->CheckFollowerLog(*message);
      break;
    default:
      break;
  }
  self->inner_recv_(io, message);
}

void IncomingMessages::CheckFollowerLog(const struct raft_message& message) {
  const struct raft_append_entries_result& answer = message.append_entries_result;
  // libraft itself ignores an answer from an earlier term, and one from a
  // later term makes it step down.
  if (raft_->state != RAFT_LEADER || answer.term != raft_->current_term) return;
  const struct raft_configuration& conf = raft_->configuration;
  unsigned i = 0;
  while (i < conf.n && conf.servers[i].id != message.server_id) ++i;
  if (i == conf.n) return;
  struct raft_progress& p = raft_->leader_state.progress[i];
  // A rejection's last_log_index is the follower's last entry now; it
  // holds every entry it acknowledged, so it is never below the match
  // index unless the follower lost them. A snapshot index is set only
  // while a snapshot is out to the follower, and an answer naming it is
  // the answer to that snapshot.
  bool lost = answer.rejected > 0 ? answer.last_log_index < p.match_index
                                  : p.snapshot_index != 0 && answer.last_log_index == p.snapshot_index &&
                                        answer.last_log_index <= p.match_index;
  if (!lost) return;
  raft_index was = p.match_index;
  p.match_index = 0;
  forgotten_.fetch_add(1, std::memory_order_relaxed);
  if (event_log_) {
    event_log_("node " + std::to_string(message.server_id) + " answered with its log at index " +
               std::to_string(answer.last_log_index) + ", behind index " + std::to_string(was) +
               " it had acknowledged: it lost its log; replicating to it afresh");
  }
}

void IncomingMessages::Poll() {
  if (!held_ || SnapshotBusy()) return;
  struct raft_message message = *held_;
  held_.reset();
  inner_recv_(&slot_.io, &message);  // libraft owns its buffers from here
}

void IncomingMessages::DropHeld() {
  if (!held_) return;
  raft_configuration_close(&held_->install_snapshot.conf);
  raft_free(held_->install_snapshot.data.base);
  held_.reset();
}

}  // namespace parendb
