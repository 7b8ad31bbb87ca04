#include "raft/vote_guard.h"

#include <map>
#include <mutex>

namespace parendb {
namespace {

// The guard of each raft_io: libraft's callbacks carry only the io (an
// uncontended lock and a lookup per message, next to a socket read).
std::mutex registry_mu;
std::map<const struct raft_io*, VoteGuard*>& Registry() {
  static auto* registry = new std::map<const struct raft_io*, VoteGuard*>;
  return *registry;
}

VoteGuard* GuardOf(const struct raft_io* io) {
  std::lock_guard lock(registry_mu);
  auto it = Registry().find(io);
  return it == Registry().end() ? nullptr : it->second;
}

}  // namespace

VoteGuard::~VoteGuard() {
  if (io_ == nullptr) return;
  std::lock_guard lock(registry_mu);
  Registry().erase(io_);
}

void VoteGuard::Install(struct raft_io* io) {
  io_ = io;
  inner_start_ = io->start;
  io->start = &Start;
  std::lock_guard lock(registry_mu);
  Registry()[io] = this;
}

int VoteGuard::Start(struct raft_io* io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv) {
  VoteGuard* self = GuardOf(io);
  self->inner_recv_ = recv;
  return self->inner_start_(io, msecs, tick, &Recv);
}

void VoteGuard::Recv(struct raft_io* io, struct raft_message* message) {
  VoteGuard* self = GuardOf(io);
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
