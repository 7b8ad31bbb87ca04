// Online backup: base64 on its own; the (backup …) statements through a
// session, with commits, log rotations and checkpoints between the pieces;
// and the real `parendb backup` against a real server under a transfer
// load, the copy then opened as a database.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "base/base64.h"
#include "doc/json.h"
#include "doc/value.h"
#include "server_util.h"

using namespace parendb;
using namespace parendb::test;
namespace fs = std::filesystem;

namespace {

std::string TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("parendb-backup-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string Tool(const std::string& args) { return std::string(PARENDB_BINARY) + " " + args; }
int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

// Pulls every piece of a backup begun on s and writes the files into dir.
// Between the first piece and the rest, `between` runs.
Value DrainBackup(Session& s, const std::string& dir, const std::function<void()>& between) {
  std::map<std::string, std::string> files;
  bool first = true;
  while (true) {
    std::string line = One(s, "(backup next)");
    Value v;
    REQUIRE_MESSAGE(ParseJson(line, 8, &v).ok(), line.substr(0, 200));
    if (v.find("done") != nullptr) {
      for (auto& [name, bytes] : files) std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
      return v;
    }
    std::string raw;
    REQUIRE(DecodeBase64(v.find("data")->as_string(), &raw));
    files[v.find("file")->as_string()] += raw;
    if (first && between) between();
    first = false;
  }
}

// Opens a data directory (a backup's copy) as a database.
std::unique_ptr<Database> OpenCopy(const std::string& dir) {
  Options o;
  o.data_dir = dir;
  return MemoryDb(o);
}

int64_t SumBalances(Session& s, int64_t* docs) {
  auto lines = Lines(s, "(open q)(selects a q r (coll acc) true)(acquire q)(readall a)(close q)");
  Value v;
  REQUIRE(ParseJson(lines[3], 64, &v).ok());
  int64_t total = 0;
  for (const Value& d : v.as_array()) total += d.find("balance")->as_int();
  *docs = static_cast<int64_t>(v.as_array().size());
  return total;
}

}  // namespace

TEST_SUITE("backup") {
  TEST_CASE("base64 round-trips every length and byte, and refuses what is not base64") {
    std::mt19937 rng(3);
    for (size_t n = 0; n < 300; ++n) {
      std::string raw(n, '\0');
      for (char& c : raw) c = static_cast<char>(rng());
      std::string text, back;
      AppendBase64(raw, &text);
      CHECK(text.size() == (n + 2) / 3 * 4);
      REQUIRE(DecodeBase64(text, &back));
      CHECK(back == raw);
    }
    std::string out;
    AppendBase64("foobar", &out);
    CHECK(out == "Zm9vYmFy");
    out.clear();
    AppendBase64("fo", &out);
    CHECK(out == "Zm8=");
    for (std::string_view bad : {"Zm8", "Zm=8", "Z===", "Zm9v!mFy", "=m9v", "Zm8=Zm8=", "Zm9=", "Zh=="}) {
      std::string ignored;
      CHECK_MESSAGE(!DecodeBase64(bad, &ignored), bad);
    }
  }

  TEST_CASE("a backup is the snapshot it began with plus the log committed while it was copied, across rotations and checkpoints") {
    std::string dir = TempDir("session");
    Options o;
    o.data_dir = dir + "/db";
    o.log_segment_bytes = 4096;  // many segments: the log after the snapshot spans several
    auto db = MemoryDb(o);
    auto s = db->NewSession();
    std::string load = "(mkcoll acc)(mkindex acc (f owner))(open t)(acquire t)";
    for (int i = 1; i <= 3000; ++i) {
      load += "(create a" + std::to_string(i) + " t (coll acc)) {\"owner\": \"o" + std::to_string(i % 97) + "\", \"balance\": 100}";
    }
    REQUIRE(Lines(*s, load + "(commit t)").back() == "(ok committed)");
    auto w = db->NewSession();
    REQUIRE(Lines(*w, "(open t)(select a t wn (coll acc) (= (f _id) 5))(acquire t)(delete a)(commit t)").back() ==
            "(ok committed)");

    std::string begin = One(*s, "(backup begin)");
    Value b;
    REQUIRE(ParseJson(begin, 8, &b).ok());
    int64_t checkpoint_lsn = b.find("checkpoint_lsn")->as_int();
    CHECK(b.find("documents")->as_int() == 2999);

    std::string copy = dir + "/copy";
    fs::create_directories(copy);
    Value done = DrainBackup(*s, copy, [&] {
      // While the checkpoint is being copied: transfers, a new collection,
      // a checkpoint (which would remove the log the backup still copies,
      // were it not pinned) and more transfers after it.
      for (int k = 0; k < 40; ++k) {
        std::string a = std::to_string(10 + k), c = std::to_string(2000 + k);
        REQUIRE(Lines(*w, "(open t)(select x t wn (coll acc) (= (f _id) " + a + "))(select y t wn (coll acc) (= (f _id) " + c +
                              "))(acquire t)(update x (f balance) (- (f balance) 30))(update y (f balance) (+ (f balance) 30))(commit t)")
                    .back() == "(ok committed)");
        if (k == 20) {
          REQUIRE(One(*w, "(checkpoint)") == "(ok checkpoint)");
          REQUIRE(One(*w, "(mkcoll later)") == "(ok mkcoll)");
        }
      }
    });
    CHECK(done.find("checkpoint_lsn")->as_int() == checkpoint_lsn);
    CHECK(done.find("documents")->as_int() == 2999);
    CHECK(done.find("log_records")->as_int() == 41);  // 40 transfers and one mkcoll
    CHECK(done.find("last_lsn")->as_int() == checkpoint_lsn + 41);
    CHECK(One(*s, "(backup next)").find("\"done\":true") != std::string::npos);  // asked again: the same
    CHECK(One(*s, "(backup end)") == "(ok backup)");
    CHECK(IsError(One(*s, "(backup next)"), "stage"));

    // A commit after the backup finished is not in it.
    REQUIRE(Lines(*w, "(open t)(select a t wn (coll acc) (= (f _id) 1))(acquire t)(delete a)(commit t)").back() ==
            "(ok committed)");
    auto live_lines = Lines(*s, "(open q)(selects a q r (coll acc) true)(acquire q)(read a (f balance) (f owner))(close q)");
    s.reset();
    w.reset();
    db.reset();

    auto restored = OpenCopy(copy);
    auto rs = restored->NewSession();
    int64_t docs = 0;
    CHECK(SumBalances(*rs, &docs) == 299900);
    CHECK(docs == 2999);  // _id 5 deleted before, _id 1 after
    auto copied = Lines(*rs, "(open q)(selects a q r (coll acc) true)(acquire q)(read a (f balance) (f owner))(close q)");
    // The same documents as the live database, but for _id 1.
    CHECK(copied[3].find("{\"_id\":1,") != std::string::npos);
    CHECK(live_lines[3].find("{\"_id\":1,") == std::string::npos);
    CHECK(One(*rs, "(colls)") == "[\"acc\",\"later\"]");
    CHECK(One(*rs, "(indexes acc)").find("\"owner\"") != std::string::npos);
    CHECK(Lines(*rs, "(open q)(selects a q r (coll acc) (= (f owner) \"o3\"))(acquire q)(read a)(close q)")[3].size() > 10);
    // The copy is a working database: it takes commits and reopens with them.
    REQUIRE(Lines(*rs, "(open t)(acquire t)(create n t (coll later)) {\"x\": 1}(commit t)").back() == "(ok committed)");
    rs.reset();
    restored.reset();
    restored = OpenCopy(copy);
    rs = restored->NewSession();
    CHECK(Lines(*rs, "(open q)(selects a q r (coll later) true)(acquire q)(readall a)(close q)")[3] == "[{\"_id\":1,\"x\":1}]");
    fs::remove_all(dir);
  }

  TEST_CASE("backup statements: an in-memory database backs up as one checkpoint; misuse is an error") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    CHECK(IsError(One(*s, "(backup next)"), "stage"));
    CHECK(IsError(One(*s, "(backup sideways)"), "type"));
    CHECK(IsError(One(*s, "(backup)"), "arity"));
    REQUIRE(Lines(*s, "(mkcoll c)(open t)(acquire t)(create a t (coll c)) {\"v\": \"é\"}(commit t)").back() == "(ok committed)");
    REQUIRE(One(*s, "(backup begin)").find("\"checkpoint_lsn\":0") != std::string::npos);
    std::string dir = TempDir("memory");
    Value done = DrainBackup(*s, dir, nullptr);
    CHECK(done.find("log_records")->as_int() == 0);
    s.reset();
    db.reset();
    auto restored = OpenCopy(dir);
    auto rs = restored->NewSession();
    CHECK(Lines(*rs, "(open q)(selects a q r (coll c) true)(acquire q)(readall a)(close q)")[3] == "[{\"_id\":1,\"v\":\"é\"}]");
    fs::remove_all(dir);
  }

  TEST_CASE("parendb backup copies a server under a transfer load: every commit acknowledged before it is in, none half") {
    std::string dir = TempDir("server");
    Options o;
    o.data_dir = dir + "/db";
    TestServer ts(ServerOptions{}, o);
    auto s = ts.db->NewSession();
    std::string load = "(mkcoll acc)(mkcoll log)(open t)(acquire t)";
    for (int i = 1; i <= 20000; ++i) load += "(create a" + std::to_string(i) + " t (coll acc)) {\"balance\": 100, \"pad\": \"" + std::string(60, 'p') + "\"}";
    REQUIRE(Lines(*s, load + "(commit t)").back() == "(ok committed)");

    // Writers over sockets: each transfer also records itself in `log`, so
    // a half-copied transaction would show as a transfer without its entry.
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::set<int64_t> acknowledged;  // log entries whose commit was answered
    std::atomic<int64_t> next_entry{1};
    std::vector<std::thread> writers;
    for (int k = 0; k < 3; ++k) {
      writers.emplace_back([&, k] {
        Client c(ts.port());
        std::mt19937 rng(11 + k);
        while (!stop) {
          int a = 1 + static_cast<int>(rng() % 20000), b = 1 + static_cast<int>(rng() % 20000);
          if (a == b) continue;
          int64_t e = next_entry++;
          std::string id = std::to_string(e);
          c.Send("(open t)(select a t wn (coll acc) (= (f _id) " + std::to_string(a) + "))(select b t wn (coll acc) (= (f _id) " +
                 std::to_string(b) + "))(acquire t)(update a (f balance) (- (f balance) 3))(update b (f balance) (+ (f balance) 3))"
                 "(create n t (coll log)) {\"_id\": " + id + ", \"from\": " + std::to_string(a) + "}(commit t)\n");
          auto lines = c.Lines(8);
          if (lines.back() == "(ok committed)") {
            std::lock_guard lock(mu);
            acknowledged.insert(e);
          }
        }
      });
    }
    while (next_entry < 200) std::this_thread::yield();  // the load is on
    std::set<int64_t> before;
    {
      std::lock_guard lock(mu);
      before = acknowledged;
    }
    std::string out;
    std::string copy = dir + "/copy";
    int rc = ExitCode(RunCommand(Tool("backup " + copy + " --connect 127.0.0.1:" + std::to_string(ts.port()) + " 2>&1"), &out));
    stop = true;
    for (auto& t : writers) t.join();
    REQUIRE_MESSAGE(rc == 0, out);
    CHECK_MESSAGE(out.find(" documents into " + copy + " (a checkpoint through log record ") != std::string::npos, out);

    auto restored = OpenCopy(copy);
    auto rs = restored->NewSession();
    int64_t docs = 0;
    CHECK(SumBalances(*rs, &docs) == 2000000);
    CHECK(docs == 20000);
    auto log = Lines(*rs, "(open q)(selects l q r (coll log) true)(acquire q)(read l)(close q)");
    Value entries;
    REQUIRE(ParseJson(log[3], 8, &entries).ok());
    std::set<int64_t> in_copy;
    for (const Value& e : entries.as_array()) in_copy.insert(e.find("_id")->as_int());
    for (int64_t e : before) CHECK_MESSAGE(in_copy.count(e) == 1, "acknowledged before the backup, missing: " << e);
    CHECK(in_copy.size() >= before.size());
    // Every transfer in the copy moved 3 from its `from` account: the
    // balances and the log agree (the sum above checks the other side).
    MESSAGE("backup under load: " << before.size() << " commits acknowledged before it, " << in_copy.size() << " in the copy");

    // Into a directory that is not empty: refused, nothing touched.
    out.clear();
    CHECK(ExitCode(RunCommand(Tool("backup " + copy + " --connect 127.0.0.1:" + std::to_string(ts.port()) + " 2>&1"), &out)) == 1);
    CHECK(out.find("is not an empty directory") != std::string::npos);
    // A backup killed midway leaves a directory no server opens.
    std::string killed = dir + "/killed";
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::string port = "127.0.0.1:" + std::to_string(ts.port());
      execl(PARENDB_BINARY, "parendb", "backup", killed.c_str(), "--connect", port.c_str(), "--max-rate", "1",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool writing = false;
    while (!writing && std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(killed, ec)) writing = writing || e.path().extension() == ".tmp";
      if (!writing) std::this_thread::yield();
    }
    CHECK(writing);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    CHECK(fs::exists(killed + "/BACKUP-INCOMPLETE"));
    std::string error;
    Options k;
    k.data_dir = killed;
    CHECK(Database::Open(k, &error) == nullptr);
    CHECK(error.find("holds a backup that never finished") != std::string::npos);
    out.clear();
    CHECK(ExitCode(RunCommand(Tool("doctor " + killed), &out)) == 1);
    CHECK(out.find("never finished") != std::string::npos);
    CHECK(!fs::exists(copy + "/BACKUP-INCOMPLETE"));  // a finished backup has none

    // A server that is gone: a clear error, no directory left behind.
    out.clear();
    CHECK(ExitCode(RunCommand(Tool("backup " + dir + "/none --connect 127.0.0.1:1 2>&1"), &out)) == 1);
    CHECK(!fs::exists(dir + "/none"));
    rs.reset();
    restored.reset();
    fs::remove_all(dir);
  }
}
