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
    case RAFT_IO_INSTALL_SNAPSHOT:
      if (self->SnapshotBusy()) {
        self->DropHeld();  // a newer snapshot replaces it
        self->held_ = *message;
        self->held_count_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      break;
    default:
      break;
  }
  self->inner_recv_(io, message);
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
