#include "wal/direct_log_file.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace parendb {
namespace {

// Offsets, lengths and memory of direct writes are multiples of this: a
// page, which is also every device's largest logical block.
constexpr size_t kBlock = 4096;

// The write buffer keeps at most this much between groups: one huge
// commit does not pin its size for the life of the segment.
constexpr size_t kKeptCapacity = 16u << 20;

size_t RoundUp(size_t n) { return (n + kBlock - 1) & ~(kBlock - 1); }
uint64_t RoundDown(uint64_t n) { return n & ~uint64_t{kBlock - 1}; }

Status IoError(const std::string& what, const std::string& path, int err) {
  return Status(ErrorCode::kIo, what + " " + path + ": " + std::strerror(err));
}

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char, FreeDeleter>;

AlignedBuffer Allocate(size_t bytes) {
  void* p = nullptr;
  if (::posix_memalign(&p, kBlock, bytes) != 0) return nullptr;
  return AlignedBuffer(static_cast<char*>(p));
}

class DirectLogFile final : public WritableFile {
 public:
  DirectLogFile(std::string path, int fd, size_t preallocate)
      : path_(std::move(path)), fd_(fd), preallocate_(std::max(RoundUp(preallocate), kBlock)) {}
  // Without Close, what was not synced is dropped: the log gives a file up
  // unclosed only after a failed write or sync, whose commits must not
  // reach it.
  ~DirectLogFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    if (size_ + data.size() > allocated_) {
      Status st = Extend(size_ + data.size());
      if (!st.ok()) return st;
    }
    size_t used = static_cast<size_t>(size_ - buf_offset_);
    if (RoundUp(used + data.size()) > capacity_) {
      size_t capacity = std::max(RoundUp(used + data.size()), 2 * capacity_);
      AlignedBuffer bigger = Allocate(capacity);
      if (bigger == nullptr) return Status(ErrorCode::kIo, "out of memory for the log's write buffer");
      if (used > 0) std::memcpy(bigger.get(), buf_.get(), used);
      buf_ = std::move(bigger);
      capacity_ = capacity;
    }
    std::memcpy(buf_.get() + used, data.data(), data.size());
    size_ += data.size();
    dirty_ = dirty_ || !data.empty();
    return Status::Ok();
  }

  Status Sync() override { return Flush(RWF_DSYNC); }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    Status st = Flush(0);  // what was appended reaches the file, synced or not
    if (allocated_ > size_ && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0 && st.ok()) {
      st = IoError("cannot trim", path_, errno);
    }
    if (::close(fd_) != 0 && st.ok()) st = IoError("cannot close", path_, errno);
    fd_ = -1;
    return st;
  }

  uint64_t size() const override { return size_; }

  // Writes zeros up to target (a block boundary): 0, or the errno.
  int ExtendTo(uint64_t target) { return WriteZeros(fd_, &allocated_, target); }

 private:
  // Writes the buffered blocks at their offset, then keeps the partial
  // last one. flags RWF_DSYNC: durable when it returns.
  Status Flush(int flags) {
    if (!dirty_) return Status::Ok();
    if (sync_after_) flags = 0;  // found unsupported before: not asked again
    size_t used = static_cast<size_t>(size_ - buf_offset_);
    size_t len = RoundUp(used);
    std::memset(buf_.get() + used, 0, len - used);
    size_t done = 0;
    while (done < len) {
      struct iovec v = {buf_.get() + done, len - done};
      ssize_t n = ::pwritev2(fd_, &v, 1, static_cast<off_t>(buf_offset_ + done), flags);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EOPNOTSUPP && flags != 0) {
        // A kernel without per-write flags: write, then sync the data.
        flags = 0;
        sync_after_ = true;
        continue;
      }
      if (n < 0) return IoError("cannot write", path_, errno);
      done += static_cast<size_t>(n);
    }
    if (sync_after_ && ::fdatasync(fd_) != 0) return IoError("cannot sync", path_, errno);
    dirty_ = false;
    uint64_t tail = RoundDown(size_);
    if (tail > buf_offset_) {
      std::memmove(buf_.get(), buf_.get() + (tail - buf_offset_), static_cast<size_t>(size_ - tail));
      buf_offset_ = tail;
    }
    if (capacity_ > kKeptCapacity) {
      // After a huge commit: give its memory back, keeping the tail block.
      AlignedBuffer smaller = Allocate(kKeptCapacity);
      if (smaller != nullptr) {
        std::memcpy(smaller.get(), buf_.get(), static_cast<size_t>(size_ - buf_offset_));
        buf_ = std::move(smaller);
        capacity_ = kKeptCapacity;
      }
    }
    return Status::Ok();
  }

  // Zeros, written directly, up past need in steps of preallocate_, so
  // that appends overwrite blocks that exist and a sync commits no size.
  Status Extend(uint64_t need) {
    int err = ExtendTo(std::max<uint64_t>(RoundUp(need), allocated_ + preallocate_));
    return err == 0 ? Status::Ok() : IoError("cannot extend", path_, err);
  }


  const std::string path_;
  int fd_;
  const size_t preallocate_;
  uint64_t size_ = 0;        // end of the data
  uint64_t allocated_ = 0;   // end of the file (zeros after size_)
  uint64_t buf_offset_ = 0;  // the file offset of buf_[0], a block boundary
  AlignedBuffer buf_;        // the data from buf_offset_ to size_
  size_t capacity_ = 0;
  bool dirty_ = false;       // appended since the last Flush
  bool sync_after_ = false;  // RWF_DSYNC unsupported: fdatasync after writing
};

}  // namespace

Status OpenDirectLogFile(const std::string& path, size_t preallocate, std::unique_ptr<WritableFile>* out,
                         bool* supported) {
  *supported = true;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  if (fd < 0 && errno == EINVAL) {
    *supported = false;
    return Status(ErrorCode::kIo, "the filesystem of " + path + " does not take direct I/O");
  }
  if (fd < 0) return IoError("cannot open", path, errno);
  auto file = std::make_unique<DirectLogFile>(path, fd, preallocate);
  // The first zeros now: a filesystem that opens with O_DIRECT but refuses
  // such writes (EINVAL) is found here, not at the first commit.
  if (int err = file->ExtendTo(kBlock); err != 0) {
    *supported = err != EINVAL;
    return IoError("cannot write", path, err);  // file closes fd
  }
  *out = std::move(file);
  return Status::Ok();
}

}  // namespace parendb
