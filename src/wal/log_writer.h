// The write-ahead log: commits are framed by the committing thread, queued,
// and written by one writer thread that takes everything queued at once —
// one write() and one fdatasync() per group, or in kFull mode one direct
// write that is also the sync (wal/direct_log_file.h) — then completes the group's
// commits in log order. While it syncs, new commits queue for the next
// group, so many committers share a sync and a lone committer waits for
// nothing but its own sync.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wal/commit_log.h"
#include "wal/file.h"

namespace parendb {

enum class SyncMode {
  kFull,   // acknowledge after fdatasync: a crash loses nothing acknowledged
  kAsync,  // acknowledge after write(): a process crash loses nothing; an OS
           // crash or power loss loses at most the last sync interval
};

struct WalOptions {
  std::string dir;
  SyncMode sync = SyncMode::kFull;
  std::chrono::milliseconds sync_interval{100};  // kAsync
  uint64_t segment_bytes = 64u << 20;
  // kFull: write the segments past the page cache (wal/direct_log_file.h)
  // where the filesystem allows.
  bool direct_io = true;
  FileSystem* fs = FileSystem::Default();
};

class WalLog final : public CommitLog {
 public:
  // Starts a new segment at next_lsn (recovery has read everything before).
  static Status Open(const WalOptions& options, uint64_t next_lsn, std::unique_ptr<WalLog>* out);
  ~WalLog() override;  // writes and completes everything queued, then stops

  void Append(const std::vector<LogRecord>& records, Done done) override;
  const LogStats& stats() const override { return stats_; }

  // The next group starts a new segment (a checkpoint then can remove every
  // older one); returns the first lsn of that segment.
  uint64_t RotateSoon();
  // Called (on the writer thread) after each group with the bytes logged
  // since the last RotateSoon (a checkpoint's start), so the owner can
  // trigger the next checkpoint. Segments filling up do not reset it.
  void SetGrowthHook(std::function<void(uint64_t bytes_since_checkpoint)> hook) { growth_hook_ = std::move(hook); }

 private:
  // A queued commit; its frame is in the queue's buffer, in lsn order.
  struct Pending {
    Done done;
    uint64_t lsn;
  };

  explicit WalLog(WalOptions options) : options_(std::move(options)) {}
  void WriterLoop();
  Status OpenSegment(uint64_t first_lsn);
  Status WriteGroup(const std::string& frames, size_t commits);

  const WalOptions options_;
  std::unique_ptr<WritableFile> file_;
  std::string segment_path_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> queue_;
  // The queued commits' frames, framed straight into it by the committers
  // (no allocation or copy per commit); the writer swaps it out whole.
  std::string queue_frames_;
  uint64_t next_lsn_ = 1;
  bool rotate_ = false;
  bool stop_ = false;
  Status failed_;  // after a failed write or sync: every later commit fails
  uint64_t since_rotate_ = 0;      // bytes in the current segment
  uint64_t since_checkpoint_ = 0;  // bytes since the last RotateSoon took effect
  bool unsynced_ = false;
  std::chrono::steady_clock::time_point last_sync_;
  std::function<void(uint64_t)> growth_hook_;
  LogStats stats_;
  std::thread writer_;
};

// "wal-000000000000002a.log" for first lsn 42.
std::string SegmentName(uint64_t first_lsn);
std::string CheckpointName(uint64_t lsn);
// The lsn such a name carries; false for any other name (exactly 16
// hexadecimal digits between the prefix and the suffix).
bool ParseSegmentName(std::string_view name, uint64_t* first_lsn);
bool ParseCheckpointName(std::string_view name, uint64_t* lsn);

}  // namespace parendb
