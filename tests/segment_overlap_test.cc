// raft/segment_overlap: the overlapping closed segments libraft 0.15 can
// leave after an interrupted truncation are set aside when the newest
// snapshot holds everything in the older one, and refused with what to do
// otherwise: cut back to the entries before the newer segment when the cut
// falls between write batches. Where only names matter the files are
// empty; the cut-back cases write segments in libraft 0.15's format. (The
// first case is the listing of a node that could not restart in a
// 120-fault soak of the cluster tests; the first cut-back case has the
// shape of another, from a 300-fault soak.)
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>
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

// One write batch: (term, entry bytes) pairs, as libraft 0.15 lays them
// out (checksums left zero: the repair does not read them).
using Batch = std::vector<std::pair<uint64_t, std::string>>;

void Put(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string SegmentBytes(const std::vector<Batch>& batches) {
  std::string out;
  Put(&out, 1, 8);  // format version
  for (const Batch& b : batches) {
    Put(&out, 0, 8);  // two checksums
    Put(&out, b.size(), 8);
    for (const auto& [term, data] : b) {
      Put(&out, term, 8);
      Put(&out, 1, 1);  // a command
      Put(&out, 0, 3);
      Put(&out, data.size(), 4);
    }
    for (const auto& [term, data] : b) {
      out += data;
      out.append((8 - data.size() % 8) % 8, '\0');
    }
  }
  return out;
}

void Write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const char* const kSnapshot117 = "snapshot-117-129904-40610545";
const char* const kOlder = "0000000000129906-0000000000129907";
const char* const kNewer = "0000000000129907-0000000000129909";
const char* const kCut = "0000000000129906-0000000000129906";

// The 300-fault soak's node: 129906 and 129907 written in term 117 as two
// batches, then 129907 on overwritten in term 118 into a new segment,
// while the old one kept its stale 129907.
struct SoakShape : RaftDir {
  std::string older = SegmentBytes({{{117, "entry 129906"}}, {{117, "stale 129907, a barrier"}}});
  std::string newer = SegmentBytes({{{118, "new 129907"}}, {{118, "129908"}, {118, "129909"}}});
  SoakShape() : RaftDir({"0000000000129776-0000000000129905", kSnapshot117, std::string(kSnapshot117) + ".meta", "open-10"}) {
    Write(path / kOlder, older);
    Write(path / kNewer, newer);
  }
};

}  // namespace

TEST_SUITE("raft") {
  TEST_CASE("an older overlapping segment behind the newest snapshot is set aside; nothing else moves") {
    RaftDir d({"0000000000009001-0000000000009002", "0000000000009002-0000000000009132",
               "0000000000009133-0000000000009260", "open-9", "open-10", "metadata1", "metadata2",
               "snapshot-11-8999-30781398", "snapshot-11-8999-30781398.meta", kSnapshot12,
               std::string(kSnapshot12) + ".meta"});
    parendb::raft_segments::Repair r;
    parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r);
    REQUIRE(st.ok());
    CHECK(r.set_aside == std::vector<std::string>{"0000000000009001-0000000000009002"});
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
    parendb::raft_segments::Repair r;
    r.set_aside.push_back("stale");
    REQUIRE(parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r).ok());
    CHECK(r.set_aside.empty());
    CHECK(r.trimmed.empty());
    CHECK(d.has("0000000000000001-0000000000000100"));
    CHECK(d.has("0000000000000400-0000000000000500"));
  }

  TEST_CASE("an older overlapping segment that reaches past the snapshot is refused, naming both and the remedy") {
    RaftDir d({"0000000000009001-0000000000009140", "0000000000009100-0000000000009200", kSnapshot12,
               std::string(kSnapshot12) + ".meta"});
    parendb::raft_segments::Repair r;
    parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("0000000000009001-0000000000009140 and 0000000000009100-0000000000009200") !=
          std::string::npos);
    CHECK(st.message().find("index 9128") != std::string::npos);
    CHECK(st.message().find("catches up from the others") != std::string::npos);
    CHECK(st.message().find("not in libraft's segment format") != std::string::npos);  // an empty file
    CHECK(r.set_aside.empty());
    CHECK(d.has("0000000000009001-0000000000009140"));
  }

  TEST_CASE("a snapshot counts only with its data file, as libraft loads it") {
    // Without snapshot-12's data file the newest snapshot is 11 (index
    // 8999), which does not hold the older segment.
    RaftDir d({"0000000000009001-0000000000009002", "0000000000009002-0000000000009132",
               "snapshot-11-8999-30781398", "snapshot-11-8999-30781398.meta", std::string(kSnapshot12) + ".meta"});
    parendb::raft_segments::Repair r;
    parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r);
    CHECK_FALSE(st.ok());
    CHECK(d.has("0000000000009001-0000000000009002"));
  }
  TEST_CASE("an older overlapping segment past the snapshot is cut back to the entries before the newer one") {
    SoakShape d;
    parendb::raft_segments::Repair r;
    parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r);
    REQUIRE_MESSAGE(st.ok(), st.message());
    CHECK(r.set_aside.empty());
    REQUIRE(r.trimmed.size() == 1);
    CHECK(r.trimmed[0].from == kOlder);
    CHECK(r.trimmed[0].to == kCut);
    CHECK(r.trimmed[0].dropped == 1);
    // The cut keeps the first batch byte for byte; the original stays aside.
    CHECK(Read(d.path / kCut) == SegmentBytes({{{117, "entry 129906"}}}));
    CHECK(Read(d.path / (std::string("overlap-") + kOlder)) == d.older);
    CHECK_FALSE(d.has(kOlder));
    CHECK(Read(d.path / kNewer) == d.newer);
    CHECK_FALSE(d.has(std::string("trimming-") + kCut));
    // Done once: a second start finds nothing to repair.
    REQUIRE(parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r).ok());
    CHECK(r.trimmed.empty());
  }

  TEST_CASE("a cut inside a write batch, or one the terms go down across, is refused and changes nothing") {
    SoakShape d;
    SUBCASE("both entries in one batch") { d.older = SegmentBytes({{{117, "entry 129906"}, {117, "stale 129907"}}}); }
    SUBCASE("the kept entry's term above the newer segment's first") {
      d.older = SegmentBytes({{{119, "entry 129906"}}, {{119, "stale 129907"}}});
    }
    SUBCASE("the older segment holds fewer entries than its name says") { d.older = SegmentBytes({{{117, "entry 129906"}}}); }
    Write(d.path / kOlder, d.older);
    parendb::raft_segments::Repair r;
    parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find(std::string(kOlder) + " and " + kNewer) != std::string::npos);
    CHECK(st.message().find("cannot be cut back") != std::string::npos);
    CHECK(Read(d.path / kOlder) == d.older);
    CHECK_FALSE(d.has(kCut));
    CHECK(r.trimmed.empty());
  }

  TEST_CASE("two segments that start at one index: both set aside behind the snapshot, the log cut before them past it") {
    SUBCASE("behind the snapshot: neither is kept as spare entries") {
      RaftDir d({"0000000000009001-0000000000009002", "0000000000009001-0000000000009050",
                 "0000000000009051-0000000000009140", kSnapshot12, std::string(kSnapshot12) + ".meta"});
      parendb::raft_segments::Repair r;
      parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r);
      REQUIRE_MESSAGE(st.ok(), st.message());
      CHECK(r.set_aside.size() == 2);
      CHECK(d.has("overlap-0000000000009001-0000000000009002"));
      CHECK(d.has("overlap-0000000000009001-0000000000009050"));
      CHECK_FALSE(d.has("0000000000009001-0000000000009002"));
      CHECK_FALSE(d.has("0000000000009001-0000000000009050"));
      CHECK(d.has("0000000000009051-0000000000009140"));
    }
    SUBCASE("past it (the shape of the soak with seed 86032): the log is cut before them, after before_cut") {
      const char* const shorter = "0000000000090501-0000000000090504";
      const char* const longer = "0000000000090501-0000000000090631";
      const char* const later = "0000000000090632-0000000000090700";
      const char* const kept = "0000000000090371-0000000000090500";
      RaftDir d({kept, later, "snapshot-112-90500-60423393", "snapshot-112-90500-60423393.meta", "open-21",
                 "open-22", "metadata1"});
      const std::string old_branch = SegmentBytes({{{112, "a"}, {112, "b"}, {112, "c"}, {112, "d"}}});
      Batch replaced;
      for (int i = 0; i < 131; ++i) replaced.push_back({113, "entry " + std::to_string(90501 + i)});
      const std::string new_branch = SegmentBytes({replaced});
      Write(d.path / shorter, old_branch);
      Write(d.path / longer, new_branch);
      const std::vector<std::string> going = {shorter, longer, later, "open-21", "open-22"};
      SUBCASE("before_cut fails: nothing moves") {
        parendb::raft_segments::Repair r;
        parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(
            d.path.string(), &r, [] { return parendb::Status(parendb::ErrorCode::kIo, "disk full"); });
        REQUIRE_FALSE(st.ok());
        CHECK(st.message() == "disk full");
        CHECK(r.set_aside.empty());
        CHECK(r.cut_from == 0);
        for (const std::string& f : going) CHECK(d.has(f));
      }
      SUBCASE("before_cut succeeds: the two, what follows them and the open segments go aside") {
        int calls = 0;
        parendb::raft_segments::Repair r;
        parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r, [&] {
          ++calls;
          for (const std::string& f : going) CHECK(d.has(f));  // called before anything moves
          return parendb::Status::Ok();
        });
        REQUIRE_MESSAGE(st.ok(), st.message());
        CHECK(calls == 1);
        CHECK(r.cut_from == 90501);
        CHECK(r.set_aside.size() == going.size());
        for (const std::string& f : going) {
          CAPTURE(f);
          CHECK_FALSE(d.has(f));
          CHECK(d.has("overlap-" + f));
        }
        CHECK(Read(d.path / ("overlap-" + std::string(shorter))) == old_branch);
        CHECK(Read(d.path / ("overlap-" + std::string(longer))) == new_branch);
        CHECK(d.has(kept));
        CHECK(d.has("metadata1"));
        CHECK(d.has("snapshot-112-90500-60423393"));
      }
    }
  }

  TEST_CASE("a cut-back a crash interrupted is finished, or started over, at the next start") {
    SoakShape d;
    std::string cut = SegmentBytes({{{117, "entry 129906"}}});
    Write(d.path / (std::string("trimming-") + kCut), cut);
    SUBCASE("the original already moved aside: the synced copy goes into place") {
      fs::rename(d.path / kOlder, d.path / (std::string("overlap-") + kOlder));
    }
    SUBCASE("the original still there: the copy is dropped and the cut made again") {}
    parendb::raft_segments::Repair r;
    parendb::Status st = parendb::raft_segments::RepairOverlappingSegments(d.path.string(), &r);
    REQUIRE_MESSAGE(st.ok(), st.message());
    CHECK(Read(d.path / kCut) == cut);
    CHECK_FALSE(d.has(kOlder));
    CHECK(Read(d.path / (std::string("overlap-") + kOlder)) == d.older);
    CHECK_FALSE(d.has(std::string("trimming-") + kCut));
  }
}
