#include "raft/vote_guard.h"

namespace parendb {

bool VoteGuard::Refuses(const struct raft_request_vote& request) {
  if (!armed() || Admits(request)) return false;
  refused_.fetch_add(1, std::memory_order_relaxed);
  if (request.term != logged_term_ && event_log_) {
    logged_term_ = request.term;
    event_log_("refused node " + std::to_string(request.candidate_id) + "'s " + (request.pre_vote ? "pre-vote" : "vote") +
               " request (term " + std::to_string(request.term) +
               "): this node started from an empty directory and has not caught up with a leader yet");
  }
  return true;
}

}  // namespace parendb
