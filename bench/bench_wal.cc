// Durability benchmark (issue: write-ahead log, group commit, recovery).
//
//   build/bench/parendb_bench_wal [--dir DIR] [--seconds S] [--docs N]
//
// In one run, on the filesystem of DIR (default ./bench-data):
//   sync     raw rate of 512-byte append + fdatasync, the ceiling for one committer
//   commit   one-document durable update transactions (sync mode full) from 1, 16
//            and 64 concurrent committers (threads, one session each, disjoint
//            documents): commits/s, p50/p99 latency, and commits per sync
//   recover  a database of N documents (~200 bytes) reopened from its
//            checkpoint, and the same documents replayed from the log alone
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <parendb/parendb.h>

#include "datadir/data_dir.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Config {
  std::string dir = "bench-data";
  double seconds = 3;
  int docs = 1000000;
  bool keep = false;  // leave DIR/recover for --replay-only
};

double RawSyncRate(const std::string& dir, double seconds) {
  std::string path = dir + "/raw-sync.bin";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  char block[512];
  std::memset(block, 'x', sizeof block);
  long n = 0;
  auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    if (::write(fd, block, sizeof block) != sizeof block || ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      std::exit(1);
    }
    ++n;
  }
  double rate = n / std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  fs::remove(path);
  return rate;
}

std::string Doc(int i) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"name\": \"user-%07d\", \"email\": \"user%07d@example.com\", \"age\": %d, \"n\": 0, "
                "\"balance\": %d, \"city\": \"Springfield\", \"tags\": [\"alpha\", \"beta\"], \"bio\": \"lorem ipsum\"}",
                i, i, 18 + i % 60, 1000 + i % 5000);
  return buf;
}

struct CommitResult {
  double per_sec, p50_us, p99_us, per_sync;
};

CommitResult Committers(const std::string& dir, int threads, double seconds) {
  fs::remove_all(dir);
  parendb::Options o;
  o.data_dir = dir;
  o.checkpoint_on_close = false;
  std::string error;
  auto db = parendb::Database::Open(o, &error);
  if (!db) {
    std::fprintf(stderr, "open: %s\n", error.c_str());
    std::exit(1);
  }
  {
    auto s = db->NewSession();
    std::string load = "(mkcoll acc)(open t)(acquire t)";
    for (int i = 1; i <= threads; ++i) load += "(create a" + std::to_string(i) + " t (coll acc)) " + Doc(i);
    load += "(commit t)";
    s->Execute(load);
  }
  auto syncs_before = db->NewSession()->ExecuteText("(stats)");
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto s = db->NewSession();
      std::string txn = "(open t)(select a t wn (coll acc) (= (f _id) " + std::to_string(t + 1) +
                        "))(acquire t)(update a (f n) (+ (f n) 1))(commit t)";
      while (!stop.load(std::memory_order_relaxed)) {
        auto begin = Clock::now();
        std::string out = s->ExecuteText(txn);
        lat[t].push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
        if (out.find("(ok committed)") == std::string::npos) {
          std::fprintf(stderr, "commit failed: %s\n", out.c_str());
          std::exit(1);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto stat = [&](const std::string& text, const char* key) {
    size_t p = text.find(std::string("\"") + key + "\":");
    return std::atof(text.c_str() + p + std::strlen(key) + 3);
  };
  std::string after = db->NewSession()->ExecuteText("(stats)");
  double syncs = stat(after, "wal_syncs") - stat(syncs_before, "wal_syncs");
  CommitResult r;
  r.per_sec = all.size() / seconds;
  r.p50_us = all[all.size() / 2];
  r.p99_us = all[all.size() * 99 / 100];
  r.per_sync = syncs > 0 ? all.size() / syncs : 0;
  return r;
}

void Recovery(const std::string& dir, int docs, bool keep) {
  fs::remove_all(dir);
  parendb::Options o;
  o.data_dir = dir;
  o.sync_mode = "async";  // loading speed is not what is measured here
  o.checkpoint_bytes = uint64_t{1} << 40;
  o.log_segment_bytes = 256u << 20;
  o.checkpoint_on_close = false;
  std::string error;
  uint64_t doc_bytes = 0;
  {
    auto db = parendb::Database::Open(o, &error);
    auto s = db->NewSession();
    s->Execute("(mkcoll docs)");
    std::string batch;
    auto start = Clock::now();
    for (int i = 1; i <= docs; ++i) {
      if (batch.empty()) batch = "(open t)(acquire t)";
      std::string d = Doc(i);
      doc_bytes += d.size();
      batch += "(create d" + std::to_string(i % 1000) + " t (coll docs)) " + d;
      if (i % 1000 == 0 || i == docs) {
        batch += "(commit t)";
        std::string out = s->ExecuteText(batch);
        if (out.find("(error") != std::string::npos) {
          std::fprintf(stderr, "load: %s\n", out.substr(out.find("(error"), 200).c_str());
          std::exit(1);
        }
        batch.clear();
      }
      if (i % 250000 == 0) {
        std::fprintf(stderr, "  loaded %d documents (%.1f s)\n", i,
                     std::chrono::duration<double>(Clock::now() - start).count());
      }
    }
  }
  // Replay from the log alone.
  parendb::DataDirOptions d;
  d.dir = dir;
  d.checkpoint_on_close = false;
  parendb::RecoveryReport report;
  {
    std::unique_ptr<parendb::DataDir> dd;
    parendb::Status st = parendb::DataDir::Open(d, &dd, &report);
    if (!st.ok()) {
      std::fprintf(stderr, "replay: %s\n", st.message().c_str());
      std::exit(1);
    }
    std::printf("replay   %d documents, %.0f MB of log in %.2f s: %.0f MB/s (goal > 200)\n", docs,
                report.bytes_replayed / 1e6, report.seconds, report.bytes_replayed / 1e6 / report.seconds);
    if (keep) return;
    st = dd->Checkpoint();
    if (!st.ok()) std::exit(1);
  }
  parendb::RecoveryReport again;
  std::unique_ptr<parendb::DataDir> dd;
  parendb::Status st = parendb::DataDir::Open(d, &dd, &again);
  if (!st.ok()) std::exit(1);
  std::printf("reopen   %d documents (%.0f MB of JSON) from a checkpoint in %.2f s (goal < 3)\n", docs, doc_bytes / 1e6,
              again.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dir")) c.dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--seconds")) c.seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--docs")) c.docs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--replay-only")) {
      // Times recovery of an existing directory (for profiling).
      parendb::DataDirOptions d;
      d.dir = argv[i + 1];
      d.checkpoint_on_close = false;
      parendb::RecoveryReport r;
      std::unique_ptr<parendb::DataDir> dd;
      parendb::Status st = parendb::DataDir::Open(d, &dd, &r);
      std::printf("%s: %.0f MB replayed in %.2f s\n", st.ok() ? "ok" : st.message().c_str(), r.bytes_replayed / 1e6,
                  r.seconds);
      return st.ok() ? 0 : 1;
    }
    if (!std::strcmp(argv[i], "--keep")) c.keep = true;
  }
  fs::create_directories(c.dir);
  std::printf("ParenDB durability benchmark in %s (%.0f s per measurement)\n", fs::absolute(c.dir).c_str(), c.seconds);
  double raw = RawSyncRate(c.dir, c.seconds);
  std::printf("sync     raw 512-byte append+fdatasync: %.0f/s\n", raw);
  std::printf("%-8s %12s %10s %10s %12s %10s\n", "commit", "commits/s", "p50 us", "p99 us", "per sync", "x raw");
  for (int threads : {1, 16, 64}) {
    CommitResult r = Committers(c.dir + "/commit", threads, c.seconds);
    std::printf("%4d thr %12.0f %10.0f %10.0f %12.1f %9.2fx\n", threads, r.per_sec, r.p50_us, r.p99_us, r.per_sync,
                r.per_sec / raw);
  }
  std::printf("goals: 1 committer >= 0.8x raw, 64 committers >= 10x raw\n");
  Recovery(c.dir + "/recover", c.docs, c.keep);
  if (!c.keep) fs::remove_all(c.dir);
  return 0;
}
