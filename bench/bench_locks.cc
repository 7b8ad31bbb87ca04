// Lock manager and concurrency benchmark (issue: lock manager and MVCC).
//
//   build/bench/parendb_bench_locks [--seconds S] [--rounds N] [--threads N] [--verbose 1]
//
//   --verbose 1  prints every round's figures, not only the medians
//   --threads N  runs only the update workload on N threads (for profiling)
//
//   lock      uncontended acquire+release of a document lock (with its
//             collection's intention lock), and of a whole-collection lock
//   scaling   disjoint one-document update transactions (in memory: logging
//             off) from 1 and 2 threads, one session each, and the ratio;
//             also 2 threads on two separate databases, which share nothing:
//             one database against two shows what sharing costs, apart from
//             what the machine gives a second thread
//
// This host's speed changes by 2x from second to second, so the rounds are
// short (0.2 s), alternate the three cases, and each ratio is the median of
// the rounds' own ratios. The time the hypervisor gave to other guests
// (steal, from /proc/stat) during the 2-thread rounds is printed beside it:
// a second thread cannot scale on a core the host takes away.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <condition_variable>
#include <string>
#include <thread>
#include <vector>

#include <parendb/parendb.h>

#include "engine/engine.h"
#include "lockmgr/lock_manager.h"

namespace {

using Clock = std::chrono::steady_clock;

// Nanoseconds per uncontended acquire+release of one transaction's locks:
// one document (its lock and its collection stripe's intention lock), or a
// whole collection (every stripe).
double LockNs(bool whole_collection, int rounds) {
  parendb::LockManager lm;
  parendb::LockManager::Txn txn(1);
  std::vector<parendb::LockTarget> t;
  auto no_wait = []() -> parendb::LockManager::Callback { return [](parendb::Status) {}; };
  parendb::Status why;
  parendb::ResourceId coll = parendb::CollectionResource("acc");
  auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    t.clear();
    if (whole_collection) {
      t.push_back({coll, parendb::LockMode::kShared, 0});
    } else {
      t.push_back({parendb::DocumentResource(coll, parendb::DocId::Int(i & 1023)), parendb::LockMode::kExclusive, coll});
    }
    if (lm.Acquire(&txn, t, std::chrono::milliseconds(1000), no_wait, &why) != parendb::LockManager::Outcome::kGranted) {
      std::fprintf(stderr, "unexpected wait\n");
      std::exit(1);
    }
    lm.Release(&txn);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / rounds;
}

// The machine's CPU time so far, in /proc/stat ticks: all of it, and what
// the hypervisor stole (ran other guests while ours wanted to run).
struct CpuTicks {
  double total = 0, steal = 0;
};
CpuTicks ReadCpuTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double v[8] = {};  // user nice system idle iowait irq softirq steal
  in >> cpu;
  for (double& x : v) in >> x;
  CpuTicks t;
  for (double x : v) t.total += x;
  t.steal = v[7];
  return t;
}

// Two long-lived workers, each with its own session, as a server's threads
// are. (Threads made afresh for every round soon exceed glibc's malloc
// arena limit and are handed arenas other threads used: their blocks then
// interleave on shared cache lines, which measures the allocator, not us.)
class Workers {
 public:
  // The second worker uses `other` in rounds run with separate = true.
  Workers(parendb::Database* db, parendb::Database* other, int n) : done_(n) {
    for (int t = 0; t < n; ++t) threads_.emplace_back([this, db, other, t] { Loop(db, other, t); });
  }
  ~Workers() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (auto& th : threads_) th.join();
  }

  // Disjoint one-document update transactions per second from `threads`
  // of the workers.
  double Run(int threads, double seconds, bool separate = false) {
    {
      std::lock_guard lock(mu_);
      active_ = threads;
      separate_ = separate;
      finished_ = 0;
      stop_ = false;
      ++generation_;
    }
    cv_.notify_all();
    auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop_ = true;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished_ == active_; });
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    long total = 0;
    for (int t = 0; t < threads; ++t) total += done_[t];
    return total / elapsed;
  }

 private:
  void Loop(parendb::Database* db, parendb::Database* other, int t) {
    auto mine = db->NewSession();
    auto theirs = other == nullptr ? nullptr : other->NewSession();
    uint64_t seen = 0;
    long n = 0;
    while (true) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (quit_) return;
        if (t >= active_) continue;
      }
      parendb::Session* s = (t == 1 && separate_ && theirs) ? theirs.get() : mine.get();
      long count = 0;
      while (!stop_.load(std::memory_order_relaxed)) {
        // Each worker has its own 1000 documents: no conflicts.
        int id = 1 + t * 1000 + static_cast<int>(n++ % 1000);
        std::string out = s->ExecuteText("(open t)(select a t wn (coll acc) (= (f _id) " + std::to_string(id) +
                                         "))(acquire t)(update a (f n) (+ (f n) 1))(commit t)");
        if (out.find("(ok committed)") == std::string::npos) {
          std::fprintf(stderr, "update failed: %s\n", out.c_str());
          std::exit(1);
        }
        ++count;
      }
      std::lock_guard lock(mu_);
      done_[t] = count;
      ++finished_;
      cv_.notify_all();
    }
  }

  std::vector<long> done_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  int active_ = 0;
  bool separate_ = false;
  int finished_ = 0;
  bool quit_ = false;
  std::atomic<bool> stop_{false};
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.2;
  int rounds = 15;
  int only_threads = 0;
  bool verbose = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) only_threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--verbose")) verbose = std::atoi(argv[i + 1]) != 0;
  }
  std::string error;
  auto load = [&] {
    auto db = parendb::Database::Open(parendb::Options{}, &error);
    auto s = db->NewSession();
    std::string text = "(mkcoll acc)(open t)(acquire t)";
    for (int i = 1; i <= 2000; ++i) text += "(create a" + std::to_string(i) + " t (coll acc)) {\"n\": 0}";
    s->ExecuteText(text + "(commit t)");
    return db;
  };
  auto db = load(), other = load();
  if (only_threads > 0) {
    Workers workers(db.get(), nullptr, only_threads);
    std::printf("updates  %d threads: %.0f txn/s\n", only_threads, workers.Run(only_threads, seconds));
    return 0;
  }
  double doc_ns = LockNs(false, 2000000), coll_ns = LockNs(true, 200000);
  std::printf("lock     uncontended acquire+release: %.0f ns per lock (a document: its lock and its collection's "
              "intention lock, %.0f ns together); whole collection: %.0f ns  (goal < 300 per lock)\n",
              doc_ns / 2, doc_ns, coll_ns);
  std::vector<double> ones, twos, apart, scaling, sharing;
  Workers workers(db.get(), other.get(), 2);
  CpuTicks two_threads;  // summed over the 2-thread rounds
  auto two = [&](bool separate) {
    CpuTicks before = ReadCpuTicks();
    double rate = workers.Run(2, seconds, separate);
    CpuTicks after = ReadCpuTicks();
    two_threads.total += after.total - before.total;
    two_threads.steal += after.steal - before.steal;
    return rate;
  };
  for (int round = 0; round < rounds; ++round) {
    ones.push_back(workers.Run(1, seconds));
    twos.push_back(two(false));
    apart.push_back(two(true));
    scaling.push_back(twos.back() / ones.back());
    sharing.push_back(twos.back() / apart.back());
    if (verbose) {
      std::printf("round %d: 1 thread %.0f txn/s, 2 threads %.0f txn/s, 2 threads on two databases %.0f txn/s\n",
                  round + 1, ones.back(), twos.back(), apart.back());
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("scaling  disjoint one-document updates, logging off, %d alternating rounds of %.1f s, medians: 1 thread "
              "%.0f txn/s, 2 threads %.0f txn/s; 2 threads / 1 thread: %.2fx  (goal >= 1.7x)\n",
              rounds, seconds, median(ones), median(twos), median(scaling));
  std::printf("sharing  2 threads on one database / on two separate databases: %.2f  (1.00: sharing costs nothing; "
              "two databases, 2 threads / 1 thread: %.2fx)\n",
              median(sharing), median(apart) / median(ones));
  if (two_threads.total > 0) {
    std::printf("host     CPU stolen by the hypervisor during the 2-thread rounds: %.0f%% of the machine\n",
                100 * two_threads.steal / two_threads.total);
  }
  return 0;
}
