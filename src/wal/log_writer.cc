#include "wal/log_writer.h"

#include <cinttypes>
#include <cstdio>

#include "base/thread_name.h"
#include "wal/log_format.h"

namespace parendb {

// Segments grow by this much zeroed space at a time (see OpenWritable).
constexpr size_t kPreallocate = 1u << 20;

std::string SegmentName(uint64_t first_lsn) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "wal-%016" PRIx64 ".log", first_lsn);
  return buf;
}

std::string CheckpointName(uint64_t lsn) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "checkpoint-%016" PRIx64 ".ckpt", lsn);
  return buf;
}

namespace {

bool ParseHexName(std::string_view name, std::string_view prefix, std::string_view suffix, uint64_t* v) {
  if (name.size() != prefix.size() + 16 + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(prefix.size() + 16) != suffix) {
    return false;
  }
  uint64_t n = 0;
  for (char c : name.substr(prefix.size(), 16)) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return false;
    n = n << 4 | static_cast<uint64_t>(d);
  }
  *v = n;
  return true;
}

}  // namespace

bool ParseSegmentName(std::string_view name, uint64_t* first_lsn) { return ParseHexName(name, "wal-", ".log", first_lsn); }

bool ParseCheckpointName(std::string_view name, uint64_t* lsn) {
  return ParseHexName(name, "checkpoint-", ".ckpt", lsn);
}

Status WalLog::Open(const WalOptions& options, uint64_t next_lsn, std::unique_ptr<WalLog>* out) {
  std::unique_ptr<WalLog> log(new WalLog(options));
  log->next_lsn_ = next_lsn;
  Status st = log->OpenSegment(next_lsn);
  if (!st.ok()) return st;
  log->last_sync_ = std::chrono::steady_clock::now();
  log->writer_ = std::thread([p = log.get()] { p->WriterLoop(); });
  NameThread(log->writer_, "parendb-wal");
  *out = std::move(log);
  return Status::Ok();
}

WalLog::~WalLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
  if (file_ && failed_.ok()) {
    if (unsynced_) (void)file_->Sync();
    (void)file_->Close();
  }
}

Status WalLog::OpenSegment(uint64_t first_lsn) {
  if (file_) {
    Status st = file_->Sync();  // the old segment is complete and durable
    if (!st.ok()) return st;
    st = file_->Close();
    if (!st.ok()) return st;
  }
  segment_path_ = options_.dir + "/" + SegmentName(first_lsn);
  // Synced after every group: written directly, the write is the sync.
  bool direct = options_.sync == SyncMode::kFull && options_.direct_io;
  Status st = options_.fs->OpenWritable(segment_path_, false, &file_, kPreallocate, direct);
  if (!st.ok()) return st;
  std::string header;
  AppendFileHeader(kWalMagic, first_lsn, &header);
  st = file_->Append(header);
  if (st.ok()) st = file_->Sync();
  if (st.ok()) st = options_.fs->SyncDir(options_.dir);  // the new name is durable too
  since_rotate_ = 0;
  return st;
}

uint64_t WalLog::RotateSoon() {
  std::lock_guard lock(mu_);
  rotate_ = true;
  return next_lsn_;
}

void WalLog::Append(const std::vector<LogRecord>& records, Done done) {
  thread_local std::string payload;
  payload.clear();
  EncodeRecords(records, &payload);
  std::unique_lock lock(mu_);
  if (!failed_.ok()) {
    Status st = failed_;
    lock.unlock();
    done(std::move(st), 0);
    return;
  }
  uint64_t lsn = next_lsn_++;
  AppendFrame(lsn, payload, &queue_frames_);
  queue_.push_back(Pending{std::move(done), lsn});
  lock.unlock();
  cv_.notify_one();
}

Status WalLog::WriteGroup(const std::string& frames, size_t commits) {
  Status st = file_->Append(frames);
  stats_.bytes.fetch_add(frames.size(), std::memory_order_relaxed);
  since_rotate_ += frames.size();
  since_checkpoint_ += frames.size();
  stats_.group_commits.Observe(commits);
  if (st.ok() && options_.sync == SyncMode::kFull) {
    auto start = std::chrono::steady_clock::now();
    st = file_->Sync();
    stats_.syncs.fetch_add(1, std::memory_order_relaxed);
    last_sync_ = std::chrono::steady_clock::now();
    stats_.sync_ns.Observe(static_cast<uint64_t>(std::chrono::nanoseconds(last_sync_ - start).count()));
  } else {
    unsynced_ = true;
  }
  return st;
}

void WalLog::WriterLoop() {
  std::vector<Pending> group;
  std::string frames;  // swapped with queue_frames_, so both keep their capacity
  std::unique_lock lock(mu_);
  while (true) {
    if (queue_.empty() && !stop_) {
      if (unsynced_ && options_.sync == SyncMode::kAsync) {
        cv_.wait_until(lock, last_sync_ + options_.sync_interval);
      } else {
        cv_.wait(lock);
      }
    }
    if (unsynced_ && failed_.ok() && std::chrono::steady_clock::now() >= last_sync_ + options_.sync_interval) {
      // kAsync: the bounded sync interval.
      lock.unlock();
      auto start = std::chrono::steady_clock::now();
      Status st = file_->Sync();
      stats_.syncs.fetch_add(1, std::memory_order_relaxed);
      auto end = std::chrono::steady_clock::now();
      stats_.sync_ns.Observe(static_cast<uint64_t>(std::chrono::nanoseconds(end - start).count()));
      lock.lock();
      last_sync_ = end;
      unsynced_ = false;
      if (!st.ok()) failed_ = st;
    }
    if (queue_.empty()) {
      if (stop_) return;
      continue;
    }
    group.swap(queue_);
    frames.swap(queue_frames_);
    bool requested = rotate_;
    bool rotate = requested || since_rotate_ >= options_.segment_bytes;
    rotate_ = false;
    Status st = failed_;
    lock.unlock();

    if (st.ok() && rotate) st = OpenSegment(group.front().lsn);
    if (st.ok() && requested) since_checkpoint_ = 0;
    uint64_t size_before = file_ ? file_->size() : 0;
    if (st.ok()) st = WriteGroup(frames, group.size());
    if (!st.ok()) {
      // These commits are answered with io and must not come back at
      // restart: cut what reached the file (best effort; recovery also
      // stops at the first damaged frame).
      if (file_) (void)options_.fs->Truncate(segment_path_, size_before);
      lock.lock();
      if (failed_.ok()) failed_ = st;
      lock.unlock();
    }
    // Complete in log order: the engine installs each commit in its callback.
    for (Pending& p : group) p.done(st, p.lsn);
    group.clear();
    frames.clear();
    if (frames.capacity() > (16u << 20)) frames.shrink_to_fit();  // after a huge commit
    if (st.ok() && growth_hook_) growth_hook_(since_checkpoint_);
    lock.lock();
  }
}

}  // namespace parendb
