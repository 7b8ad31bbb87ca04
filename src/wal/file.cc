#include "wal/file.h"

#include "wal/direct_log_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace parendb {

int WriteZeros(int fd, uint64_t* at, uint64_t to) {
  // Never written: .bss, no file size, and no memory until first read.
  alignas(4096) static char zeros[1u << 20];
  while (*at < to) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof zeros, to - *at));
    ssize_t w = ::pwrite(fd, zeros, n, static_cast<off_t>(*at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    *at += static_cast<uint64_t>(w);
  }
  return 0;
}

namespace {

Status IoError(const std::string& what, const std::string& path, int err) {
  return Status(ErrorCode::kIo, what + " " + path + ": " + std::strerror(err));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size, size_t preallocate)
      : path_(std::move(path)), fd_(fd), size_(size), allocated_(size), preallocate_(preallocate) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) (void)Close();
  }

  Status Append(std::string_view data) override {
    if (preallocate_ == 0) return WriteAll(data, -1);
    if (size_ + data.size() > allocated_) {
      Status st = Extend(size_ + data.size());
      if (!st.ok()) return st;
    }
    return WriteAll(data, static_cast<off_t>(size_));
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return IoError("cannot sync", path_, errno);
    return Status::Ok();
  }

  // Best effort: where sync_file_range fails (a filesystem without it), the
  // data is simply written at Sync, which reports any real I/O error.
  Status WriteBehind() override {
    if (write_behind_off_) return Status::Ok();
    if (started_ > waited_) {
      write_behind_off_ = ::sync_file_range(fd_, static_cast<off_t>(waited_), static_cast<off_t>(started_ - waited_),
                                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                                SYNC_FILE_RANGE_WAIT_AFTER) != 0;
      waited_ = started_;
    }
    if (!write_behind_off_ && size_ > started_) {
      write_behind_off_ = ::sync_file_range(fd_, static_cast<off_t>(started_), static_cast<off_t>(size_ - started_),
                                            SYNC_FILE_RANGE_WRITE) != 0;
      started_ = size_;
    }
    return Status::Ok();
  }

  Status Close() override {
    int fd = fd_;
    fd_ = -1;
    if (fd < 0) return Status::Ok();
    Status st;
    if (allocated_ > size_ && ::ftruncate(fd, static_cast<off_t>(size_)) != 0) st = IoError("cannot trim", path_, errno);
    if (::close(fd) != 0 && st.ok()) st = IoError("cannot close", path_, errno);
    return st;
  }

  uint64_t size() const override { return size_; }

 private:
  // Writes data at offset (-1: append), all of it or an error.
  Status WriteAll(std::string_view data, off_t offset) {
    while (!data.empty()) {
      ssize_t n = offset < 0 ? ::write(fd_, data.data(), data.size()) : ::pwrite(fd_, data.data(), data.size(), offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoError("cannot write", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
      size_ += static_cast<uint64_t>(n);
      if (offset >= 0) offset += n;
    }
    return Status::Ok();
  }

  // Writes zeros (not fallocate: unwritten extents would still need
  // converting, which is metadata again) up past `need`.
  Status Extend(uint64_t need) {
    int err = WriteZeros(fd_, &allocated_, std::max<uint64_t>(need, allocated_ + preallocate_));
    return err == 0 ? Status::Ok() : IoError("cannot extend", path_, err);
  }

  std::string path_;
  int fd_;
  uint64_t size_;       // end of the data
  uint64_t allocated_;  // end of the file (zeros after size_)
  size_t preallocate_;
  uint64_t started_ = 0;  // WriteBehind: writeback started up to here
  uint64_t waited_ = 0;   // and finished up to here
  bool write_behind_off_ = false;
};

class PosixFileSystem final : public FileSystem {
 public:
  Status OpenWritable(const std::string& path, bool append, std::unique_ptr<WritableFile>* out,
                      size_t preallocate, bool direct) override {
    if (direct && !append) {
      bool supported = true;
      Status st = OpenDirectLogFile(path, preallocate, out, &supported);
      if (supported) return st;
    }
    // Preallocated files write at their own offset, so they are not O_APPEND.
    int mode = append ? (preallocate > 0 ? 0 : O_APPEND) : O_TRUNC;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | mode, 0644);
    if (fd < 0) return IoError("cannot open", path, errno);
    struct stat st;
    uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    *out = std::make_unique<PosixWritableFile>(path, fd, size, preallocate);
    return Status::Ok();
  }

  Status ReadFile(const std::string& path, std::string* out) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("cannot open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return IoError("cannot stat", path, err);
    }
    out->resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out->size()) {
      ssize_t n = ::read(fd, out->data() + done, out->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = n < 0 ? errno : EIO;
        ::close(fd);
        return IoError("cannot read", path, err);
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return Status::Ok();
  }

  Status ReadRange(const std::string& path, uint64_t offset, size_t max, std::string* out) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("cannot open", path, errno);
    size_t start = out->size();
    out->resize(start + max);
    size_t done = 0;
    while (done < max) {
      ssize_t n = ::pread(fd, out->data() + start + done, max - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        out->resize(start);
        return IoError("cannot read", path, err);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    out->resize(start + done);
    ::close(fd);
    return Status::Ok();
  }

  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return IoError("cannot list", dir, errno);
    names->clear();
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names->push_back(std::move(n));
    }
    ::closedir(d);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return IoError("cannot rename", from, errno);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("cannot remove", path, errno);
    return Status::Ok();
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) return IoError("cannot truncate", path, errno);
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return IoError("cannot open directory", dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return IoError("cannot sync directory", dir, err);
    return Status::Ok();
  }

  Status MakeDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return IoError("cannot create directory", dir, errno);
    return Status::Ok();
  }
};

class FaultyWritableFile final : public WritableFile {
 public:
  FaultyWritableFile(FaultyFileSystem* fs, std::unique_ptr<WritableFile> base) : fs_(fs), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    if (!fs_->Allow(fs_->ok_writes)) return Status(ErrorCode::kIo, "write failed: " + fs_->error);
    return base_->Append(data);
  }
  Status Sync() override {
    if (!fs_->Allow(fs_->ok_syncs)) return Status(ErrorCode::kIo, "sync failed: " + fs_->error);
    return base_->Sync();
  }
  Status WriteBehind() override {
    fs_->write_behinds.fetch_add(1, std::memory_order_relaxed);
    return base_->WriteBehind();
  }
  Status Close() override { return base_->Close(); }
  uint64_t size() const override { return base_->size(); }

 private:
  FaultyFileSystem* fs_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

FileSystem* FileSystem::Default() {
  static PosixFileSystem fs;
  return &fs;
}

bool FaultyFileSystem::Allow(std::atomic<int64_t>& budget) {
  int64_t left = budget.load();
  while (left >= 0) {
    if (left == 0) return false;
    if (budget.compare_exchange_weak(left, left - 1)) return true;
  }
  return true;  // -1: unlimited
}

Status FaultyFileSystem::OpenWritable(const std::string& path, bool append, std::unique_ptr<WritableFile>* out,
                                     size_t preallocate, bool direct) {
  std::unique_ptr<WritableFile> base;
  Status st = base_->OpenWritable(path, append, &base, preallocate, direct);
  if (!st.ok()) return st;
  *out = std::make_unique<FaultyWritableFile>(this, std::move(base));
  return Status::Ok();
}

Status FileSystem::LockDir(const std::string& dir, std::unique_ptr<DirLock>* out) { return DirLock::Acquire(dir, out); }

Status FileSystem::ReadRange(const std::string& path, uint64_t offset, size_t max, std::string* out) {
  std::string whole;
  Status st = ReadFile(path, &whole);
  if (!st.ok()) return st;
  if (offset < whole.size()) out->append(whole, static_cast<size_t>(offset), max);
  return Status::Ok();
}

Status DirLock::Acquire(const std::string& dir, std::unique_ptr<DirLock>* out) {
  std::string path = dir + "/LOCK";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open", path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {0};
    ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string owner = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "another process";
      while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
      return Status(ErrorCode::kIo, "data directory " + dir + " is in use by process " + owner +
                                        " (only one process may open it at a time)");
    }
    return IoError("cannot lock", path, err);
  }
  std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t w = ::pwrite(fd, me.data(), me.size(), 0);
  }
  out->reset(new DirLock(fd));
  return Status::Ok();
}

DirLock::~DirLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace parendb
