// Secondary indexes in one process (issue: indexes): N documents of about
// 200 bytes in an in-memory database; a point select by an indexed field
// against the same select without the index, a 20-document range read, and
// what building the index costs in time and memory.
//
//   build/bench/parendb_bench_index [--docs N] [--scans N] [--ops N]
//
// Every query is a whole read-only transaction through the embedded API:
//   (open q)(select a q r (coll users) (= (f email) "userK@example.com"))(acquire q)(readall a)(close q)
// Without the index it scans every document; with it, it reads one entry.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <parendb/parendb.h>

namespace {

using Clock = std::chrono::steady_clock;

std::string MakeDoc(int i) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"name\": \"user-%07d\", \"email\": \"user%07d@example.com\", \"rank\": %d, \"age\": %d, "
                "\"balance\": %d, \"city\": \"Springfield\", \"tags\": [\"alpha\", \"beta\"], "
                "\"bio\": \"lorem ipsum dolor sit amet, consectetur\"}",
                i, i, i, 18 + i % 60, 1000 + i % 5000);
  return buf;
}

double ResidentMb() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return static_cast<double>(resident) * 4096 / 1e6;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "parendb_bench_index: %s\n", what.c_str());
  std::exit(1);
}

std::string Email(int k) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"user%07d@example.com\"", k);
  return buf;
}

// Seconds per transaction over n runs of make(i).
template <typename Make>
double PerTxn(parendb::Session& s, int n, Make make, size_t want_line, const std::string& want_prefix) {
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto out = s.Execute(make(i));
    if (out.size() <= want_line || out[want_line].text().rfind(want_prefix, 0) != 0) {
      Die("unexpected answer: " + (out.size() > want_line ? out[want_line].text() : std::string("(none)")));
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  int docs = 1000000, scans = 5, ops = 100000;
  std::string only;  // "transfer-email" or "transfer-id": that loop alone, for profiling
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--docs" && i + 1 < argc) {
      docs = std::atoi(argv[++i]);
    } else if (a == "--scans" && i + 1 < argc) {
      scans = std::atoi(argv[++i]);
    } else if (a == "--ops" && i + 1 < argc) {
      ops = std::atoi(argv[++i]);
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::printf("usage: parendb_bench_index [--docs N] [--scans N] [--ops N] [--only transfer-email|transfer-id]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  std::string error;
  auto db = parendb::Database::Open(parendb::Options{}, &error);
  if (!db) Die(error);
  auto s = db->NewSession();
  s->Execute("(mkcoll users)");
  double rss0 = ResidentMb();
  auto load_start = Clock::now();
  size_t json_bytes = 0;
  for (int base = 0; base < docs; base += 1000) {
    std::string t = "(open t)(acquire t)";
    for (int i = base; i < std::min(docs, base + 1000); ++i) {
      std::string d = MakeDoc(i);
      json_bytes += d.size();
      t += "(create c" + std::to_string(i - base) + " t (coll users)) " + d;
    }
    t += "(commit t)";
    auto out = s->Execute(t);
    if (out.back().text() != "(ok committed)") Die("load: " + out.back().text());
  }
  double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
  double rss_loaded = ResidentMb();
  std::printf("documents            %d (%.0f bytes of JSON each), loaded in %.1f s, resident %.0f MB\n", docs,
              static_cast<double>(json_bytes) / docs, load_s, rss_loaded - rss0);

  std::mt19937 rng(42);
  // The transfer, one account pair per transaction, by _id and by the
  // unique email (in memory: the CPU of the statements, no sync).
  auto transfer = [&](bool by_email) {
    return [&, by_email](int) {
      int a = static_cast<int>(rng() % docs), b = static_cast<int>(rng() % docs);
      auto sel = [&](const char* name, int k) {
        return std::string("(select ") + name + " t wn (coll users) " +
               (by_email ? "(= (f email) " + Email(k) + ")" : "(= (f _id) " + std::to_string(k + 1) + ")") + ")";
      };
      return "(open t)" + sel("a", a) + sel("b", b) +
             "(acquire t)(check a (>= (f balance) 5))(update a (f balance) (- (f balance) 5))"
             "(update b (f balance) (+ (f balance) 5))(commit t)";
    };
  };
  if (!only.empty()) {
    // Profiling: the indexes, then one transfer loop alone.
    s->Execute("(mkindex users (f email) unique)(mkindex users (f rank))");
    double t = PerTxn(*s, ops, transfer(only == "transfer-email"), 7, "(ok committed)");
    std::printf("%s %.3f us per transaction\n", only.c_str(), t * 1e6);
    return 0;
  }
  auto point = [&](int) {
    return "(open q)(select a q r (coll users) (= (f email) " + Email(static_cast<int>(rng() % docs)) +
           "))(acquire q)(readall a)(close q)";
  };
  double scan_s = PerTxn(*s, scans, point, 3, "{\"_id\":");
  std::printf("select by email, no index   %12.3f ms per transaction (%d runs)\n", scan_s * 1e3, scans);

  double rss_before_index = ResidentMb();
  auto build_start = Clock::now();
  auto built = s->Execute("(mkindex users (f email) unique)");
  double build_s = std::chrono::duration<double>(Clock::now() - build_start).count();
  if (built[0].text() != "(ok mkindex)") Die("mkindex: " + built[0].text());
  double rss_index = ResidentMb();
  std::printf("mkindex (f email) unique    %12.2f s; resident +%.0f MB = %.0f bytes per entry\n", build_s,
              rss_index - rss_before_index, (rss_index - rss_before_index) * 1e6 / docs);

  double index_s = PerTxn(*s, ops, point, 3, "{\"_id\":");
  std::printf("select by email, index      %12.3f us per transaction (%d runs)\n", index_s * 1e6, ops);
  std::printf("speed-up                    %12.0fx\n", scan_s / index_s);

  auto b2 = s->Execute("(mkindex users (f rank))");
  if (b2[0].text() != "(ok mkindex)") Die("mkindex rank: " + b2[0].text());
  auto range = [&](int) {
    int lo = static_cast<int>(rng() % (docs - 20));
    return "(open q)(selects a q r (coll users) (& (>= (f rank) " + std::to_string(lo) + ") (< (f rank) " +
           std::to_string(lo + 20) + ")))(acquire q)(readall a)(close q)";
  };
  double range_s = PerTxn(*s, ops / 10, range, 3, "[{\"_id\":");
  std::printf("range read of 20 (rank)     %12.3f us per transaction (%d runs)\n", range_s * 1e6, ops / 10);
  auto top = [&](int) {
    return std::string("(open q)(selects a q r (coll users) true (order (f rank) desc) (limit 20))(acquire q)(readall a)(close q)");
  };
  double top_s = PerTxn(*s, ops / 10, top, 3, "[{\"_id\":");
  std::printf("top 20 by rank (order+limit)%12.3f us per transaction (%d runs)\n", top_s * 1e6, ops / 10);
  double by_id_s = 0, by_email_s = 0;
  for (int round = 0; round < 3; ++round) {  // alternating, against noise
    by_id_s += PerTxn(*s, ops / 10, transfer(false), 7, "(ok committed)");
    by_email_s += PerTxn(*s, ops / 10, transfer(true), 7, "(ok committed)");
  }
  std::printf("transfer by _id             %12.3f us per transaction\n", by_id_s / 3 * 1e6);
  std::printf("transfer by unique email    %12.3f us per transaction (%.2fx the _id transfer's time)\n",
              by_email_s / 3 * 1e6, by_email_s / by_id_s);
  std::printf("indexes: %s\n", s->Execute("(indexes users)")[0].text().c_str());
  return 0;
}
