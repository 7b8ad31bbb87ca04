// (backup begin), (backup next), (backup end): an online backup handed out
// a piece at a time, so the client sets the pace and the server holds one
// piece (lang-docs/additions.md; `parendb backup` is the client).
//
// A piece is made off the session's thread, on one background thread at
// the lowest CPU priority: a backup then takes the cores the clients leave
// idle and slows down, rather than slowing them, when there are none. The
// session's other connections on its I/O thread never wait for a piece.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "base/base64.h"
#include "eval/evaluator.h"
#include "eval/evaluator_state.h"

namespace parendb {

// What a (backup next) waits for: the stream, and the answer made from it.
struct Evaluator::BackupJob {
  std::unique_ptr<BackupStream> stream;
  std::string bytes;   // the piece, raw (kept: its megabyte is reused)
  std::string answer;  // the JSON response, without its newline
};

namespace {

// Raw bytes per (backup next): big enough that the round trip is nothing
// beside it, small enough to hold per session.
constexpr size_t kPieceBytes = 1u << 20;

// One thread for every backup's pieces, at nice 19, started on first use
// and kept for the life of the process (it holds no state between jobs).
class BackgroundThread {
 public:
  static void Run(std::function<void()> job) {
    static BackgroundThread* instance = new BackgroundThread();  // never destroyed: jobs may run at exit
    std::lock_guard lock(instance->mu_);
    instance->jobs_.push_back(std::move(job));
    instance->cv_.notify_one();
  }

 private:
  BackgroundThread() {
    std::thread([this] {
      // Linux applies a thread's own nice value to it alone.
      (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
      while (true) {
        std::function<void()> job;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return !jobs_.empty(); });
          job = std::move(jobs_.front());
          jobs_.pop_front();
        }
        job();
      }
    }).detach();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
};

// Makes the answer to one (backup next).
Status MakePiece(Evaluator::BackupJob* job) {
  std::string file;
  std::string& bytes = job->bytes;
  Status st;
  BackupStream& b = *job->stream;
  std::string& out = job->answer;
  bytes.clear();
  out.clear();
  if (!b.Next(kPieceBytes, &file, &bytes, &st)) {
    if (!st.ok()) return st;
    char json[160];
    std::snprintf(json, sizeof json,
                  "{\"done\":true,\"checkpoint_lsn\":%" PRIu64 ",\"last_lsn\":%" PRIu64 ",\"documents\":%" PRId64
                  ",\"log_records\":%" PRIu64 "}",
                  b.checkpoint_lsn(), b.last_lsn(), b.documents(), b.log_records());
    out = json;
    return Status::Ok();
  }
  out.reserve(bytes.size() / 3 * 4 + 128);
  out += "{\"file\":\"";
  out += file;  // a bare file name: no character needs escaping
  out += "\",\"documents\":";
  out += std::to_string(b.documents());
  out += ",\"data\":\"";
  AppendBase64(bytes, &out);
  out += "\"}";
  return Status::Ok();
}

}  // namespace

void Evaluator::Backup() {
  switch (stmt_->backup_step) {
    case BackupStep::kBegin: {
      backup_.reset();  // a backup begun again starts over
      auto job = std::make_shared<BackupJob>();
      Status st = engine_->StartBackup(&job->stream);
      if (!st.ok()) return RespondError(st);
      backup_ = std::move(job);
      char json[96];
      std::snprintf(json, sizeof json, "{\"checkpoint_lsn\":%" PRIu64 ",\"documents\":%" PRIu64 "}",
                    backup_->stream->checkpoint_lsn(), engine_->documents());
      return RespondJson(json);
    }
    case BackupStep::kNext: {
      if (backup_ == nullptr) return RespondError(Error(ErrorCode::kStage, "no backup in progress: send (backup begin) first"));
      auto p = std::make_shared<PendingWait>();
      p->wakeup = wakeup_;
      BackgroundThread::Run([job = backup_, done = PendingWait::Completer(p)]() mutable {
        Status st = MakePiece(job.get());
        job.reset();  // before done: once it has run, the session (and the engine) may go
        done(std::move(st));
      });
      pending_ = std::move(p);
      pending_txn_ = nullptr;
      pending_kind_ = WaitKind::kBackup;
      return;
    }
    case BackupStep::kEnd:
      backup_.reset();
      return RespondOk("backup");
  }
}

void Evaluator::FinishBackup(Status st) {
  if (!st.ok()) {
    backup_.reset();
    return RespondError(st);
  }
  // The stream is kept once done (it holds nothing then), so that pieces
  // asked for ahead are answered done the same; (backup end) or the next
  // begin frees it. A piece usually is all the output there is: it is
  // handed over, not copied.
  BeginResponse();
  if (out_.empty()) {
    out_.swap(backup_->answer);
  } else {
    out_ += backup_->answer;
  }
  EndResponse(ResponseKind::kJson, ErrorCode::kOk);
}

}  // namespace parendb
