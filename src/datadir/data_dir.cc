#include "datadir/data_dir.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "base/thread_name.h"
#include "datadir/backup_source.h"
#include "datadir/checkpoint_encoder.h"
#include "doc/json.h"
#include "wal/log_format.h"

namespace parendb {
namespace {

struct DirFiles {
  std::vector<uint64_t> checkpoints;  // lsns, ascending
  std::vector<uint64_t> segments;     // first lsns, ascending
  std::vector<std::string> temporary;
  bool unfinished_backup = false;     // kBackupIncomplete is there
};

Status ListDataDir(FileSystem* fs, const std::string& dir, DirFiles* out) {
  std::vector<std::string> names;
  Status st = fs->ListDir(dir, &names);
  if (!st.ok()) return st;
  for (const std::string& n : names) {
    uint64_t v;
    if (ParseCheckpointName(n, &v)) {
      out->checkpoints.push_back(v);
    } else if (ParseSegmentName(n, &v)) {
      out->segments.push_back(v);
    } else if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      out->temporary.push_back(n);
    } else if (n == kBackupIncomplete) {
      out->unfinished_backup = true;
    }
  }
  std::sort(out->checkpoints.begin(), out->checkpoints.end());
  std::sort(out->segments.begin(), out->segments.end());
  return Status::Ok();
}

Status UnfinishedBackup(const std::string& dir) {
  return Status(ErrorCode::kIo, dir + " holds a backup that never finished (" + std::string(kBackupIncomplete) +
                                    " is there): it is not a database; make the backup again");
}

Status Corrupt(const std::string& file, uint64_t offset, const std::string& what) {
  return Status(ErrorCode::kIo, what + " in " + file + " at offset " + std::to_string(offset) +
                                    "; refusing to open (run parendb doctor on the data directory)");
}



struct Frame {
  uint64_t lsn;
  std::string_view payload;
  size_t offset;
};

// Every valid frame of a file, in order, and where and why reading stopped.
struct Scan {
  std::vector<Frame> frames;
  size_t stop = 0;             // offset after the last valid frame
  bool clean = true;           // stopped at the end of the data
  bool zero_tail = false;      // or at zeroed, unused space
  size_t next_of(size_t i) const {
    return i + 1 < frames.size() ? frames[i + 1].offset : stop;
  }
};

Scan ScanFrames(std::string_view data) {
  Scan scan;
  size_t offset = kFileHeaderSize;
  while (true) {
    uint64_t lsn;
    std::string_view payload;
    size_t next;
    FrameStatus fst = ReadFrame(data, offset, &lsn, &payload, &next);
    if (fst != FrameStatus::kOk) {
      scan.stop = offset;
      scan.zero_tail = fst != FrameStatus::kEnd && AllZero(data, offset);
      scan.clean = fst == FrameStatus::kEnd || scan.zero_tail;
      return scan;
    }
    scan.frames.push_back(Frame{lsn, payload, offset});
    offset = next;
  }
}

// What applying a run of frames saw.
struct Applied {
  uint64_t documents = 0;  // puts
  size_t ends = 0;         // end records (checkpoints have exactly one)
  DecodedRecord last{};    // the last record applied
  size_t bad_offset = 0;   // on failure, the offending frame
};

// Applies frames in order, decoding them on two threads first.
Status ApplyFrames(Engine* engine, const std::vector<Frame>& frames, Applied* applied) {
  struct Chunk {
    size_t first = 0, last = 0;  // frames [first, last)
    std::vector<DecodedRecord> records;
    std::vector<size_t> frame_of;  // index into frames, per record
    std::vector<DocRef> docs;
    Status status;
    size_t bad = 0;
  };
  auto prepare = [&](Chunk* c) {
    std::vector<DecodedRecord> one;
    for (size_t f = c->first; f < c->last && c->status.ok(); ++f) {
      c->status = DecodeRecords(frames[f].payload, &one);
      for (DecodedRecord& r : one) {
        if (!c->status.ok()) break;
        DocRef doc;
        c->status = Engine::PrepareReplay(r, &doc);
        c->records.push_back(std::move(r));
        c->frame_of.push_back(f);
        c->docs.push_back(std::move(doc));
      }
      if (!c->status.ok()) c->bad = frames[f].offset;
    }
  };
  // Decoding needs no order: two halves (by bytes) are decoded on both
  // cores, then everything is applied in log order.
  size_t total = 0;
  for (const Frame& f : frames) total += f.payload.size();
  size_t mid = 0;
  for (size_t bytes = 0; mid < frames.size() && bytes < total / 2; ++mid) bytes += frames[mid].payload.size();
  Chunk halves[2];
  halves[0].first = 0;
  halves[0].last = mid;
  halves[1].first = mid;
  halves[1].last = frames.size();
  std::thread helper;
  if (mid > 0 && total > (1u << 20)) {
    helper = std::thread(prepare, &halves[0]);
  } else {
    prepare(&halves[0]);
  }
  prepare(&halves[1]);
  if (helper.joinable()) helper.join();
  for (Chunk& c : halves) {
    if (!c.status.ok()) {
      applied->bad_offset = c.bad;
      return c.status;
    }
    for (size_t k = 0; k < c.records.size(); ++k) {
      const DecodedRecord& r = c.records[k];
      if (r.kind == LogRecord::Kind::kPut) ++applied->documents;
      if (r.kind == LogRecord::Kind::kEnd) ++applied->ends;
      applied->last = r;
      Status st = engine->ApplyReplay(r, std::move(c.docs[k]), frames[c.frame_of[k]].lsn);
      if (!st.ok()) {
        applied->bad_offset = frames[c.frame_of[k]].offset;
        return st;
      }
    }
  }
  return Status::Ok();
}

// Loads a checkpoint into engine (null: only check it).
Status LoadCheckpoint(FileSystem* fs, const std::string& dir, uint64_t lsn, Engine* engine, RecoveryReport* report) {
  std::string name = CheckpointName(lsn);
  std::string data;
  Status st = fs->ReadFile(dir + "/" + name, &data);
  if (!st.ok()) return st;
  uint64_t header_lsn;
  if (!ReadFileHeader(data, kCheckpointMagic, &header_lsn) || header_lsn != lsn) {
    return Corrupt(name, 0, "bad checkpoint header");
  }
  uint64_t documents = 0;
  st = LoadCheckpointData(data, name, engine, &documents);
  if (!st.ok()) return st;
  report->checkpoint = name;
  report->checkpoint_lsn = lsn;
  report->checkpoint_documents = documents;
  return Status::Ok();
}

}  // namespace

Status LoadCheckpointData(std::string_view data, const std::string& name, Engine* engine, uint64_t* documents_out) {
  Engine scratch(EngineOptions{}, std::make_unique<NoLog>());
  Engine* target = engine != nullptr ? engine : &scratch;
  Status st;
  Scan scan = ScanFrames(data);
  if (!scan.clean || scan.zero_tail) return Corrupt(name, scan.stop, "damaged checkpoint record");
  const std::vector<Frame>& frames = scan.frames;
  size_t offset = scan.stop;
  Applied applied;
  st = ApplyFrames(target, frames, &applied);
  if (!st.ok()) return Corrupt(name, applied.bad_offset, "unreadable checkpoint record (" + st.message() + ")");
  if (applied.ends != 1 || applied.last.kind != LogRecord::Kind::kEnd) {
    return Corrupt(name, offset, "checkpoint ends without its end record");
  }
  uint64_t documents = applied.documents;
  if (static_cast<uint64_t>(applied.last.number) != documents) {
    return Corrupt(name, frames.back().offset, "checkpoint document count mismatch");
  }
  *documents_out = documents;
  return Status::Ok();
}

namespace {

// Replays (engine non-null) or only checks the segments after from_lsn.
// repair: cut a torn tail off the newest segment.
Status ReplayLog(FileSystem* fs, const std::string& dir, const std::vector<uint64_t>& segments, uint64_t from_lsn,
                 Engine* engine, bool repair, RecoveryReport* report, uint64_t* next_lsn, std::string* notes) {
  uint64_t expected = from_lsn + 1;
  std::vector<DecodedRecord> records;
  Engine scratch(EngineOptions{}, std::make_unique<NoLog>());
  Engine* target = engine != nullptr ? engine : &scratch;
  for (size_t k = 0; k < segments.size(); ++k) {
    bool last = k + 1 == segments.size();
    if (!last && segments[k + 1] <= expected) continue;  // wholly inside the checkpoint
    std::string name = SegmentName(segments[k]);
    std::string path = dir + "/" + name;
    std::string data;
    Status st = fs->ReadFile(path, &data);
    if (!st.ok()) return st;
    ++report->segments;
    uint64_t first;
    if (!ReadFileHeader(data, kWalMagic, &first) || first != segments[k]) {
      // Died while creating it: cut short, or zero-filled before the header
      // was written. A new segment is only started after the last one is
      // complete, so this can only be the newest, and it holds no record.
      if (last && (data.size() < kFileHeaderSize || AllZero(data, 0))) {
        report->torn_tail = name + " (incomplete header)";
        if (repair) (void)fs->Remove(path);  // best effort: it holds nothing
        continue;
      }
      return Corrupt(name, 0, "bad log segment header");
    }
    if (first > expected) {
      return Corrupt(name, 0, "log records " + std::to_string(expected) + " to " + std::to_string(first - 1) +
                                  " are missing before this segment");
    }
    Scan scan = ScanFrames(data);
    if (!scan.clean) {
      if (!last || ValidFrameAfter(data, scan.stop, expected)) {
        return Corrupt(name, scan.stop, "damaged log record (valid records follow it, so this is not a torn tail)");
      }
      report->torn_tail = name + " at offset " + std::to_string(scan.stop) + " (" +
                          std::to_string(data.size() - scan.stop) + " bytes cut)";
    }
    // Cut a torn tail, or the unused zeroed end of a segment (trimmed when
    // it was closed, unless the process died first).
    if (repair && scan.stop < data.size()) {
      st = fs->Truncate(path, scan.stop);
      if (!st.ok()) return st;
    }
    std::vector<Frame> frames;
    for (size_t i = 0; i < scan.frames.size(); ++i) {
      const Frame& f = scan.frames[i];
      if (f.lsn > expected) return Corrupt(name, f.offset, "log record " + std::to_string(expected) + " is missing");
      if (f.lsn < expected) continue;  // inside the checkpoint
      frames.push_back(f);
      report->bytes_replayed += scan.next_of(i) - f.offset;
      ++expected;
    }
    uint64_t seen = scan.frames.size();
    Applied applied;
    st = ApplyFrames(target, frames, &applied);
    if (!st.ok()) return Corrupt(name, applied.bad_offset, "unreadable log record (" + st.message() + ")");
    report->records_replayed += frames.size();
    uint64_t frames_count = seen;
    if (notes != nullptr) {
      *notes += "  " + name + ": " + std::to_string(frames_count) + " records, " + std::to_string(data.size()) + " bytes\n";
    }
  }
  *next_lsn = expected;
  report->last_lsn = expected - 1;
  return Status::Ok();
}

}  // namespace

Status DataDir::Open(const DataDirOptions& options, std::unique_ptr<DataDir>* out, RecoveryReport* report) {
  auto started = std::chrono::steady_clock::now();
  std::unique_ptr<DataDir> d(new DataDir(options));
  FileSystem* fs = options.fs;
  Status st = fs->MakeDir(options.dir);
  if (!st.ok()) return st;
  st = fs->LockDir(options.dir, &d->lock_);
  if (!st.ok()) return st;
  d->engine_ = std::make_unique<Engine>(options.engine, nullptr);
  RecoveryReport local;
  RecoveryReport* r = report != nullptr ? report : &local;
  uint64_t next_lsn = 1;
  st = d->Recover(r, &next_lsn);
  if (!st.ok()) return st;

  WalOptions wo;
  wo.dir = options.dir;
  wo.sync = options.sync;
  wo.sync_interval = options.sync_interval;
  wo.segment_bytes = options.segment_bytes;
  wo.direct_io = options.direct_io;
  wo.fs = fs;
  std::unique_ptr<WalLog> wal;
  st = WalLog::Open(wo, next_lsn, &wal);
  if (!st.ok()) return st;
  d->wal_ = wal.get();
  uint64_t threshold = options.checkpoint_bytes;
  DataDir* self = d.get();
  wal->SetGrowthHook([self, threshold](uint64_t bytes) {
    if (bytes < std::max(threshold, self->last_checkpoint_bytes_.load(std::memory_order_relaxed))) return;
    std::lock_guard lock(self->loop_mu_);
    self->checkpoint_wanted_ = true;
    self->loop_cv_.notify_one();
  });
  d->engine_->AttachLog(std::move(wal));
  d->engine_->SetCheckpointHook([self] { return self->Checkpoint(); });
  d->engine_->SetBackupHook([self](std::unique_ptr<BackupStream>* out) {
    *out = MakeBackupStream(self->engine_.get(), self->options_.fs, self->options_.dir, self->backup_pins_);
    return Status::Ok();
  });
  d->checkpointer_ = std::thread([self] { self->CheckpointLoop(); });
  NameThread(d->checkpointer_, "parendb-ckpt");
  r->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  *out = std::move(d);
  return Status::Ok();
}

Status DataDir::Recover(RecoveryReport* report, uint64_t* next_lsn) {
  FileSystem* fs = options_.fs;
  DirFiles files;
  Status st = ListDataDir(fs, options_.dir, &files);
  if (!st.ok()) return st;
  if (files.unfinished_backup) return UnfinishedBackup(options_.dir);
  for (const std::string& t : files.temporary) (void)fs->Remove(options_.dir + "/" + t);  // unfinished checkpoints
  uint64_t from = 0;
  if (!files.checkpoints.empty()) {
    from = files.checkpoints.back();
    st = LoadCheckpoint(fs, options_.dir, from, engine_.get(), report);
    if (!st.ok()) return st;
  }
  st = ReplayLog(fs, options_.dir, files.segments, from, engine_.get(), true, report, next_lsn, nullptr);
  if (!st.ok()) return st;
  engine_->SetAppliedLsn(*next_lsn - 1);
  engine_->BuildRecoveredIndexes();
  return Status::Ok();
}

DataDir::~DataDir() {
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (engine_ && wal_ != nullptr && options_.checkpoint_on_close && engine_->accepting_commits()) {
    (void)WriteCheckpoint();
  }
  engine_.reset();  // drains and closes the log
}

void DataDir::CheckpointLoop() {
  std::unique_lock lock(loop_mu_);
  while (true) {
    loop_cv_.wait(lock, [&] { return checkpoint_wanted_ || stopping_; });
    if (stopping_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    (void)WriteCheckpoint();  // a failure leaves the log longer; the next attempt retries
    lock.lock();
    // Groups logged before the checkpoint's rotation took effect asked
    // again; the log is short now, and the next group asks if it is not.
    checkpoint_wanted_ = false;
  }
}

Status DataDir::Checkpoint() { return WriteCheckpoint(); }

Status DataDir::WriteCheckpoint() {
  auto begin = std::chrono::steady_clock::now();
  CheckpointResult result;
  Status st = WriteCheckpointFile(&result);
  if (options_.on_checkpoint) {
    char line[160];
    if (st.ok()) {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
      std::snprintf(line, sizeof line, ": %" PRId64 " documents, %.1f MB in %.2f s", result.documents,
                    static_cast<double>(result.bytes) / 1e6, seconds);
      options_.on_checkpoint(true, "checkpoint " + result.name + line);
    } else {
      options_.on_checkpoint(false, "checkpoint failed (the log is kept until one succeeds): " + st.message());
    }
  }
  return st;
}

Status DataDir::WriteCheckpointFile(CheckpointResult* result) {
  std::lock_guard one_at_a_time(checkpoint_mu_);
  FileSystem* fs = options_.fs;
  wal_->RotateSoon();  // so every segment before the checkpoint can go
  CheckpointEncoder encoder(engine_.get());
  const uint64_t lsn = encoder.lsn();
  std::string tmp = options_.dir + "/" + CheckpointName(lsn) + ".tmp";
  std::unique_ptr<WritableFile> file;
  Status st = fs->OpenWritable(tmp, false, &file);
  std::string buf;
  while (st.ok() && encoder.Next(1u << 20, &buf)) {
    st = file->Append(buf);
    if (st.ok()) st = file->WriteBehind();  // a megabyte at a time, not all at the Sync
    buf.clear();
  }
  if (st.ok()) st = file->Sync();
  uint64_t written = file ? file->size() : 0;
  if (file) {
    Status closed = file->Close();
    if (st.ok()) st = closed;
  }
  const int64_t documents = encoder.documents();
  std::string final_name = options_.dir + "/" + CheckpointName(lsn);
  if (st.ok()) st = fs->Rename(tmp, final_name);
  if (st.ok()) st = fs->SyncDir(options_.dir);
  if (!st.ok()) {
    (void)fs->Remove(tmp);  // best effort; recovery removes leftovers too
    return st;
  }
  last_checkpoint_bytes_.store(written, std::memory_order_relaxed);
  RemoveObsolete(lsn);
  result->name = CheckpointName(lsn);
  result->documents = documents;
  result->bytes = written;
  return Status::Ok();
}

void DataDir::RemoveObsolete(uint64_t checkpoint_lsn) {
  FileSystem* fs = options_.fs;
  // A running backup still copies the log after its own snapshot.
  const uint64_t keep_after = std::min(checkpoint_lsn, backup_pins_->Oldest(checkpoint_lsn));
  DirFiles files;
  if (!ListDataDir(fs, options_.dir, &files).ok()) return;
  for (uint64_t lsn : files.checkpoints) {
    // Best effort: a file left behind is removed by the next checkpoint.
    if (lsn < checkpoint_lsn) (void)fs->Remove(options_.dir + "/" + CheckpointName(lsn));
  }
  for (size_t k = 0; k + 1 < files.segments.size(); ++k) {
    // Segment k ends just before segment k+1 begins.
    if (files.segments[k + 1] <= keep_after + 1) (void)fs->Remove(options_.dir + "/" + SegmentName(files.segments[k]));
  }
}

int RunDoctor(const std::string& dir, bool salvage, FileSystem* fs, std::string* out) {
  DirFiles files;
  Status st = ListDataDir(fs, dir, &files);
  if (!st.ok()) {
    *out += "cannot read " + dir + ": " + st.message() + "\n";
    return 1;
  }
  if (files.unfinished_backup) {
    *out += UnfinishedBackup(dir).message() + "\n";
    return 1;
  }
  std::unique_ptr<DirLock> lock;
  if (salvage) {
    st = fs->LockDir(dir, &lock);
    if (!st.ok()) {
      *out += st.message() + "\n";
      return 1;
    }
  }
  *out += "data directory " + dir + "\n";
  RecoveryReport report;
  uint64_t from = 0;
  Engine engine(EngineOptions{}, std::make_unique<NoLog>());
  if (files.checkpoints.empty()) {
    *out += "checkpoint: none (the log alone holds the data)\n";
  } else {
    from = files.checkpoints.back();
    st = LoadCheckpoint(fs, dir, from, &engine, &report);
    if (!st.ok()) {
      *out += "checkpoint: " + CheckpointName(from) + " is DAMAGED: " + st.message() + "\n";
      *out += "the directory cannot be opened; restore it from a backup or copy the checkpoint away to open the log alone\n";
      return 1;
    }
    *out += "checkpoint: " + report.checkpoint + " (through log record " + std::to_string(from) + ", " +
            std::to_string(report.checkpoint_documents) + " documents) is valid\n";
  }
  *out += "log segments: " + std::to_string(files.segments.size()) + "\n";
  uint64_t next = 0;
  std::string notes;
  st = ReplayLog(fs, dir, files.segments, from, &engine, false, &report, &next, &notes);
  *out += notes;
  if (!st.ok()) {
    *out += "log: DAMAGED: " + st.message() + "\n";
    if (!salvage) {
      *out += "run parendb doctor " + dir + " --salvage to keep the valid prefix (later records are lost)\n";
      return 1;
    }
    // Salvage: cut the log at the first damaged record; drop what follows.
    // The message names the file and offset; recompute them by scanning.
    for (size_t k = 0; k < files.segments.size(); ++k) {
      std::string path = dir + "/" + SegmentName(files.segments[k]);
      std::string data;
      if (!fs->ReadFile(path, &data).ok()) continue;
      Scan scan = ScanFrames(data);
      if (scan.clean) continue;
      size_t offset = scan.stop;
      st = fs->Truncate(path, offset);
      for (size_t j = k + 1; st.ok() && j < files.segments.size(); ++j) {
        st = fs->Remove(dir + "/" + SegmentName(files.segments[j]));
      }
      if (!st.ok()) {
        *out += "salvage failed: " + st.message() + "\n";
        return 1;
      }
      *out += "salvaged: cut " + SegmentName(files.segments[k]) + " at offset " + std::to_string(offset) +
              " and removed " + std::to_string(files.segments.size() - k - 1) + " later segment(s)\n";
      return RunDoctor(dir, false, fs, out) == 0 ? 0 : 1;
    }
    return 1;
  }
  if (!report.torn_tail.empty()) *out += "torn tail (cut off when opened): " + report.torn_tail + "\n";
  *out += "would recover: " + std::to_string(engine.CollectionNames().size()) + " collections, " +
          std::to_string(engine.documents()) + " documents, through log record " + std::to_string(report.last_lsn) + "\n";
  return 0;
}

}  // namespace parendb
