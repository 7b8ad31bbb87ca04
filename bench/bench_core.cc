// In-process, single-thread benchmark of the language core, with SQLite doing
// the same logical work in the same run (issue: "The language end to end").
//
//   build/bench/parendb_bench [--docs N] [--ops N] [--rounds N]
//
// Workloads, on N documents of about 200 bytes:
//   reader  — MB/s of statement text through the incremental reader
//   read    — point-read transaction by _id:
//             ParenDB (open)(select … r … (= (f _id) K))(acquire)(readall)(close)
//             SQLite  BEGIN; SELECT body FROM docs WHERE id=?; COMMIT
//   update  — one-document update transaction:
//             ParenDB (open)(select … wn …)(acquire)(update a (f n) (+ (f n) 1))(commit)
//             SQLite  BEGIN; UPDATE docs SET body=json_set(body,'$.n',json_extract(body,'$.n')+1)
//                     WHERE id=?; COMMIT
//   scan    — a condition tested on every document (one matches), no index:
//             ParenDB (open)(select … r … (= (f name) "user-K"))(acquire)(readall)(close)
//             SQLite  SELECT body FROM docs WHERE json_extract(body, '$.name') = ?
//             (ops / 2000 scans; shown per document tested)
//   insert  — ParenDB only, with --only insert (for profiling): a ~1 KB
//             document created in its own transaction (parendb_load's insert)
// SQLite runs in memory (":memory:", so its journal is in memory too) with
// prepared statements; ParenDB runs in memory. Neither side syncs. Rounds
// alternate between the two so machine noise hits both; medians are shown.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <parendb/parendb.h>
#include <sqlite3.h>

#include "reader/reader.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  int docs = 100000;
  int ops = 200000;
  int rounds = 5;
  // "reader", "read", "update", "scan", "sqlite-read", "sqlite-update" or
  // "sqlite-scan": run just
  // that one side, for profiling (e.g. under valgrind --tool=callgrind).
  std::string only;
};

std::string MakeDoc(int i) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"name\": \"user-%06d\", \"email\": \"user%06d@example.com\", \"age\": %d, \"n\": 0, "
                "\"balance\": %d, \"city\": \"Springfield\", \"tags\": [\"alpha\", \"beta\", \"gamma\"], "
                "\"bio\": \"lorem ipsum dolor sit amet\"}",
                i, i, 18 + i % 60, 1000 + i % 5000);
  return buf;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void Die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "bench: %s: %s\n", what, detail.c_str());
  std::exit(1);
}

// ---------------------------------------------------------------- ParenDB

// parendb_load's insert document (bench/bench_server.cc): about 1 KB.
std::string InsertBody() {
  return "{\"kind\": \"event\", \"n\": 12345, \"body\": \"" + std::string(960, 'x') + "\"}";
}

struct ParenSide {
  std::unique_ptr<parendb::Database> db;
  std::unique_ptr<parendb::Session> s;

  void Load(const Config& c) {
    std::string error;
    db = parendb::Database::Open(parendb::Options{}, &error);
    if (!db) Die("open", error);
    s = db->NewSession();
    s->ExecuteText("(mkcoll docs)");
    std::string batch;
    for (int i = 1; i <= c.docs; ++i) {
      if (batch.empty()) batch = "(open t)(acquire t)";
      batch += "(create d" + std::to_string(i) + " t (coll docs)) " + MakeDoc(i);
      if (i % 1000 == 0 || i == c.docs) {
        batch += "(commit t)";
        std::string out = s->ExecuteText(batch);
        if (out.find("(error") != std::string::npos) Die("load", out.substr(out.find("(error"), 200));
        batch.clear();
      }
    }
  }

  // Runs ops transactions; returns ns/op.
  double Run(const char* kind, int ops, uint32_t seed, int docs) {
    std::mt19937 rng(seed);
    std::string text, out;
    bool update = std::strcmp(kind, "update") == 0;
    bool scan = std::strcmp(kind, "scan") == 0;
    bool insert = std::strcmp(kind, "insert") == 0;
    const std::string body = insert ? InsertBody() : std::string();
    auto start = Clock::now();
    for (int i = 0; i < ops; ++i) {
      int id = 1 + static_cast<int>(rng() % docs);
      text.clear();
      const char* expect = nullptr;  // what the answer must contain; null: no error
      if (insert) {
        text += "(open t)(acquire t)(create d t (coll docs)) ";
        text += body;
        text += "(commit t)";
        expect = "(ok committed)";
      } else if (scan) {
        char name[16];
        std::snprintf(name, sizeof name, "%06d", id);
        text += "(open t)(select a t r (coll docs) (= (f name) \"user-";
        text += name;
        text += "\"))(acquire t)(readall a)(close t)";
        expect = "user-";
      } else {
        text += "(open t)(select a t ";
        text += update ? "wn" : "r";
        text += " (coll docs) (= (f _id) ";
        text += std::to_string(id);
        text += update ? "))(acquire t)(update a (f n) (+ (f n) 1))(commit t)" : "))(acquire t)(readall a)(close t)";
      }
      out = s->ExecuteText(text);
      bool ok = expect != nullptr ? out.find(expect) != std::string::npos
                                  : out.size() >= 40 && out.find("(error") == std::string::npos;
      if (!ok) Die(("paren " + std::string(kind)).c_str(), out);
    }
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / ops;
  }
};

// ----------------------------------------------------------------- SQLite

struct SqliteSide {
  sqlite3* db = nullptr;
  sqlite3_stmt *begin = nullptr, *commit = nullptr, *read = nullptr, *update = nullptr, *scan = nullptr;

  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) Die("sqlite", err ? err : sql);
  }
  sqlite3_stmt* Prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) Die("sqlite prepare", sqlite3_errmsg(db));
    return st;
  }
  void Step(sqlite3_stmt* st, int want) {
    int rc = sqlite3_step(st);
    if (rc != want) Die("sqlite step", sqlite3_errmsg(db));
    sqlite3_reset(st);
  }

  void Load(const Config& c) {
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) Die("sqlite open", "");
    Exec("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    sqlite3_stmt* ins = Prepare("INSERT INTO docs(id, body) VALUES(?, ?)");
    Exec("BEGIN");
    for (int i = 1; i <= c.docs; ++i) {
      std::string doc = MakeDoc(i);
      sqlite3_bind_int64(ins, 1, i);
      sqlite3_bind_text(ins, 2, doc.data(), static_cast<int>(doc.size()), SQLITE_TRANSIENT);
      Step(ins, SQLITE_DONE);
    }
    Exec("COMMIT");
    sqlite3_finalize(ins);
    begin = Prepare("BEGIN");
    commit = Prepare("COMMIT");
    read = Prepare("SELECT body FROM docs WHERE id = ?");
    update = Prepare("UPDATE docs SET body = json_set(body, '$.n', json_extract(body, '$.n') + 1) WHERE id = ?");
    scan = Prepare("SELECT body FROM docs WHERE json_extract(body, '$.name') = ?");
  }

  double Run(const char* kind, int ops, uint32_t seed, int docs) {
    std::mt19937 rng(seed);
    bool is_update = std::strcmp(kind, "update") == 0;
    bool is_scan = std::strcmp(kind, "scan") == 0;
    std::string body;
    auto start = Clock::now();
    for (int i = 0; i < ops; ++i) {
      int id = 1 + static_cast<int>(rng() % docs);
      Step(begin, SQLITE_DONE);
      if (is_scan) {
        char name[24];
        std::snprintf(name, sizeof name, "user-%06d", id);
        sqlite3_bind_text(scan, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(scan) != SQLITE_ROW) Die("sqlite scan", sqlite3_errmsg(db));
        body.assign(reinterpret_cast<const char*>(sqlite3_column_text(scan, 0)), sqlite3_column_bytes(scan, 0));
        while (sqlite3_step(scan) == SQLITE_ROW) {
        }
        sqlite3_reset(scan);
      } else if (is_update) {
        sqlite3_bind_int64(update, 1, id);
        Step(update, SQLITE_DONE);
      } else {
        sqlite3_bind_int64(read, 1, id);
        if (sqlite3_step(read) != SQLITE_ROW) Die("sqlite read", sqlite3_errmsg(db));
        // Copy the text out, as ParenDB's response does.
        body.assign(reinterpret_cast<const char*>(sqlite3_column_text(read, 0)), sqlite3_column_bytes(read, 0));
        sqlite3_reset(read);
      }
      Step(commit, SQLITE_DONE);
    }
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / ops;
  }

  ~SqliteSide() {
    for (sqlite3_stmt* st : {begin, commit, read, update, scan}) sqlite3_finalize(st);
    sqlite3_close(db);
  }
};

// ----------------------------------------------------------------- reader

double ReaderMBps(int rounds) {
  std::string text;
  for (int i = 0; text.size() < (64u << 20); ++i) {
    text += "(open t)(select a t wn (coll acc) (= (f _id) " + std::to_string(i) +
            "))(select b t wn (coll acc) (= (f _id) 2))(acquire t)(check a (>= (f balance) 5))"
            "(update a (f balance) (- (f balance) 5) (f note) \"transfer \\u00e9\")(update b (f balance) (+ (f balance) "
            "5))(commit t)\n";
  }
  std::vector<double> mbps;
  for (int r = 0; r < rounds; ++r) {
    parendb::Reader reader;
    parendb::DatumTree tree;
    parendb::Status err;
    size_t statements = 0;
    auto start = Clock::now();
    // Feed in 64 KiB packets, as a socket would.
    for (size_t off = 0; off < text.size(); off += 65536) {
      reader.Append(std::string_view(text).substr(off, 65536));
      while (reader.NextStatement(&tree, &err) == parendb::Reader::Result::kItem) ++statements;
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (statements == 0) Die("reader", "no statements");
    mbps.push_back(text.size() / secs / 1e6);
  }
  return Median(mbps);
}

// Scans test every document: far fewer of them make a round.
int OpsFor(const char* kind, const Config& c) {
  return std::strcmp(kind, "scan") == 0 ? std::max(1, c.ops / 2000) : c.ops;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--docs")) c.docs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--ops")) c.ops = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--rounds")) c.rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--only")) c.only = argv[i + 1];
  }
  if (!c.only.empty()) {
    if (c.only == "reader") {
      std::printf("reader: %.0f MB/s\n", ReaderMBps(c.rounds));
      return 0;
    }
    if (c.only.rfind("sqlite-", 0) == 0) {
      SqliteSide lite;
      lite.Load(c);
      std::printf("%s: %.0f ns/txn\n", c.only.c_str(), lite.Run(c.only.c_str() + 7, OpsFor(c.only.c_str() + 7, c), 1000, c.docs));
      return 0;
    }
    ParenSide paren;
    paren.Load(c);
    std::printf("%s: %.0f ns/txn\n", c.only.c_str(), paren.Run(c.only.c_str(), OpsFor(c.only.c_str(), c), 1000, c.docs));
    return 0;
  }
  std::printf("ParenDB core benchmark: %d documents of ~%zu bytes, %d ops x %d rounds, 1 thread\n", c.docs,
              MakeDoc(1).size(), c.ops, c.rounds);
  std::printf("reader: %.0f MB/s (goal > 300)\n", ReaderMBps(c.rounds));
  ParenSide paren;
  SqliteSide lite;
  paren.Load(c);
  lite.Load(c);
  std::printf("%-8s %14s %14s %10s\n", "workload", "ParenDB ops/s", "SQLite ops/s", "ratio");
  for (const char* kind : {"read", "update", "scan"}) {
    std::vector<double> p, s;
    for (int r = 0; r < c.rounds; ++r) {
      p.push_back(paren.Run(kind, OpsFor(kind, c), 1000 + r, c.docs));
      s.push_back(lite.Run(kind, OpsFor(kind, c), 1000 + r, c.docs));
    }
    double pn = Median(p), sn = Median(s);
    if (std::strcmp(kind, "scan") == 0) {  // per document tested
      pn /= c.docs;
      sn /= c.docs;
      std::printf("%-8s %14.0f %14.0f %9.2fx  (%.1f vs %.1f ns per document tested)\n", "scan docs", 1e9 / pn, 1e9 / sn,
                  sn / pn, pn, sn);
      continue;
    }
    std::printf("%-8s %14.0f %14.0f %9.2fx  (%.0f vs %.0f ns/txn; ratio > 1: ParenDB faster)\n", kind, 1e9 / pn,
                1e9 / sn, sn / pn, pn, sn);
  }
  return 0;
}
