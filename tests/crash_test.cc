// Crash test: a child process commits transactions, each writing the same
// marker into five documents and appending one document, and reports every
// (ok committed) through a pipe. The parent kills it with SIGKILL at random
// moments, reopens the directory, and checks that every acknowledged
// transaction is there and none is there in part.
//
// PARENDB_CRASH_ITERATIONS sets the number of kills (default 40; try 1000
// for a soak: PARENDB_CRASH_ITERATIONS=1000 build/tests/parendb_tests -ts=crash).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "datadir/data_dir.h"
#include "test_util.h"
#include "wal/file.h"

using namespace parendb;
using namespace parendb::test;

namespace {

[[noreturn]] void ChildLoop(const std::string& dir, int64_t first, int fd, FileSystem* fs = FileSystem::Default()) {
  Options o;
  o.data_dir = dir;
  o.checkpoint_bytes = 64 << 10;  // checkpoints happen during the test too
  o.log_segment_bytes = 16 << 10;
  std::string error;
  auto db = Database::Open(o, fs, &error);
  if (!db) _exit(3);
  auto s = db->NewSession();
  s->Execute("(mkcoll m)(mkcoll log)");
  auto seeded = s->Execute("(open t)(selects d t r (coll m) true)(acquire t)(readall d)(close t)");
  if (seeded.size() == 5 && seeded[3].text() == "[]") {
    std::string create = "(open t)(acquire t)";
    for (int i = 1; i <= 5; ++i) create += "(create d" + std::to_string(i) + " t (coll m)) {\"marker\": 0}";
    create += "(commit t)";
    if (s->Execute(create).back().text() != "(ok committed)") _exit(4);
  }
  for (int64_t k = first;; ++k) {
    std::string v = std::to_string(k);
    auto out = s->Execute("(open t)(selects d t wn (coll m) true)(acquire t)(update d (f marker) " + v +
                          ")(create e t (coll log)) {\"k\": " + v + "}(commit t)");
    if (out.back().text() != "(ok committed)") _exit(5);
    if (write(fd, &k, sizeof k) != sizeof k) _exit(6);
  }
}

// For the index case: each transaction creates {k: K, g: K % 7} and, found
// through the unique index on k, moves K-1's g to K (a key change in the
// index on g). Checkpoints and segment rotation happen along the way.
[[noreturn]] void IndexChildLoop(const std::string& dir, int64_t first, int fd) {
  Options o;
  o.data_dir = dir;
  o.checkpoint_bytes = 32 << 10;
  o.log_segment_bytes = 16 << 10;
  std::string error;
  auto db = Database::Open(o, &error);
  if (!db) _exit(3);
  auto s = db->NewSession();
  s->Execute("(mkcoll ix)(mkindex ix (f k) unique)(mkindex ix (f g))");
  for (int64_t k = first;; ++k) {
    std::string v = std::to_string(k);
    auto out = s->Execute("(open t)(select p t wn (coll ix) (= (f k) " + std::to_string(k - 1) +
                          "))(acquire t)(update p (f g) " + v + ")(create e t (coll ix)) {\"k\": " + v +
                          ", \"g\": " + std::to_string(k % 7) + "}(commit t)");
    if (out.back().text() != "(ok committed)") _exit(5);
    if (write(fd, &k, sizeof k) != sizeof k) _exit(6);
  }
}

// Where a checkpoint or a log rotation can be interrupted: each is a file
// operation, just done.
enum class KillPoint {
  kCheckpointCreated,   // the checkpoint's .tmp file exists, empty
  kCheckpointWritten,   // some of its bytes appended, not synced
  kCheckpointSynced,    // complete and synced, not yet renamed
  kCheckpointRenamed,   // renamed, the directory not yet synced
  kObsoleteRemoved,     // the first file the checkpoint made obsolete removed
  kSegmentCreated,      // a new log segment exists (preallocated), no header
  kSegmentHeader,       // its header appended, not synced
  kSegmentFirstRecord,  // its first records appended, not synced
  kCount
};
const char* const kKillPointNames[] = {"checkpoint created", "checkpoint partly written", "checkpoint synced",
                                       "checkpoint renamed", "obsolete file removed", "segment created",
                                       "segment header written", "segment's first records written"};

// The child's file system: when the chosen operation has happened for the
// `nth` time, it tells the parent (-1 on the ack pipe) and stops the thread
// that did it for good, so the SIGKILL lands right there.
class KillPointFileSystem : public FileSystem {
 public:
  KillPointFileSystem(KillPoint point, int nth, int fd) : point_(point), left_(nth), fd_(fd) {}

  static bool IsCheckpointTmp(const std::string& path) { return path.size() > 9 && path.compare(path.size() - 9, 9, ".ckpt.tmp") == 0; }
  static bool IsSegment(const std::string& path) { return path.find("/wal-") != std::string::npos; }

  void Reached(KillPoint p) {
    if (p != point_ || left_.fetch_sub(1) != 1) return;
    int64_t sentinel = -1;
    if (write(fd_, &sentinel, sizeof sentinel) != sizeof sentinel) _exit(7);
    for (;;) pause();
  }

  Status OpenWritable(const std::string& path, bool append, std::unique_ptr<WritableFile>* out,
                      size_t preallocate = 0, bool direct = false) override;
  Status ReadFile(const std::string& path, std::string* out) override { return base_->ReadFile(path, out); }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override { return base_->ListDir(dir, names); }
  Status Rename(const std::string& from, const std::string& to) override {
    Status st = base_->Rename(from, to);
    if (st.ok() && IsCheckpointTmp(from)) Reached(KillPoint::kCheckpointRenamed);
    return st;
  }
  Status Remove(const std::string& path) override {
    Status st = base_->Remove(path);
    if (st.ok() && !IsCheckpointTmp(path)) Reached(KillPoint::kObsoleteRemoved);
    return st;
  }
  Status Truncate(const std::string& path, uint64_t size) override { return base_->Truncate(path, size); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Status MakeDir(const std::string& dir) override { return base_->MakeDir(dir); }
  Status LockDir(const std::string& dir, std::unique_ptr<DirLock>* out) override { return base_->LockDir(dir, out); }

 private:
  FileSystem* base_ = FileSystem::Default();
  const KillPoint point_;
  std::atomic<int> left_;
  const int fd_;
  bool opened_first_segment_ = false;  // the segment made at open is not a rotation
};

class KillPointFile : public WritableFile {
 public:
  KillPointFile(KillPointFileSystem* fs, std::unique_ptr<WritableFile> base, bool checkpoint, bool segment)
      : fs_(fs), base_(std::move(base)), checkpoint_(checkpoint), segment_(segment) {}
  Status Append(std::string_view data) override {
    Status st = base_->Append(data);
    if (!st.ok()) return st;
    if (checkpoint_) fs_->Reached(KillPoint::kCheckpointWritten);
    if (segment_ && appends_++ == 0) fs_->Reached(KillPoint::kSegmentHeader);
    if (segment_ && appends_ == 2) fs_->Reached(KillPoint::kSegmentFirstRecord);
    return st;
  }
  Status Sync() override {
    Status st = base_->Sync();
    if (st.ok() && checkpoint_) fs_->Reached(KillPoint::kCheckpointSynced);
    return st;
  }
  Status WriteBehind() override { return base_->WriteBehind(); }
  Status Close() override { return base_->Close(); }
  uint64_t size() const override { return base_->size(); }

 private:
  KillPointFileSystem* fs_;
  std::unique_ptr<WritableFile> base_;
  const bool checkpoint_, segment_;
  int appends_ = 0;
};

Status KillPointFileSystem::OpenWritable(const std::string& path, bool append, std::unique_ptr<WritableFile>* out,
                                         size_t preallocate, bool direct) {
  std::unique_ptr<WritableFile> base;
  Status st = base_->OpenWritable(path, append, &base, preallocate, direct);
  if (!st.ok()) return st;
  bool checkpoint = IsCheckpointTmp(path);
  // Only segments made by a rotation: the one made at open is not one.
  bool rotation = IsSegment(path) && std::exchange(opened_first_segment_, true);
  *out = std::make_unique<KillPointFile>(this, std::move(base), checkpoint, rotation);
  if (checkpoint) Reached(KillPoint::kCheckpointCreated);
  if (rotation) Reached(KillPoint::kSegmentCreated);
  return st;
}

// Runs child(first, fd) in a process, kills it after a random while, and
// returns the last K it acknowledged.
// With reached set: waits (up to 60 s) for the child to stop at its kill
// point (-1 on the pipe) instead, and says whether it did.
template <typename Child>
int64_t RunAndKill(Child child_loop, int64_t last_acked, std::mt19937* rng, bool* reached = nullptr) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    child_loop(last_acked + 1, fds[1]);
  }
  close(fds[1]);
  // One kill in four lands at a random moment from the start (while the
  // child opens and recovers, too); the others once the child has
  // committed something — within 2 s, so a slow build (the sanitizers)
  // still commits — and a random while after.
  int64_t acked = last_acked;
  bool at_point = false;
  auto read_acks = [&](int timeout_ms) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, timeout_ms) > 0) {
      int64_t k;
      if (read(fds[0], &k, sizeof k) == sizeof k) {
        if (k < 0) {
          at_point = true;
        } else {
          acked = k;
        }
      }
    }
  };
  if (reached != nullptr) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!at_point && std::chrono::steady_clock::now() < give_up) read_acks(10);
    *reached = at_point;
  } else if ((*rng)() % 4 != 0) {
    auto first_ack = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (acked == last_acked && std::chrono::steady_clock::now() < first_ack) read_acks(10);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(5 + (*rng)() % 60);
  while (reached == nullptr && std::chrono::steady_clock::now() < deadline) read_acks(2);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE_MESSAGE(WIFSIGNALED(status), "child exited on its own with " << WEXITSTATUS(status));
  int64_t k;
  while (read(fds[0], &k, sizeof k) == sizeof k) {  // acks already in the pipe count
    if (k >= 0) acked = k;
  }
  close(fds[0]);
  return acked;
}

// Opens what a killed child left, as recovery would, without a checkpoint
// at close (so the next child recovers from the log as well).
std::unique_ptr<Database> Reopen(const std::string& dir) {
  Options o;
  o.data_dir = dir;
  o.checkpoint_on_close = false;
  std::string error;
  auto db = Database::Open(o, &error);
  REQUIRE_MESSAGE(db, error);
  return db;
}

// Reopens what the marker child left and checks it: no partial transaction
// (all five markers equal), every acknowledged commit there and at most one
// more, the appended documents matching. Returns the marker found.
int64_t CheckMarkers(const std::string& dir, int64_t acked, int64_t last_acked) {
  auto db = Reopen(dir);
  auto s = db->NewSession();
  auto markers = Lines(*s, "(open q)(selects d q r (coll m) true)(acquire q)(read d (f marker))(close q)");
  REQUIRE(markers.size() == 5);
  if (markers[1].rfind("(error unknown-collection", 0) == 0 || markers[3] == "[]") {
    // Killed before the collections or the seed were committed.
    CHECK(acked == last_acked);
    return last_acked;
  }
  // All five documents carry the same marker: no partial transaction.
  const std::string& m = markers[3];
  size_t p = m.find("\"marker\":");
  REQUIRE(p != std::string::npos);
  int64_t marker = std::stoll(m.substr(p + 9));
  std::string one = "\"marker\":" + std::to_string(marker) + "}";
  size_t count = 0;
  for (size_t q = 0; (q = m.find(one, q)) != std::string::npos; ++q) ++count;
  CHECK_MESSAGE(count == 5, m);
  // Every acknowledged commit is there; at most one unacknowledged more.
  CHECK(marker >= acked);
  CHECK(marker <= acked + 1);
  // The appended documents match the marker exactly (no gap, no extra).
  auto logs = Lines(*s, "(open q)(selects e q r (coll log) true)(acquire q)(read e)(close q)");
  size_t docs = 0;
  for (size_t q = 0; (q = logs[3].find("\"_id\"", q)) != std::string::npos; ++q) ++docs;
  CHECK(static_cast<int64_t>(docs) == marker);
  // What doctor says agrees: the directory opens.
  s.reset();
  db.reset();
  std::string report;
  CHECK_MESSAGE(RunDoctor(dir, false, FileSystem::Default(), &report) == 0, report);
  return marker;
}

}  // namespace

TEST_SUITE("crash") {
  TEST_CASE("SIGKILL keeps index definitions and contents: index answers equal scan answers") {
    int iterations = 12;
    if (const char* env = std::getenv("PARENDB_CRASH_ITERATIONS")) iterations = std::atoi(env);
    char tmpl[] = "/tmp/parendb-crash-ix-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::mt19937 rng(20261204);
    int64_t last = 0;
    for (int it = 0; it < iterations; ++it) {
      int64_t acked = RunAndKill([&](int64_t first, int fd) { IndexChildLoop(dir, first, fd); }, last, &rng);
      auto db = Reopen(dir);
      auto s = db->NewSession();
      auto idx = Lines(*s, "(indexes ix)");
      if (IsError(idx[0], "unknown-collection")) continue;
      auto query = [&](const std::string& cond) {
        return Lines(*s, "(open q)(selects a q r (coll ix) " + cond + ")(acquire q)(readall a)(explain a)(close q)");
      };
      // Through the indexes, and by scans that no index answers.
      auto by_k = query("(>= (f k) 0)");
      auto scan_k = query("(>= (+ (f k) 0) 0)");
      REQUIRE(by_k.size() == 6);
      if (idx[0] == "[]" || idx[0].find("\"g\"") == std::string::npos) {
        CHECK(by_k[3] == "[]");  // killed before the indexes were made
        continue;
      }
      CHECK(by_k[4].find("\"access\":\"index\"") != std::string::npos);
      CHECK(by_k[3] == scan_k[3]);
      auto by_g = query("(< (f g) 1000000)");
      auto scan_g = query("(< (+ (f g) 0) 1000000)");
      CHECK(by_g[3] == scan_g[3]);
      auto ordered = Lines(*s, "(open q)(selects a q r (coll ix) true (order (f k) desc) (limit 1))(acquire q)(read a (f k))(close q)");
      // Every acknowledged commit is there; at most one more.
      int64_t newest = 0;
      size_t p = ordered[3].find("\"k\":");
      if (p != std::string::npos) newest = std::stoll(ordered[3].substr(p + 4));
      CHECK(newest >= acked);
      CHECK(newest <= acked + 1);
      size_t docs = 0;
      for (size_t q = 0; (q = by_k[3].find("\"_id\"", q)) != std::string::npos; ++q) ++docs;
      CHECK(static_cast<int64_t>(docs) == newest);
      last = newest;
    }
    std::filesystem::remove_all(dir);
    MESSAGE("index crash test: " << iterations << " kills, " << last << " commits");
    CHECK(last > 0);
  }

  TEST_CASE("SIGKILL at random moments loses no acknowledged commit and shows no partial one") {
    int iterations = 40;
    if (const char* env = std::getenv("PARENDB_CRASH_ITERATIONS")) iterations = std::atoi(env);
    char tmpl[] = "/tmp/parendb-crash-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::mt19937 rng(20261121);
    int64_t last_acked = 0, commits_seen = 0;
    for (int it = 0; it < iterations; ++it) {
      int64_t acked = RunAndKill([&](int64_t first, int fd) { ChildLoop(dir, first, fd); }, last_acked, &rng);
      commits_seen += acked - last_acked;

      last_acked = CheckMarkers(dir, acked, last_acked);
    }
    std::filesystem::remove_all(dir);
    MESSAGE("crash test: " << iterations << " kills, " << commits_seen << " acknowledged commits checked");
    CHECK(commits_seen > 0);
  }

  TEST_CASE("SIGKILL in the middle of a checkpoint or a log segment rotation loses nothing acknowledged") {
    // Each file operation of a checkpoint and of a rotation, just done, is
    // where the child stops and is killed (the second or third time it
    // comes, too); then the directory is reopened and checked as above.
    int rounds = 2;
    if (const char* env = std::getenv("PARENDB_CRASH_ITERATIONS")) rounds = std::max(1, std::atoi(env) / 20);
    char tmpl[] = "/tmp/parendb-crash-points-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::mt19937 rng(20261205);
    int64_t last_acked = 0;
    for (int round = 0; round < rounds; ++round) {
      for (int p = 0; p < static_cast<int>(KillPoint::kCount); ++p) {
        KillPoint point = static_cast<KillPoint>(p);
        int nth = 1 + static_cast<int>(rng() % 3);
        CAPTURE(kKillPointNames[p]);
        CAPTURE(nth);
        bool reached = false;
        int64_t acked = RunAndKill(
            [&](int64_t first, int fd) {
              KillPointFileSystem fs(point, nth, fd);
              ChildLoop(dir, first, fd, &fs);
            },
            last_acked, &rng, &reached);
        CHECK(reached);
        last_acked = CheckMarkers(dir, acked, last_acked);
      }
    }
    std::filesystem::remove_all(dir);
    MESSAGE("kill points: " << rounds * static_cast<int>(KillPoint::kCount) << " kills, " << last_acked << " commits");
    CHECK(last_acked > 0);
  }
}
