// raft/segment_overlap: the overlapping closed segments libraft 0.15 can
// leave after an interrupted truncation are set aside when the newest
// snapshot holds everything in the older one, and refused with what to do
// otherwise. The directories here hold empty files with libraft's names:
// the repair decides from names alone. (The first case is the listing of a
// node that could not restart in a 120-fault soak of the cluster tests.)
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "raft/segment_overlap.h"

namespace {

namespace fs = std::filesystem;

struct RaftDir {
  fs::path path;
  explicit RaftDir(const std::vector<std::string>& files) {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("parendb-overlap-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
    for (const std::string& f : files) std::ofstream(path / f) << "x";
  }
  ~RaftDir() { fs::remove_all(path); }
  bool has(const std::string& f) const { return fs::exists(path / f); }
};

const char* const kSnapshot12 = "snapshot-12-9128-30782191";

}  // namespace

TEST_SUITE("raft") {
  TEST_CASE("an older overlapping segment behind the newest snapshot is set aside; nothing else moves") {
    RaftDir d({"0000000000009001-0000000000009002", "0000000000009002-0000000000009132",
               "0000000000009133-0000000000009260", "open-9", "open-10", "metadata1", "metadata2",
               "snapshot-11-8999-30781398", "snapshot-11-8999-30781398.meta", kSnapshot12,
               std::string(kSnapshot12) + ".meta"});
    std::vector<std::string> moved;
    parendb::Status st = parendb::raft_segments::SetAsideOverlappingSegments(d.path.string(), &moved);
    REQUIRE(st.ok());
    CHECK(moved == std::vector<std::string>{"0000000000009001-0000000000009002"});
    CHECK_FALSE(d.has("0000000000009001-0000000000009002"));
    CHECK(d.has("overlap-0000000000009001-0000000000009002"));
    for (const char* kept : {"0000000000009002-0000000000009132", "0000000000009133-0000000000009260", "open-9",
                             "open-10", kSnapshot12}) {
      CHECK(d.has(kept));
    }
  }

  TEST_CASE("a directory whose segments do not overlap is not touched") {
    RaftDir d({"0000000000000001-0000000000000100", "0000000000000101-0000000000000200",
               "0000000000000400-0000000000000500", "open-3", "snapshot-2-150-7", "snapshot-2-150-7.meta"});
    std::vector<std::string> moved{"stale"};
    REQUIRE(parendb::raft_segments::SetAsideOverlappingSegments(d.path.string(), &moved).ok());
    CHECK(moved.empty());
    CHECK(d.has("0000000000000001-0000000000000100"));
    CHECK(d.has("0000000000000400-0000000000000500"));
  }

  TEST_CASE("an older overlapping segment that reaches past the snapshot is refused, naming both and the remedy") {
    RaftDir d({"0000000000009001-0000000000009140", "0000000000009100-0000000000009200", kSnapshot12,
               std::string(kSnapshot12) + ".meta"});
    std::vector<std::string> moved;
    parendb::Status st = parendb::raft_segments::SetAsideOverlappingSegments(d.path.string(), &moved);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("0000000000009001-0000000000009140 and 0000000000009100-0000000000009200") !=
          std::string::npos);
    CHECK(st.message().find("index 9128") != std::string::npos);
    CHECK(st.message().find("catches up from the others") != std::string::npos);
    CHECK(moved.empty());
    CHECK(d.has("0000000000009001-0000000000009140"));
  }

  TEST_CASE("a snapshot counts only with its data file, as libraft loads it") {
    // Without snapshot-12's data file the newest snapshot is 11 (index
    // 8999), which does not hold the older segment.
    RaftDir d({"0000000000009001-0000000000009002", "0000000000009002-0000000000009132",
               "snapshot-11-8999-30781398", "snapshot-11-8999-30781398.meta", std::string(kSnapshot12) + ".meta"});
    std::vector<std::string> moved;
    parendb::Status st = parendb::raft_segments::SetAsideOverlappingSegments(d.path.string(), &moved);
    CHECK_FALSE(st.ok());
    CHECK(d.has("0000000000009001-0000000000009002"));
  }
}
