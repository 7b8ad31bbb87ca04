// The file operations the log and checkpoints need, behind an interface so
// tests can make chosen writes and syncs fail (FaultyFileSystem) the way a
// full or failing disk would.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace parendb {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // data (fdatasync)
  // For a long file written in one go (a checkpoint): starts writing to
  // disk what was appended since the last call, without waiting for it,
  // and waits for what the call before started. At most two calls' worth
  // of pages are then waiting to be written, so the disk never gets
  // hundreds of megabytes at once at the final Sync (the log's small syncs
  // would queue behind them). Nothing is durable before Sync. Best effort:
  // a file that cannot do it says Ok and leaves the writing to Sync.
  virtual Status WriteBehind() { return Status::Ok(); }
  virtual Status Close() = 0;
  virtual uint64_t size() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates (truncating) or appends to a file. With preallocate > 0 the
  // file is extended with real zeros that many bytes at a time ahead of the
  // data, so appends overwrite blocks that already exist and a data sync
  // has no size or allocation to commit; Close() trims the zeros.
  // direct (a new file that is synced after every append: the log): write
  // it past the page cache where the filesystem can (wal/direct_log_file.h);
  // appends then reach the file only at Sync or Close.
  virtual Status OpenWritable(const std::string& path, bool append, std::unique_ptr<WritableFile>* out,
                              size_t preallocate = 0, bool direct = false) = 0;
  virtual Status ReadFile(const std::string& path, std::string* out) = 0;
  // Appends up to max bytes from offset to *out (fewer at the end of the
  // file). The default reads the whole file.
  virtual Status ReadRange(const std::string& path, uint64_t offset, size_t max, std::string* out);
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status MakeDir(const std::string& dir) = 0;
  // Takes the directory's exclusive lock for the caller's lifetime (*out
  // may stay null where there is nothing to lock, as in memory).
  virtual Status LockDir(const std::string& dir, std::unique_ptr<class DirLock>* out);

  static FileSystem* Default();  // the real POSIX one
};

// Wraps a FileSystem and fails operations on request: after `ok_writes`
// more successful appends, or `ok_syncs` more syncs, every later one fails
// with `error` (e.g. "No space left on device"). -1 never fails.
class FaultyFileSystem : public FileSystem {
 public:
  explicit FaultyFileSystem(FileSystem* base) : base_(base) {}

  std::atomic<int64_t> ok_writes{-1};
  std::atomic<int64_t> ok_syncs{-1};
  std::atomic<int64_t> write_behinds{0};  // WriteBehind calls passed on (tests count them)
  std::string error = "injected I/O error";

  Status OpenWritable(const std::string& path, bool append, std::unique_ptr<WritableFile>* out,
                      size_t preallocate = 0, bool direct = false) override;
  Status ReadFile(const std::string& path, std::string* out) override { return base_->ReadFile(path, out); }
  Status ReadRange(const std::string& path, uint64_t offset, size_t max, std::string* out) override {
    return base_->ReadRange(path, offset, max, out);
  }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override { return base_->ListDir(dir, names); }
  Status Rename(const std::string& from, const std::string& to) override { return base_->Rename(from, to); }
  Status Remove(const std::string& path) override { return base_->Remove(path); }
  Status Truncate(const std::string& path, uint64_t size) override { return base_->Truncate(path, size); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Status MakeDir(const std::string& dir) override { return base_->MakeDir(dir); }
  Status LockDir(const std::string& dir, std::unique_ptr<DirLock>* out) override { return base_->LockDir(dir, out); }

  // Whether the next operation of a kind may succeed (counts it down).
  bool Allow(std::atomic<int64_t>& budget);

 private:
  FileSystem* base_;
};

// Holds an exclusive lock on a data directory for the life of the process
// that opened it (flock on DIR/LOCK, which also records the owner's pid).
class DirLock {
 public:
  static Status Acquire(const std::string& dir, std::unique_ptr<DirLock>* out);
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

// Writes zeros into fd from *at up to `to`, advancing *at past each write;
// 0, or the errno (EIO for a write that wrote nothing). How files are
// extended ahead of their data (real zeros, not fallocate, whose unwritten
// extents the first write to them must convert): the log's segments, and a
// cluster node's Raft segments. One 1 MiB write at a time, from a block
// aligned for O_DIRECT, since whoever extends usually waits for it.
int WriteZeros(int fd, uint64_t* at, uint64_t to);

}  // namespace parendb
