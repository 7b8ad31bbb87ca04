#include "raft/vote_guard.h"

namespace parendb {

void VoteGuard::Install() {
  static_assert(std::is_standard_layout_v<Slot>, "Of() casts a raft_io* to its Slot");
  inner_start_ = slot_.io.start;
  slot_.io.start = &Start;
}

int VoteGuard::Start(struct raft_io* io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv) {
  VoteGuard* self = Of(io);
  self->inner_recv_ = recv;
  return self->inner_start_(io, msecs, tick, &Recv);
}

void VoteGuard::Recv(struct raft_io* io, struct raft_message* message) {
  VoteGuard* self = Of(io);
  if (message->type == RAFT_IO_REQUEST_VOTE) {
    const struct raft_request_vote& request = message->request_vote;
    if (self->armed() && !Admits(request)) {
      self->refused_.fetch_add(1, std::memory_order_relaxed);
      if (request.term != self->logged_term_ && self->event_log_) {
        self->logged_term_ = request.term;
        self->event_log_("refused node " + std::to_string(request.candidate_id) + "'s " +
                         (request.pre_vote ? "pre-vote" : "vote") + " request (term " + std::to_string(request.term) +
                         "): this node started from an empty directory and has not caught up with a leader yet");
      }
      return;  // as if lost; the message holds nothing to free
    }
  }
  self->inner_recv_(io, message);
}

}  // namespace parendb
