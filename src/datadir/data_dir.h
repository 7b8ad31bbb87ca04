// A database's data directory: who owns it, how it comes back after a crash,
// and how its log is kept short.
//
//   DIR/LOCK                    flock'ed by the one process that has it open
//   DIR/checkpoint-<lsn>.ckpt   every committed document as of log record lsn
//   DIR/wal-<first lsn>.log     log segments (log_format.h)
//   DIR/BACKUP-INCOMPLETE       a backup is being written here, or died
//                               writing it: opening refuses the directory
//
// Opening loads the newest checkpoint and replays the log after it. A torn
// tail (a frame cut or garbled at the very end of the newest segment, with no
// valid frame after it) is cut off; damage anywhere else refuses to open,
// naming the file and offset. Checkpoints run in the background from a
// snapshot, without stopping commits: when the log since the last one passes
// a size, on (checkpoint), and at a clean close. (backup begin) streams a
// checkpoint and the log after it (backup_source.h).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "datadir/backup_source.h"
#include "engine/engine.h"
#include "wal/file.h"
#include "wal/log_writer.h"

namespace parendb {

// Made first and removed last by `parendb backup` in its destination.
inline constexpr std::string_view kBackupIncomplete = "BACKUP-INCOMPLETE";

struct DataDirOptions {
  std::string dir;
  EngineOptions engine;
  SyncMode sync = SyncMode::kFull;
  std::chrono::milliseconds sync_interval{100};
  uint64_t segment_bytes = 64u << 20;
  bool direct_io = true;  // WalOptions::direct_io
  // Log growth since the last checkpoint that triggers the next one, or
  // the last checkpoint's size if that is larger: a large database is then
  // not rewritten for every checkpoint_bytes of log, and checkpoints never
  // write more than the log does.
  uint64_t checkpoint_bytes = 256u << 20;
  bool checkpoint_on_close = true;
  FileSystem* fs = FileSystem::Default();
  // Each checkpoint's outcome, as Options::on_checkpoint describes.
  std::function<void(bool ok, const std::string& message)> on_checkpoint;
};

// What recovery found, for logs and `parendb doctor`.
struct RecoveryReport {
  std::string checkpoint;         // file name, or empty
  uint64_t checkpoint_lsn = 0;
  uint64_t checkpoint_documents = 0;
  uint64_t segments = 0;
  uint64_t records_replayed = 0;  // frames after the checkpoint
  uint64_t bytes_replayed = 0;
  uint64_t last_lsn = 0;
  std::string torn_tail;          // "wal-….log at offset N (M bytes cut)", if any
  double seconds = 0;
};

class DataDir {
 public:
  // Locks, recovers and opens the directory (creating it when missing).
  static Status Open(const DataDirOptions& options, std::unique_ptr<DataDir>* out, RecoveryReport* report = nullptr);
  ~DataDir();  // checkpoints (when enabled) and closes

  Engine* engine() { return engine_.get(); }
  // Writes a checkpoint now and removes the log it makes unnecessary.
  Status Checkpoint();

 private:
  explicit DataDir(DataDirOptions options) : options_(std::move(options)) {}
  Status Recover(RecoveryReport* report, uint64_t* next_lsn);
  // Writes one, tells options_.on_checkpoint how it went.
  Status WriteCheckpoint();
  struct CheckpointResult {
    std::string name;
    int64_t documents = 0;
    uint64_t bytes = 0;
  };
  Status WriteCheckpointFile(CheckpointResult* result);
  void RemoveObsolete(uint64_t checkpoint_lsn);
  void CheckpointLoop();

  const DataDirOptions options_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<Engine> engine_;
  WalLog* wal_ = nullptr;  // owned by engine_

  std::mutex checkpoint_mu_;  // one checkpoint at a time
  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool checkpoint_wanted_ = false;
  std::atomic<uint64_t> last_checkpoint_bytes_{0};
  // Lsns whose following log running backups still copy (backup_source.h).
  std::shared_ptr<BackupPins> backup_pins_ = std::make_shared<BackupPins>();  // the size of the newest checkpoint written
  bool stopping_ = false;
  std::thread checkpointer_;
};

// Loads a checkpoint's bytes (data: header and frames, as the file holds
// them; name: what errors call it) into engine, or with a null engine only
// checks them. Indexes are defined, not yet built (BuildRecoveredIndexes).
Status LoadCheckpointData(std::string_view data, const std::string& name, Engine* engine, uint64_t* documents);

// `parendb doctor DIR [--salvage]`: explains a data directory without
// opening it for writing; with salvage, cuts the log at its first damaged
// record so the valid prefix can be opened. Returns a process exit code.
int RunDoctor(const std::string& dir, bool salvage, FileSystem* fs, std::string* out);

}  // namespace parendb
