// The write-ahead log and recovery: torn tails, damaged records and
// checkpoints, the directory lock, I/O failures.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "datadir/data_dir.h"
#include "test_util.h"
#include "wal/file.h"
#include "wal/log_format.h"
#include "wal/mem_file_system.h"

using namespace parendb;
using namespace parendb::test;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/parendb-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string str() const { return path.string(); }
};

std::unique_ptr<Database> OpenDir(const std::string& dir, std::string* error = nullptr, FileSystem* fsys = nullptr,
                                  bool checkpoint_on_close = false, bool direct_io = true) {
  Options o;
  o.data_dir = dir;
  o.log_direct_io = direct_io;
  o.checkpoint_on_close = checkpoint_on_close;
  std::string err;
  auto db = fsys ? Database::Open(o, fsys, &err) : Database::Open(o, &err);
  if (error) *error = err;
  return db;
}

// Commits transaction k: sets marker k in documents 1..3 of `m`.
std::string MarkerTxn(int k) {
  std::string v = std::to_string(k);
  return "(open t)(selects d t wn (coll m) (in (f _id) 1 2 3))(acquire t)(update d (f marker) " + v + ")(commit t)";
}

std::string Markers(Session& s) {
  return Lines(s, "(open q)(selects d q r (coll m) true)(acquire q)(read d (f marker))(close q)")[3];
}

void Setup(Session& s) {
  CHECK(Lines(s, "(mkcoll m)(open t)(acquire t)(create a t (coll m)) {\"marker\": 0}(create b t (coll m)) "
                 "{\"marker\": 0}(create c t (coll m)) {\"marker\": 0}(commit t)")
            .back() == "(ok committed)");
}

std::vector<fs::path> Segments(const std::string& dir) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("wal-", 0) == 0) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The newest checkpoint file's name, or "" when there is none.
std::string NewestCheckpoint(const std::string& dir) {
  std::string name;
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".ckpt") name = std::max(name, e.path().filename().string());
  }
  return name;
}

}  // namespace

TEST_SUITE("wal") {
  TEST_CASE("a log file written directly holds exactly what was synced, zeros after it, and is trimmed at close") {
    TempDir dir;
    std::string path = dir.str() + "/segment";
    FileSystem* disk = FileSystem::Default();
    std::unique_ptr<WritableFile> f;
    REQUIRE(disk->OpenWritable(path, false, &f, 1u << 16, /*direct=*/true).ok());
    // Pieces of every size around the 4 KiB block, synced after most, so
    // the partial last block is rewritten again and again.
    std::mt19937 rng(7);
    std::string synced, appended;
    for (int i = 0; i < 300; ++i) {
      size_t n = i % 60 == 0 ? 70000 + rng() % 9000 : rng() % 5000;
      std::string piece(n, '\0');
      for (char& c : piece) c = static_cast<char>(1 + rng() % 255);  // never zero: zeros mark the end
      REQUIRE(f->Append(piece).ok());
      appended += piece;
      CHECK(f->size() == appended.size());
      if (rng() % 4 == 0) continue;
      REQUIRE(f->Sync().ok());
      synced = appended;
      std::string got;
      REQUIRE(disk->ReadFile(path, &got).ok());
      REQUIRE(got.size() >= synced.size());
      CHECK(got.compare(0, synced.size(), synced) == 0);
      CHECK(got.find_first_not_of('\0', synced.size()) == std::string::npos);
    }
    REQUIRE(f->Append("tail").ok());
    REQUIRE(f->Close().ok());  // writes what is left and trims the zeros
    std::string got;
    REQUIRE(disk->ReadFile(path, &got).ok());
    CHECK(got == appended + "tail");

    // A commit larger than the buffer keeps between groups, then small ones.
    REQUIRE(disk->OpenWritable(path, false, &f, 1u << 16, true).ok());
    std::string huge(17u << 20, 'h');
    REQUIRE(f->Append("x").ok());
    REQUIRE(f->Append(huge).ok());
    REQUIRE(f->Sync().ok());
    REQUIRE(f->Append("after").ok());
    REQUIRE(f->Sync().ok());
    REQUIRE(f->Close().ok());
    REQUIRE(disk->ReadFile(path, &got).ok());
    CHECK(got == "x" + huge + "after");

    // Given up without Close (the log does so only after a failed write or
    // sync): what was not synced never reaches the file.
    REQUIRE(disk->OpenWritable(path, false, &f, 1u << 16, true).ok());
    REQUIRE(f->Append("kept").ok());
    REQUIRE(f->Sync().ok());
    REQUIRE(f->Append("dropped").ok());
    f.reset();
    REQUIRE(disk->ReadFile(path, &got).ok());
    CHECK(got.substr(0, 4) == "kept");
    CHECK(got.find_first_not_of('\0', 4) == std::string::npos);
  }

  TEST_CASE("the frame CRC is zlib's CRC-32, so logs written before stay readable") {
    // Known answers (zlib.crc32 in Python): the standard check value, and
    // 1200 bytes of a pattern whole and in two parts, at every split.
    CHECK(Crc32(0, "123456789") == 0xcbf43926u);
    CHECK(Crc32(0, "") == 0u);
    std::string pattern;
    for (int i = 0; i < 1200; ++i) pattern += static_cast<char>((i * 131 + 7) % 256);
    CHECK(Crc32(0, pattern) == 0xb8cfc5bdu);
    int splits_ok = 0;
    for (size_t at = 0; at <= pattern.size(); ++at) {
      std::string_view all(pattern);
      splits_ok += Crc32(Crc32(0, all.substr(0, at)), all.substr(at)) == 0xb8cfc5bdu;
    }
    CHECK(splits_ok == 1201);
  }

  TEST_CASE("frames: round trip, truncation and damage are told apart") {
    std::string data;
    AppendFileHeader(kWalMagic, 7, &data);
    AppendFrame(7, "hello", &data);
    AppendFrame(8, "world!", &data);
    uint64_t lsn;
    std::string_view payload;
    size_t next;
    REQUIRE(ReadFrame(data, kFileHeaderSize, &lsn, &payload, &next) == FrameStatus::kOk);
    CHECK(lsn == 7);
    CHECK(payload == "hello");
    REQUIRE(ReadFrame(data, next, &lsn, &payload, &next) == FrameStatus::kOk);
    CHECK(payload == "world!");
    CHECK(ReadFrame(data, next, &lsn, &payload, &next) == FrameStatus::kEnd);
    for (size_t cut = kFileHeaderSize + 1; cut < data.size(); ++cut) {
      std::string torn = data.substr(0, cut);
      size_t at = kFileHeaderSize;
      FrameStatus st;
      while ((st = ReadFrame(torn, at, &lsn, &payload, &next)) == FrameStatus::kOk) at = next;
      CHECK((st == FrameStatus::kTruncated || st == FrameStatus::kEnd));
    }
    std::string flipped = data;
    flipped[kFileHeaderSize + kFrameHeaderSize + 1] ^= 0x04;
    CHECK(ReadFrame(flipped, kFileHeaderSize, &lsn, &payload, &next) == FrameStatus::kCorrupt);
  }

  TEST_CASE("commits survive reopening, with and without a checkpoint") {
    for (bool direct : {true, false}) {  // the log written directly, or write() + fdatasync()
      CAPTURE(direct);
      TempDir dir;
      {
        auto db = OpenDir(dir.str(), nullptr, nullptr, false, direct);
        REQUIRE(db);
        auto s = db->NewSession();
        Setup(*s);
        for (int k = 1; k <= 5; ++k) CHECK(Lines(*s, MarkerTxn(k)).back() == "(ok committed)");
        CHECK(One(*s, "(stats)").find("\"wal_syncs\":7") != std::string::npos);
      }
      {
        auto db = OpenDir(dir.str());
        REQUIRE(db);
        auto s = db->NewSession();
        CHECK(Markers(*s) == R"([{"_id":1,"marker":5},{"_id":2,"marker":5},{"_id":3,"marker":5}])");
        CHECK(One(*s, "(checkpoint)") == "(ok checkpoint)");
        CHECK(Lines(*s, MarkerTxn(6)).back() == "(ok committed)");
        // Ids are never reused across a restart.
        CHECK(Lines(*s, "(open t)(acquire t)(create x t (coll m)) {}(readall x)(commit t)")[3] == R"({"_id":4})");
      }
      auto db = OpenDir(dir.str());
      REQUIRE(db);
      auto s = db->NewSession();
      CHECK(Markers(*s) == R"([{"_id":1,"marker":6},{"_id":2,"marker":6},{"_id":3,"marker":6},{"_id":4}])");
      CHECK(Lines(*s, "(open t)(acquire t)(create x t (coll m)) {}(readall x)(close t)")[3] == R"({"_id":5})");
    }
  }

  TEST_CASE("the log's writer and the checkpointer are named threads, as top -H and perf show them") {
    auto names = [] {
      std::vector<std::string> out;
      for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(t.path() / "comm");
        std::string name;
        std::getline(comm, name);
        out.push_back(name);
      }
      return out;
    };
    auto has = [](const std::vector<std::string>& v, const char* name) {
      return std::find(v.begin(), v.end(), name) != v.end();
    };
    TempDir dir;
    {
      auto db = OpenDir(dir.str());
      REQUIRE(db);
      auto running = names();
      CHECK(has(running, "parendb-wal"));
      CHECK(has(running, "parendb-ckpt"));
    }
    // and joined when it closes (tests run one at a time: no other is open).
    auto after = names();
    CHECK_FALSE(has(after, "parendb-wal"));
  }

  TEST_CASE("collections come back, dropped ones stay dropped") {
    TempDir dir;
    {
      auto db = OpenDir(dir.str());
      auto s = db->NewSession();
      CHECK(Lines(*s, "(mkcoll a)(mkcoll b)(mkcoll c)(rmcoll b)") ==
            std::vector<std::string>{"(ok mkcoll)", "(ok mkcoll)", "(ok mkcoll)", "(ok rmcoll)"});
    }
    auto db = OpenDir(dir.str());
    CHECK(One(*db->NewSession(), "(colls)") == R"(["a","c"])");
  }

  TEST_CASE("a torn tail is cut off at every byte offset of the last record") {
    TempDir base;
    {
      auto db = OpenDir(base.str());
      auto s = db->NewSession();
      Setup(*s);
      CHECK(Lines(*s, MarkerTxn(1)).back() == "(ok committed)");
      CHECK(Lines(*s, MarkerTxn(2)).back() == "(ok committed)");
    }
    auto segs = Segments(base.str());
    REQUIRE(segs.size() == 1);
    std::string full;
    REQUIRE(FileSystem::Default()->ReadFile(segs[0].string(), &full).ok());
    // Find where the last record starts.
    size_t at = kFileHeaderSize, last = at;
    uint64_t lsn;
    std::string_view payload;
    size_t next;
    while (ReadFrame(full, at, &lsn, &payload, &next) == FrameStatus::kOk) {
      last = at;
      at = next;
    }
    REQUIRE(at == full.size());
    for (size_t cut = last; cut < full.size(); ++cut) {
      TempDir dir;
      fs::copy_file(segs[0], dir.path / segs[0].filename());
      fs::resize_file(dir.path / segs[0].filename(), cut);
      std::string error;
      auto db = OpenDir(dir.str(), &error);
      REQUIRE_MESSAGE(db, error);
      CAPTURE(cut);
      // The torn commit (marker 2) is gone entirely; marker 1 is whole.
      CHECK(Markers(*db->NewSession()) == R"([{"_id":1,"marker":1},{"_id":2,"marker":1},{"_id":3,"marker":1}])");
    }
  }

  TEST_CASE("a segment whose creation was cut short holds nothing and is removed") {
    TempDir dir;
    {
      auto db = OpenDir(dir.str());
      auto s = db->NewSession();
      Setup(*s);
      Lines(*s, MarkerTxn(1));
    }
    // The next segment died after its zero fill, before its header.
    std::string zeros(1 << 20, '\0');
    std::ofstream(dir.path / "wal-00000000000000ff.log", std::ios::binary) << zeros;
    auto db = OpenDir(dir.str());
    REQUIRE(db);
    CHECK(Markers(*db->NewSession()) == R"([{"_id":1,"marker":1},{"_id":2,"marker":1},{"_id":3,"marker":1}])");
  }

  TEST_CASE("a flipped bit before the tail refuses to open, naming file and offset") {
    TempDir dir;
    {
      auto db = OpenDir(dir.str());
      auto s = db->NewSession();
      Setup(*s);
      for (int k = 1; k <= 3; ++k) Lines(*s, MarkerTxn(k));
    }
    auto segs = Segments(dir.str());
    REQUIRE(segs.size() == 1);
    std::string data;
    REQUIRE(FileSystem::Default()->ReadFile(segs[0].string(), &data).ok());
    size_t second = 0;
    {
      uint64_t lsn;
      std::string_view payload;
      size_t next;
      REQUIRE(ReadFrame(data, kFileHeaderSize, &lsn, &payload, &next) == FrameStatus::kOk);
      second = next;
    }
    data[second + kFrameHeaderSize + 3] ^= 0x10;  // inside the second record
    std::ofstream(segs[0], std::ios::binary | std::ios::trunc) << data;
    std::string error;
    CHECK_FALSE(OpenDir(dir.str(), &error));
    CHECK(error.find(segs[0].filename().string()) != std::string::npos);
    CHECK(error.find("offset " + std::to_string(second)) != std::string::npos);
    // The doctor explains it, and salvage keeps the valid prefix.
    std::string report;
    CHECK(RunDoctor(dir.str(), false, FileSystem::Default(), &report) == 1);
    CHECK(report.find("DAMAGED") != std::string::npos);
    report.clear();
    CHECK(RunDoctor(dir.str(), true, FileSystem::Default(), &report) == 0);
    CHECK(report.find("salvaged") != std::string::npos);
    auto db = OpenDir(dir.str(), &error);
    REQUIRE_MESSAGE(db, error);
    CHECK(One(*db->NewSession(), "(colls)") == R"(["m"])");
  }

  TEST_CASE("a damaged or missing checkpoint is refused, not silently skipped") {
    TempDir dir;
    {
      auto db = OpenDir(dir.str(), nullptr, nullptr, true);  // checkpoint at close
      auto s = db->NewSession();
      Setup(*s);
      Lines(*s, MarkerTxn(1));
      CHECK(One(*s, "(checkpoint)") == "(ok checkpoint)");
      Lines(*s, MarkerTxn(2));
    }
    fs::path ckpt;
    for (auto& e : fs::directory_iterator(dir.path)) {
      if (e.path().extension() == ".ckpt") ckpt = e.path();
    }
    REQUIRE(!ckpt.empty());
    std::string good;
    REQUIRE(FileSystem::Default()->ReadFile(ckpt.string(), &good).ok());
    std::string bad = good;
    bad[bad.size() / 2] ^= 0x01;
    std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << bad;
    std::string error;
    CHECK_FALSE(OpenDir(dir.str(), &error));
    CHECK(error.find(ckpt.filename().string()) != std::string::npos);
    // Without the checkpoint the log before it is gone: refuse, do not
    // open an empty database.
    fs::remove(ckpt);
    CHECK_FALSE(OpenDir(dir.str(), &error));
    CHECK(error.find("missing") != std::string::npos);
    std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << good;
    auto db = OpenDir(dir.str(), &error);
    REQUIRE_MESSAGE(db, error);
    CHECK(Markers(*db->NewSession()) == R"([{"_id":1,"marker":2},{"_id":2,"marker":2},{"_id":3,"marker":2}])");
  }

  TEST_CASE("a data directory in memory: segments, a checkpoint, reopening, and a torn tail") {
    MemFileSystem fs;
    Options o;
    o.data_dir = "/mem";
    o.log_segment_bytes = 1024;
    o.checkpoint_on_close = false;
    std::string error;
    auto db = Database::Open(o, &fs, &error);
    REQUIRE_MESSAGE(db, error);
    auto s = db->NewSession();
    s->Execute("(mkcoll c)");
    for (int i = 0; i < 30; ++i) {
      REQUIRE(Lines(*s, "(open t)(acquire t)(create d t (coll c)) {\"i\": " + std::to_string(i) + "}(commit t)").back() ==
              "(ok committed)");
      if (i == 10) CHECK(One(*s, "(checkpoint)").rfind("(ok checkpoint", 0) == 0);
    }
    s.reset();
    db.reset();
    auto files = fs.Files();
    size_t segments = 0, checkpoints = 0;
    for (const auto& [path, contents] : files) {
      segments += path.find("/wal-") != std::string::npos;
      checkpoints += path.find(".ckpt") != std::string::npos;
    }
    CHECK(segments > 1);
    CHECK(checkpoints == 1);
    // A torn tail: the newest segment cut mid-record. The commit in it is
    // lost, nothing before it.
    std::string newest = files.rbegin()->first;
    REQUIRE(newest.find("/wal-") != std::string::npos);
    REQUIRE(fs.Truncate(newest, files.rbegin()->second.size() - 3).ok());
    db = Database::Open(o, &fs, &error);
    REQUIRE_MESSAGE(db, error);
    s = db->NewSession();
    auto out = Lines(*s, "(open q)(selects a q r (coll c) true)(acquire q)(read a (f i))(close q)");
    CHECK(out[3].find("{\"_id\":29,\"i\":28}") != std::string::npos);
    CHECK(out[3].find("\"i\":29") == std::string::npos);
    CHECK(fs.ReadFile("/mem/none", &newest).code() == ErrorCode::kIo);
  }

  TEST_CASE("a second process cannot open the directory") {
    TempDir dir;
    auto db = OpenDir(dir.str());
    REQUIRE(db);
    pid_t child = fork();
    if (child == 0) {
      std::string error;
      Options o;
      o.data_dir = dir.str();
      auto other = Database::Open(o, &error);
      _exit(!other && error.find("in use by process " + std::to_string(getppid())) != std::string::npos ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  TEST_CASE("a failed write or sync fails the commit, applies nothing, and stops commits until restart") {
    for (const char* which : {"write", "sync", "full disk", "sync, written the ordinary way"}) {
      CAPTURE(which);
      TempDir dir;
      FaultyFileSystem faulty(FileSystem::Default());
      bool direct = std::string_view(which).find("ordinary") == std::string_view::npos;
      {
        auto db = OpenDir(dir.str(), nullptr, &faulty, false, direct);
        REQUIRE(db);
        auto s = db->NewSession();
        Setup(*s);
        CHECK(Lines(*s, MarkerTxn(1)).back() == "(ok committed)");
        if (std::string_view(which).starts_with("sync")) {
          faulty.ok_syncs = 0;
        } else {
          faulty.error = std::string(which) == "full disk" ? "No space left on device" : "injected I/O error";
          faulty.ok_writes = 0;
        }
        auto out = Lines(*s, MarkerTxn(2));
        CHECK(IsError(out.back(), "io"));
        CHECK(out.back().find("transaction t closed") != std::string::npos);
        if (std::string(which) == "full disk") CHECK(out.back().find("No space left on device") != std::string::npos);
        // Not applied; reads go on; commits are refused.
        CHECK(Markers(*s) == R"([{"_id":1,"marker":1},{"_id":2,"marker":1},{"_id":3,"marker":1}])");
        faulty.ok_writes = -1;
        faulty.ok_syncs = -1;
        CHECK(IsError(Lines(*s, MarkerTxn(3)).back(), "io"));
        CHECK(IsError(One(*s, "(mkcoll other)"), "io"));
      }
      // A restart recovers exactly the acknowledged commits.
      auto db = OpenDir(dir.str());
      REQUIRE(db);
      auto s = db->NewSession();
      CHECK(Markers(*s) == R"([{"_id":1,"marker":1},{"_id":2,"marker":1},{"_id":3,"marker":1}])");
      CHECK(Lines(*s, MarkerTxn(4)).back() == "(ok committed)");
    }
  }

  TEST_CASE("a checkpoint is written back a megabyte at a time and reopens whole") {
    TempDir dir;
    FaultyFileSystem counting(FileSystem::Default());  // fails nothing; counts WriteBehind
    std::string body(1000, 'y');
    {
      auto db = OpenDir(dir.str(), nullptr, &counting);
      REQUIRE(db);
      auto s = db->NewSession();
      std::string load = "(mkcoll big)(open t)(acquire t)";
      for (int i = 0; i < 3500; ++i) load += "(create d" + std::to_string(i) + " t (coll big)) {\"body\": \"" + body + "\"}";
      REQUIRE(Lines(*s, load + "(commit t)").back() == "(ok committed)");
      REQUIRE(One(*s, "(checkpoint)") == "(ok checkpoint)");
    }
    CHECK(counting.write_behinds.load() >= 3);  // ~3.5 MB in 1 MB appends
    std::string newest = NewestCheckpoint(dir.str());
    REQUIRE(!newest.empty());
    CHECK(fs::file_size(dir.str() + "/" + newest) > 3500000);
    for (const auto& segment : Segments(dir.str())) fs::remove(segment);  // only the checkpoint is left to read
    auto db = OpenDir(dir.str());
    REQUIRE(db);
    auto s = db->NewSession();
    auto out = Lines(*s, "(open q)(selects a q r (coll big) true)(acquire q)(read a (f _id))(close q)");
    CHECK(std::count(out[3].begin(), out[3].end(), '{') == 3500);
    CHECK(Lines(*s, "(open q)(select a q r (coll big) (= (f _id) 3500))(acquire q)(readall a)(close q)")[3] ==
          "{\"_id\":3500,\"body\":\"" + body + "\"}");
  }

  TEST_CASE("log growth triggers checkpoints that remove old segments") {
    TempDir dir;
    Options o;
    o.data_dir = dir.str();
    o.checkpoint_bytes = 4096;
    o.log_segment_bytes = 2048;
    o.checkpoint_on_close = false;
    std::string error;
    {
      auto db = Database::Open(o, &error);
      REQUIRE(db);
      auto s = db->NewSession();
      Setup(*s);
      // Far more log than checkpoint_bytes, in many segments: the growth
      // since the last checkpoint (not since the last segment) triggers
      // checkpoints in the background, which remove old segments.
      bool checkpointed = false;
      for (int k = 1; k <= 300; ++k) {
        REQUIRE(Lines(*s, MarkerTxn(k)).back() == "(ok committed)");
        if (!NewestCheckpoint(dir.str()).empty()) checkpointed = true;
      }
      CHECK(checkpointed);
      // (checkpoint) waits for one; then only the newest segments are left.
      CHECK(One(*s, "(checkpoint)") == "(ok checkpoint)");
      CHECK(Segments(dir.str()).size() <= 2);
    }
    auto db = Database::Open(o, &error);
    REQUIRE(db);
    CHECK(Markers(*db->NewSession()) == R"([{"_id":1,"marker":300},{"_id":2,"marker":300},{"_id":3,"marker":300}])");
  }

  TEST_CASE("every checkpoint is reported, and a failed one says why") {
    TempDir dir;
    FaultyFileSystem faulty(FileSystem::Default());
    std::mutex mu;
    std::vector<std::pair<bool, std::string>> reports;
    auto count = [&] {
      std::lock_guard lock(mu);
      return reports.size();
    };
    Options o;
    o.data_dir = dir.str();
    o.checkpoint_bytes = 4096;
    o.checkpoint_on_close = false;
    o.on_checkpoint = [&](bool ok, const std::string& message) {
      std::lock_guard lock(mu);
      reports.emplace_back(ok, message);
    };
    std::string error;
    auto db = Database::Open(o, &faulty, &error);
    REQUIRE(db);
    auto s = db->NewSession();
    Setup(*s);
    REQUIRE(One(*s, "(checkpoint)") == "(ok checkpoint)");
    REQUIRE(count() == 1);
    CHECK(reports[0].first);
    CHECK(reports[0].second.rfind("checkpoint checkpoint-", 0) == 0);
    CHECK(reports[0].second.find(": 3 documents, ") != std::string::npos);
    // Log growth: reported from the checkpoint thread.
    for (int k = 1; k <= 300 && count() < 2; ++k) REQUIRE(Lines(*s, MarkerTxn(k)).back() == "(ok committed)");
    REQUIRE(One(*s, "(checkpoint)") == "(ok checkpoint)");  // and waits for one in progress
    REQUIRE(count() >= 3);
    // A failed one: the statement fails, and the report says why.
    faulty.ok_syncs = 0;
    CHECK(IsError(One(*s, "(checkpoint)"), "io"));
    faulty.ok_syncs = -1;
    std::lock_guard lock(mu);  // (a background checkpoint may report after it, so search)
    auto failed = std::find_if(reports.begin(), reports.end(), [](const auto& r) { return !r.first; });
    REQUIRE(failed != reports.end());
    CHECK(failed->second.find("checkpoint failed") != std::string::npos);
    CHECK(failed->second.find("sync failed: injected I/O error") != std::string::npos);
  }

  TEST_CASE("a large database waits for as much log as its last checkpoint before the next") {
    TempDir dir;
    Options o;
    o.data_dir = dir.str();
    o.checkpoint_bytes = 4096;
    o.checkpoint_on_close = false;
    std::string error;
    auto db = Database::Open(o, &error);
    REQUIRE(db);
    auto s = db->NewSession();
    std::string body(1000, 'x');
    std::string load = "(mkcoll big)(open t)(acquire t)";
    for (int i = 0; i < 64; ++i) load += "(create d" + std::to_string(i) + " t (coll big)) {\"body\": \"" + body + "\"}";
    REQUIRE(Lines(*s, load + "(commit t)").back() == "(ok committed)");
    REQUIRE(One(*s, "(checkpoint)") == "(ok checkpoint)");
    auto newest = [&] { return NewestCheckpoint(dir.str()); };
    std::string first = newest();
    REQUIRE(!first.empty());
    REQUIRE(fs::file_size(dir.str() + "/" + first) > 64000);
    // ~20 KB of log: past checkpoint_bytes, short of the checkpoint's 64 KB.
    REQUIRE(Lines(*s, "(mkcoll small)(open t)(acquire t)(create a t (coll small)) {\"n\": 0}(commit t)").back() ==
            "(ok committed)");
    std::string update = "(open t)(select a t wn (coll small) (= (f _id) 1))(acquire t)(update a (f n) 1)(commit t)";
    for (int k = 0; k < 200; ++k) REQUIRE(Lines(*s, update).back() == "(ok committed)");
    CHECK(newest() == first);
    // Rewriting whole documents: well past 64 KB of log, so one comes.
    std::string rewrite = "(open t)(select a t wn (coll big) (= (f _id) 2))(acquire t)(updateall a) {\"body\": \"" + body +
                          "\"}(commit t)";
    bool checkpointed = false;
    for (int k = 0; k < 300 && !checkpointed; ++k) {
      REQUIRE(Lines(*s, rewrite).back() == "(ok committed)");
      checkpointed = newest() != first;
    }
    CHECK(checkpointed);
  }

  TEST_CASE("async sync mode acknowledges before the sync and still recovers after the process ends") {
    TempDir dir;
    Options o;
    o.data_dir = dir.str();
    o.sync_mode = "async";
    o.sync_interval_ms = 10000;
    o.checkpoint_on_close = false;
    std::string error;
    {
      auto db = Database::Open(o, &error);
      REQUIRE(db);
      auto s = db->NewSession();
      Setup(*s);
      for (int k = 1; k <= 20; ++k) CHECK(Lines(*s, MarkerTxn(k)).back() == "(ok committed)");
      CHECK(One(*s, "(stats)").find("\"wal_syncs\":0") != std::string::npos);
    }
    o.sync_mode = "full";
    auto db = Database::Open(o, &error);
    REQUIRE(db);
    CHECK(Markers(*db->NewSession()) == R"([{"_id":1,"marker":20},{"_id":2,"marker":20},{"_id":3,"marker":20}])");
    o.sync_mode = "sometimes";
    CHECK_FALSE(Database::Open(o, &error));
    CHECK(error.find("unknown sync mode") != std::string::npos);
  }
}
