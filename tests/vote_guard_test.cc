// raft/vote_guard: what a node holds back is recorded in its Raft
// directory, so a restart before it has caught up holds back again — its
// directory is no longer empty then, and its log no longer overlaps, so
// nothing else would tell it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "raft/vote_guard.h"

namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("parendb-votes-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path record() const { return path / parendb::VoteGuard::kRecordName; }
};

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

parendb::VoteHold Reopened(const TempDir& d) {
  parendb::VoteGuard g;
  REQUIRE(g.Open(d.path.string()).ok());
  return g.hold();
}

}  // namespace

TEST_SUITE("raft") {
  TEST_CASE("vote guard: armed is recorded, read back at the next start, and removed once caught up") {
    using parendb::VoteHold;
    TempDir d;
    {
      parendb::VoteGuard g;
      REQUIRE(g.Open(d.path.string()).ok());
      CHECK_FALSE(g.armed());  // nothing recorded: a node that has caught up
      REQUIRE(g.Arm(VoteHold::kStartedEmpty).ok());
      CHECK(Read(d.record()) == "started-empty\n");
    }
    CHECK(Reopened(d) == VoteHold::kStartedEmpty);
    {
      parendb::VoteGuard g;
      REQUIRE(g.Open(d.path.string()).ok());
      REQUIRE(g.Arm(VoteHold::kLostEntries).ok());
      CHECK(Read(d.record()) == "lost-entries\n");
      REQUIRE(g.Arm(VoteHold::kStartedEmpty).ok());  // never less strict, on disk either
      CHECK(Read(d.record()) == "lost-entries\n");
    }
    CHECK(Reopened(d) == VoteHold::kLostEntries);
    {
      parendb::VoteGuard g;
      REQUIRE(g.Open(d.path.string()).ok());
      CHECK(g.HoldsCandidacy());
      CHECK(g.Disarm());
      CHECK_FALSE(fs::exists(d.record()));
    }
    CHECK(Reopened(d) == VoteHold::kNone);
  }

  TEST_CASE("vote guard: a record a crash cut short reads as the stricter hold") {
    TempDir d;
    std::ofstream(d.record()) << "start";
    CHECK(Reopened(d) == parendb::VoteHold::kLostEntries);
    std::ofstream(d.record(), std::ios::trunc).flush();
    CHECK(Reopened(d) == parendb::VoteHold::kLostEntries);
  }

  TEST_CASE("vote guard: arming fails, and stays unarmed, where the record cannot be written") {
    TempDir d;
    parendb::VoteGuard g;
    REQUIRE(g.Open((d.path / "missing").string()).ok() == false);  // no such directory to list
    CHECK_FALSE(g.Arm(parendb::VoteHold::kLostEntries).ok());
    CHECK_FALSE(g.armed());
  }
}
