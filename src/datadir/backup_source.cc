#include "datadir/backup_source.h"

#include <algorithm>
#include <vector>

#include "datadir/checkpoint_encoder.h"
#include "wal/log_format.h"
#include "wal/log_writer.h"

namespace parendb {

BackupPins::Pin::Pin(std::shared_ptr<BackupPins> pins, uint64_t lsn) : pins_(std::move(pins)) {
  std::lock_guard lock(pins_->mu_);
  it_ = pins_->lsns_.insert(lsn);
}

BackupPins::Pin::~Pin() {
  std::lock_guard lock(pins_->mu_);
  pins_->lsns_.erase(it_);
}

uint64_t BackupPins::Oldest(uint64_t otherwise) {
  std::lock_guard lock(mu_);
  return lsns_.empty() ? otherwise : *lsns_.begin();
}

namespace {

constexpr size_t kReadBytes = 1u << 20;

// The first lsns of the directory's segments, ascending.
Status ListSegments(FileSystem* fs, const std::string& dir, std::vector<uint64_t>* out) {
  std::vector<std::string> names;
  Status st = fs->ListDir(dir, &names);
  if (!st.ok()) return st;
  for (const std::string& n : names) {
    uint64_t v;
    if (ParseSegmentName(n, &v)) out->push_back(v);
  }
  std::sort(out->begin(), out->end());
  return Status::Ok();
}

class Backup final : public BackupStream {
 public:
  Backup(Engine* engine, FileSystem* fs, std::string dir, std::shared_ptr<BackupPins> pins)
      : engine_(engine),
        fs_(fs),
        dir_(std::move(dir)),
        // The pin goes in before the snapshot is taken, at an lsn no later
        // than the snapshot's, so no checkpoint can remove the log after it.
        pin_(pins != nullptr ? std::make_unique<BackupPins::Pin>(std::move(pins), engine->AppliedLsn()) : nullptr),
        encoder_(engine) {
    last_lsn_ = encoder_.lsn();
    next_lsn_ = encoder_.lsn() + 1;
  }

  bool Next(size_t at_least, std::string* file, std::string* bytes, Status* status) override {
    if (phase_ == Phase::kCheckpoint) {
      *file = CheckpointName(encoder_.lsn());
      if (encoder_.Next(at_least, bytes)) return true;
      StartLog();
    }
    if (phase_ == Phase::kLog) {
      *file = SegmentName(encoder_.lsn() + 1);
      *status = NextLog(at_least, bytes);
      if (status->ok() && !bytes->empty()) return true;
      phase_ = Phase::kDone;
    }
    pin_.reset();  // complete (or failed): checkpoints may remove this log again
    return false;
  }

  uint64_t checkpoint_lsn() const override { return encoder_.lsn(); }
  uint64_t last_lsn() const override { return last_lsn_; }
  int64_t documents() const override { return encoder_.documents(); }
  uint64_t log_records() const override { return last_lsn_ - encoder_.lsn(); }

 private:
  enum class Phase { kCheckpoint, kLog, kDone };

  // The checkpoint is complete: the log to copy ends at what is installed
  // now (every such record is in a segment file already: the log writes a
  // record before the commit is installed).
  void StartLog() {
    phase_ = Phase::kDone;
    if (fs_ == nullptr) return;
    end_lsn_ = engine_->AppliedLsn();
    if (end_lsn_ < next_lsn_) return;
    if (!ListSegments(fs_, dir_, &segments_).ok()) return;
    phase_ = Phase::kLog;
  }

  void OpenSegment() {
    buffer_.clear();
    buffer_offset_ = 0;
    parsed_ = 0;
    segment_done_ = false;
  }

  // Appends the frames (next_lsn_ .. end_lsn_] to *out, at least at_least
  // bytes of them or up to end_lsn_.
  Status NextLog(size_t at_least, std::string* out) {
    if (next_lsn_ > end_lsn_) return Status::Ok();  // all sent
    if (!header_sent_) {
      AppendFileHeader(kWalMagic, encoder_.lsn() + 1, out);
      header_sent_ = true;
    }
    while (next_lsn_ <= end_lsn_ && out->size() < at_least) {
      if (segment_ == segments_.size()) {
        return Status(ErrorCode::kIo, "backup: log record " + std::to_string(next_lsn_) + " is in no log segment");
      }
      // Segment k holds lsns [segments_[k], segments_[k+1]).
      bool past = segment_ + 1 < segments_.size() && segments_[segment_ + 1] <= next_lsn_;
      if (past || segment_done_) {
        ++segment_;
        OpenSegment();
        continue;
      }
      Status st = NextFrame(out);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  // Moves past one frame of the current segment (copying it when it is the
  // next one wanted), reading more of the file when needed.
  Status NextFrame(std::string* out) {
    std::string path = dir_ + "/" + SegmentName(segments_[segment_]);
    if (buffer_offset_ == 0 && buffer_.empty()) {
      Status st = fs_->ReadRange(path, 0, kReadBytes, &buffer_);
      if (!st.ok()) return st;
      uint64_t first;
      if (!ReadFileHeader(buffer_, kWalMagic, &first) || first != segments_[segment_]) {
        segment_done_ = true;  // being created, or cut short: holds no record
        return Status::Ok();
      }
      parsed_ = kFileHeaderSize;
    }
    uint64_t lsn;
    std::string_view payload;
    size_t next;
    FrameStatus fs = ReadFrame(buffer_, parsed_, &lsn, &payload, &next);
    if (fs == FrameStatus::kTruncated || fs == FrameStatus::kEnd) {
      // Keep the unparsed tail and read on.
      buffer_.erase(0, parsed_);
      buffer_offset_ += parsed_;
      parsed_ = 0;
      size_t had = buffer_.size();
      Status st = fs_->ReadRange(path, buffer_offset_ + had, kReadBytes, &buffer_);
      if (!st.ok()) return st;
      if (buffer_.size() == had) segment_done_ = true;  // the end of the file
      return Status::Ok();
    }
    if (fs != FrameStatus::kOk) {
      segment_done_ = true;  // preallocated zeros, or a tail being written
      return Status::Ok();
    }
    if (lsn > next_lsn_) {
      return Status(ErrorCode::kIo, "backup: log record " + std::to_string(next_lsn_) + " is missing from " +
                                        SegmentName(segments_[segment_]));
    }
    if (lsn == next_lsn_) {
      out->append(buffer_, parsed_, next - parsed_);
      last_lsn_ = lsn;
      ++next_lsn_;
    }
    parsed_ = next;
    return Status::Ok();
  }

  Engine* engine_;
  FileSystem* fs_;
  std::string dir_;
  std::unique_ptr<BackupPins::Pin> pin_;
  CheckpointEncoder encoder_;
  Phase phase_ = Phase::kCheckpoint;
  uint64_t next_lsn_ = 0, end_lsn_ = 0, last_lsn_ = 0;
  std::vector<uint64_t> segments_;
  size_t segment_ = 0;
  bool header_sent_ = false;
  bool segment_done_ = false;
  std::string buffer_;        // bytes of the segment from buffer_offset_
  uint64_t buffer_offset_ = 0;
  size_t parsed_ = 0;         // offset in buffer_ of the next frame
};

}  // namespace

std::unique_ptr<BackupStream> MakeBackupStream(Engine* engine, FileSystem* fs, const std::string& dir,
                                               std::shared_ptr<BackupPins> pins) {
  return std::make_unique<Backup>(engine, fs, dir, std::move(pins));
}

}  // namespace parendb
