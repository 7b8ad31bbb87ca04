// Online backup, the server's side: a data directory copied while commits
// go on. The copy is a checkpoint of a snapshot taken when the backup
// begins, then the log records committed after it up to the moment the
// checkpoint is complete — so it opens as the database was then, with every
// commit acknowledged before the backup began, and none half.
//
// Reading the log needs the segments after the snapshot to stay: a
// BackupPins registry, which the data directory consults before removing
// old segments, holds them while the backup lives.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "engine/backup_stream.h"
#include "engine/engine.h"
#include "wal/file.h"

namespace parendb {

// The lsns whose log live backups still need (each needs what follows its lsn).
class BackupPins {
 public:
  class Pin {
   public:
    Pin(std::shared_ptr<BackupPins> pins, uint64_t lsn);
    ~Pin();
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

   private:
    std::shared_ptr<BackupPins> pins_;
    std::multiset<uint64_t>::iterator it_;
  };
  // The smallest pinned lsn, or `otherwise` when nothing is pinned.
  uint64_t Oldest(uint64_t otherwise);

 private:
  std::mutex mu_;
  std::multiset<uint64_t> lsns_;
};

// A backup of the engine a data directory holds (fs, dir: its files; pins:
// its registry). With a null fs it is the checkpoint alone (an in-memory
// database has no log; the copy is its state when the backup began).
std::unique_ptr<BackupStream> MakeBackupStream(Engine* engine, FileSystem* fs, const std::string& dir,
                                               std::shared_ptr<BackupPins> pins);

}  // namespace parendb
