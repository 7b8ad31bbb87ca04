#include "raft/segment_allocation.h"

#include "wal/file.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace parendb::raft_segments {
namespace {

std::atomic<bool> g_zero_fill{false};
std::atomic<uint64_t> g_filled{0};

using PosixFallocate = int (*)(int, off_t, off_t);

int Forward(int fd, off_t offset, off_t len) {
  static const auto real = reinterpret_cast<PosixFallocate>(dlsym(RTLD_NEXT, "posix_fallocate"));
  if (real == nullptr) return ENOSYS;
  return real(fd, offset, len);
}

// Zeros over [offset, offset + len) of a file whose end is at or before
// offset, then one sync. 0 or an errno value, as posix_fallocate returns.
int ZeroFill(int fd, off_t offset, off_t len) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int zfd = ::open(path, O_WRONLY | O_CLOEXEC);  // without the caller's O_DSYNC
  if (zfd < 0) return Forward(fd, offset, len);
  auto at = static_cast<uint64_t>(offset);
  int err = WriteZeros(zfd, &at, static_cast<uint64_t>(offset + len));
  if (err == 0 && ::fdatasync(zfd) != 0) err = errno;
  ::close(zfd);
  if (err == 0) g_filled.fetch_add(1, std::memory_order_relaxed);
  return err;
}

}  // namespace

void ZeroFillNewFiles() { g_zero_fill.store(true, std::memory_order_release); }

uint64_t ZeroFilledFiles() { return g_filled.load(std::memory_order_relaxed); }

}  // namespace parendb::raft_segments

extern "C" int posix_fallocate(int fd, off_t offset, off_t len) {
  using namespace parendb::raft_segments;
  if (!g_zero_fill.load(std::memory_order_acquire) || offset < 0 || len <= 0) return Forward(fd, offset, len);
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno;
  // Only past the end: zeros must never land on bytes the file holds.
  if (!S_ISREG(st.st_mode) || offset < st.st_size) return Forward(fd, offset, len);
  return ZeroFill(fd, offset, len);
}
