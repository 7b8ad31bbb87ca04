// raft/segment_allocation: the posix_fallocate() that libraft's segment
// preparation binds to. Once a cluster node turns it on, a file extended
// past its end gets written zeros (no unwritten extents: libraft's direct
// appends then need no extent conversion), and bytes a file already holds
// are never touched.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "raft/segment_allocation.h"

namespace {

struct TempFile {
  std::string path;
  int fd = -1;
  explicit TempFile(int flags) {
    path = (std::filesystem::temp_directory_path() / ("parendb-segalloc-" + std::to_string(getpid()))).string();
    std::filesystem::remove(path);
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | flags, 0600);
    REQUIRE(fd >= 0);
  }
  ~TempFile() {
    ::close(fd);
    std::filesystem::remove(path);
  }
  std::string Read() const {
    struct stat st;
    REQUIRE(::fstat(fd, &st) == 0);
    std::string out(static_cast<size_t>(st.st_size), '?');
    REQUIRE(::pread(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
    return out;
  }
};

// Whether any extent of the file is allocated but unwritten; -1 where the
// file system cannot say (tmpfs has no FIEMAP).
int HasUnwrittenExtents(int fd) {
  std::vector<char> buf(sizeof(fiemap) + 64 * sizeof(fiemap_extent));
  auto* fm = reinterpret_cast<fiemap*>(buf.data());
  fm->fm_start = 0;
  fm->fm_length = FIEMAP_MAX_OFFSET;
  fm->fm_flags = FIEMAP_FLAG_SYNC;
  fm->fm_extent_count = 64;
  if (::ioctl(fd, FS_IOC_FIEMAP, fm) != 0) return -1;
  for (unsigned i = 0; i < fm->fm_mapped_extents; ++i) {
    if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) return 1;
  }
  return 0;
}

}  // namespace

TEST_SUITE("raft") {
  TEST_CASE("a segment preallocated by a cluster node is written zeros, synced, with no unwritten extents") {
    parendb::raft_segments::ZeroFillNewFiles();
    TempFile f(O_DSYNC);  // as libraft opens its segments
    uint64_t before = parendb::raft_segments::ZeroFilledFiles();
    const off_t kSize = 3 * (1 << 20) + 4096;  // more than one chunk of zeros
    REQUIRE(posix_fallocate(f.fd, 0, kSize) == 0);
    CHECK(parendb::raft_segments::ZeroFilledFiles() == before + 1);
    std::string bytes = f.Read();
    REQUIRE(bytes.size() == static_cast<size_t>(kSize));
    CHECK(bytes.find_first_not_of('\0') == std::string::npos);
    int unwritten = HasUnwrittenExtents(f.fd);
    if (unwritten >= 0) CHECK(unwritten == 0);
  }

  TEST_CASE("a preallocation over bytes the file holds keeps them (it goes to the C library's)") {
    parendb::raft_segments::ZeroFillNewFiles();
    TempFile f(0);
    REQUIRE(::pwrite(f.fd, "abc", 3, 0) == 3);
    uint64_t before = parendb::raft_segments::ZeroFilledFiles();
    REQUIRE(posix_fallocate(f.fd, 0, 8192) == 0);
    CHECK(parendb::raft_segments::ZeroFilledFiles() == before);
    std::string bytes = f.Read();
    REQUIRE(bytes.size() == 8192);
    CHECK(bytes.substr(0, 3) == "abc");
    CHECK(bytes.find_first_not_of('\0', 3) == std::string::npos);
  }

  TEST_CASE("preallocation errors come back as posix_fallocate's: an errno value, not -1") {
    parendb::raft_segments::ZeroFillNewFiles();
    CHECK(posix_fallocate(-1, 0, 4096) == EBADF);
    TempFile f(0);
    CHECK(posix_fallocate(f.fd, 0, -1) == EINVAL);
  }
}
