#include "raft/vote_guard.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "wal/file.h"

namespace parendb {
namespace {

const char* RecordText(VoteHold why) { return why == VoteHold::kStartedEmpty ? "started-empty\n" : "lost-entries\n"; }

}  // namespace

Status VoteGuard::Open(const std::string& raft_dir) {
  dir_ = raft_dir;
  FileSystem* files = FileSystem::Default();
  std::vector<std::string> names;
  Status st = files->ListDir(raft_dir, &names);
  if (!st.ok() || std::find(names.begin(), names.end(), kRecordName) == names.end()) return st;
  std::string text;
  st = files->ReadFile(raft_dir + "/" + kRecordName, &text);
  if (!st.ok()) return st;
  VoteHold why = text == RecordText(VoteHold::kStartedEmpty) ? VoteHold::kStartedEmpty : VoteHold::kLostEntries;
  hold_.store(static_cast<uint8_t>(why), std::memory_order_release);
  return Status::Ok();
}

Status VoteGuard::Arm(VoteHold why) {
  why = std::max(why, hold());
  if (!dir_.empty() && why != VoteHold::kNone) {
    FileSystem* files = FileSystem::Default();
    std::unique_ptr<WritableFile> f;
    Status st = files->OpenWritable(dir_ + "/" + kRecordName, false, &f);
    if (st.ok()) st = f->Append(RecordText(why));
    if (st.ok()) st = f->Sync();
    Status closed = f ? f->Close() : Status::Ok();
    if (st.ok()) st = closed;
    if (st.ok()) st = files->SyncDir(dir_);
    if (!st.ok()) return st;
  }
  hold_.store(static_cast<uint8_t>(why), std::memory_order_release);
  return Status::Ok();
}

bool VoteGuard::Disarm() {
  if (static_cast<VoteHold>(hold_.exchange(static_cast<uint8_t>(VoteHold::kNone), std::memory_order_acq_rel)) ==
      VoteHold::kNone) {
    return false;
  }
  if (!dir_.empty()) {
    // Should this fail, the next start holds back again until caught up:
    // safe, only slower.
    FileSystem* files = FileSystem::Default();
    Status st = files->Remove(dir_ + "/" + kRecordName);
    if (st.ok()) st = files->SyncDir(dir_);
    if (!st.ok() && event_log_) event_log_("could not remove " + dir_ + "/" + kRecordName + ": " + st.message());
  }
  return true;
}

bool VoteGuard::Refuses(const struct raft_request_vote& request) {
  const VoteHold why = hold();
  if (Admits(why, request)) return false;
  refused_.fetch_add(1, std::memory_order_relaxed);
  if (request.term != logged_term_ && event_log_) {
    logged_term_ = request.term;
    event_log_("refused node " + std::to_string(request.candidate_id) + "'s " + (request.pre_vote ? "pre-vote" : "vote") +
               " request (term " + std::to_string(request.term) + "): this node " +
               (why == VoteHold::kStartedEmpty ? "started from an empty directory"
                                                : "lost the end of its log at start") +
               " and has not caught up with a leader yet");
  }
  return true;
}

}  // namespace parendb
