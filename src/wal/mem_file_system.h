// A FileSystem held in memory: every file a string, syncs free, nothing
// locked. For fuzzing recovery (a data directory mutated and reopened
// thousands of times a second) and for tests that want a disk without one.
// Thread-safe: the log writer and checkpoints use it from their threads.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "wal/file.h"

namespace parendb {

class MemFileSystem final : public FileSystem {
 public:
  Status OpenWritable(const std::string& path, bool append, std::unique_ptr<WritableFile>* out,
                      size_t preallocate = 0, bool direct = false) override;
  Status ReadFile(const std::string& path, std::string* out) override;
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override { return Status::Ok(); }
  Status MakeDir(const std::string& dir) override;
  Status LockDir(const std::string& dir, std::unique_ptr<DirLock>* out) override { return Status::Ok(); }

  // Every file, by path (a snapshot: later writes do not show).
  std::map<std::string, std::string> Files() const;
  // Replaces the file at path (creating it and its directory entry).
  void Put(const std::string& path, std::string contents);

 private:
  friend class MemWritableFile;
  using Contents = std::shared_ptr<std::string>;

  mutable std::mutex mu_;
  std::map<std::string, Contents> files_;
  std::set<std::string> dirs_;
};

}  // namespace parendb
