// parendb import and export: the input splitter on its own, then the real
// binary against a real server on a loopback port (and against a data
// directory): round trips, bad documents, interruption, and export's one
// consistent snapshot under concurrent transfers.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "import_export/document_scanner.h"
#include "server_util.h"

using namespace parendb;
using namespace parendb::test;
namespace fs = std::filesystem;

namespace {

struct Scanned {
  std::vector<std::string> docs;
  std::vector<int64_t> lines;
  std::vector<std::string> errors;  // "LINE: message"
};

// Feeds input in pieces of `step` bytes (0: whole).
Scanned Scan(std::string_view input, size_t step = 0) {
  DocumentScanner scanner;
  Scanned out;
  size_t fed = 0;
  std::string error;
  while (true) {
    std::string_view doc;
    auto r = scanner.Next(&doc, &error);
    if (r == DocumentScanner::Result::kDocument) {
      out.docs.emplace_back(doc);
      out.lines.push_back(scanner.line());
    } else if (r == DocumentScanner::Result::kBad) {
      out.errors.push_back(std::to_string(scanner.line()) + ": " + error);
      if (!scanner.can_go_on()) break;
    } else if (r == DocumentScanner::Result::kNeedMore) {
      if (fed == input.size()) {
        scanner.Finish();
        continue;
      }
      size_t n = step == 0 ? input.size() - fed : std::min(step, input.size() - fed);
      scanner.Append(input.substr(fed, n));
      fed += n;
    } else {
      break;
    }
  }
  return out;
}

std::string TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("parendb-ie-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tool(const std::string& args) { return std::string(PARENDB_BINARY) + " " + args; }

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

}  // namespace

TEST_SUITE("import_export") {
  TEST_CASE("the splitter: JSON Lines and arrays, cut anywhere, give the same documents and lines") {
    const std::string lines =
        "{\"a\": 1}\n\n  {\"s\": \"} ] \\\" {\", \"n\": [1, {\"x\": []}]}  \r\n{\"u\": \"\\u00e9☃\"}";
    const std::string array = "[\n {\"a\": 1},\n{\"b\":\n [2, 3]} , {\"c\": \"]\"}\n]\n";
    for (size_t step : {0, 1, 2, 3, 7}) {
      Scanned l = Scan(lines, step);
      REQUIRE(l.docs.size() == 3);
      CHECK(l.errors.empty());
      CHECK(l.docs[1] == "{\"s\": \"} ] \\\" {\", \"n\": [1, {\"x\": []}]}");
      CHECK(l.lines == std::vector<int64_t>{1, 3, 4});
      Scanned a = Scan(array, step);
      CHECK(a.errors.empty());
      CHECK(a.docs == std::vector<std::string>{"{\"a\": 1}", "{\"b\":\n [2, 3]}", "{\"c\": \"]\"}"});
      CHECK(a.lines == std::vector<int64_t>{2, 3, 4});
    }
    CHECK(Scan("").docs.empty());
    CHECK(Scan("[]").docs.empty());
    CHECK(Scan("  [ ]  \n").errors.empty());
  }

  TEST_CASE("the splitter: a bad line is named and skipped; nothing runs on into a statement") {
    Scanned s = Scan("{\"a\":1}\n{\"a\":2} (rmcoll c)\n[1]\n{\"a\":[1}\n{\"a\": \"x\n{\"ok\": true}\n");
    CHECK(s.docs == std::vector<std::string>{"{\"a\":1}", "{\"ok\": true}"});
    CHECK(s.lines == std::vector<int64_t>{1, 6});
    CHECK(s.errors == std::vector<std::string>{
                          "2: text after the object (a line must hold one object)",
                          "3: not a JSON object (a line must hold one object)",
                          "4: '}' closes nothing open there",
                          "5: the object does not end on its line (a line must hold one whole object)"});
    // A malformed array cannot be read on: its first fault ends it.
    CHECK(Scan("[{\"a\":1} {\"b\":2}]").errors == std::vector<std::string>{"1: expected , or ] between the array's documents, found {"});
    CHECK(Scan("[{\"a\":1},]").errors == std::vector<std::string>{"1: a , before the array's closing ]"});
    CHECK(Scan("[{\"a\":1}").errors == std::vector<std::string>{"1: the array has no closing ]"});
    CHECK(Scan("[{\"a\":1}] {}").errors == std::vector<std::string>{"1: text after the array's closing ]"});
    CHECK(Scan("[\n\n3]").errors == std::vector<std::string>{"3: an array element that is not a JSON object"});
    // A raw control character in a string is refused where it is: JSON
    // wants it escaped, and a line break there would otherwise let the
    // server's reader, refusing the document, go on inside it.
    CHECK(Scan("[{\"a\": 1,\n\"b\": \"x\n(rmcoll c) \"}]").errors ==
          std::vector<std::string>{"2: a control character (0x0a) inside a string: JSON needs it escaped"});
    CHECK(Scan("{\"a\": \"tab\there\"}\n{\"ok\": 1}").errors ==
          std::vector<std::string>{"1: a control character (0x09) inside a string: JSON needs it escaped"});
    // A backslash before a line break escapes nothing: the line ends inside the string.
    CHECK(Scan("{\"a\": \"x\\\ny\"}").errors.at(0) == "1: the object does not end on its line (a line must hold one whole object)");
  }

  TEST_CASE("import then export round-trips every kind of value, _ids and field order, over a socket") {
    TestServer ts;
    std::string dir = TempDir("roundtrip");
    const std::string input =
        "{\"_id\": 7, \"name\": \"Åsa ☃ \\u00e9\", \"max\": 9223372036854775807, \"min\": -9223372036854775808}\n"
        "{\"_id\": \"k-1\", \"d\": [1.5, -0.25, 1e300, 5e-324], \"z\": 0, \"nested\": {\"b\": [1, {\"c\": null}], "
        "\"a\": true}, \"e\": {}, \"f\": []}\n"
        "{\"esc\": \"tab\\t nl\\n quote\\\" back\\\\ ctl\\u0001\", \"_id\": 8}\n"
        "{\"no_id\": 1}\n";
    WriteFile(dir + "/in.jsonl", input);
    std::string at = " --connect 127.0.0.1:" + std::to_string(ts.port());
    std::string out;
    REQUIRE(ExitCode(RunCommand(Tool("import --coll c --create" + at + " " + dir + "/in.jsonl 2>&1"), &out)) == 0);
    CHECK(out.find("imported 4 documents into c") != std::string::npos);
    out.clear();
    REQUIRE(ExitCode(RunCommand(Tool("export --coll c" + at + " 2>/dev/null"), &out)) == 0);
    const std::string expected =
        "{\"_id\":7,\"name\":\"Åsa ☃ é\",\"max\":9223372036854775807,\"min\":-9223372036854775808}\n"
        "{\"_id\":8,\"esc\":\"tab\\t nl\\n quote\\\" back\\\\ ctl\\u0001\"}\n"
        "{\"_id\":9,\"no_id\":1}\n"
        "{\"_id\":\"k-1\",\"d\":[1.5,-0.25,1e300,5e-324],\"z\":0,\"nested\":{\"b\":[1,{\"c\":null}],\"a\":true},"
        "\"e\":{},\"f\":[]}\n";
    CHECK(out == expected);
    // Importing the export reproduces it exactly (through a file, and as a JSON array from stdin).
    WriteFile(dir + "/out.jsonl", out);
    REQUIRE(ExitCode(RunCommand(Tool("import --coll c2 --create" + at + " " + dir + "/out.jsonl 2>&1"), &out)) == 0);
    std::string array = "[" + expected.substr(0, expected.size() - 1) + "]";
    for (size_t p = 0; (p = array.find('\n', p)) != std::string::npos; p += 2) array.replace(p, 1, ",\n");
    WriteFile(dir + "/array.json", array);
    REQUIRE(ExitCode(RunCommand(Tool("import --coll c3 --create" + at + " < " + dir + "/array.json 2>&1"), &out)) == 0);
    for (std::string c : {"c2", "c3"}) {
      std::string again;
      REQUIRE(ExitCode(RunCommand(Tool("export --coll " + c + at + " --out " + dir + "/" + c + ".jsonl 2>/dev/null"), &again)) == 0);
      CHECK(ReadFile(dir + "/" + c + ".jsonl") == expected);
    }
    // --all: every collection, one file each.
    REQUIRE(ExitCode(RunCommand(Tool("export --all --out " + dir + "/all" + at + " 2>&1"), &out)) == 0);
    for (std::string c : {"c", "c2", "c3"}) CHECK(ReadFile(dir + "/all/" + c + ".jsonl") == expected);
    fs::remove_all(dir);
  }

  TEST_CASE("a bad document stops the import at its line; --skip-bad skips and counts; no batch is half applied") {
    TestServer ts;
    std::string dir = TempDir("bad");
    std::string at = " --connect 127.0.0.1:" + std::to_string(ts.port());
    // Batches of 2: lines 1-2, 3-4 (4 repeats _id 1), 5-6 (6 is malformed JSON the server refuses).
    WriteFile(dir + "/in.jsonl", "{\"_id\":1}\n{\"_id\":2}\n{\"_id\":3}\n{\"_id\":1}\n{\"_id\":5}\n{\"_id\":6, \"x\": tru}\n");
    std::string out;
    int code = ExitCode(RunCommand(Tool("import --coll c --create --batch 2 --connections 1" + at + " " + dir + "/in.jsonl 2>&1"), &out));
    CHECK(code == 1);
    CHECK(out.find("line 4: (error duplicate-id \"a document with _id 1 already exists in c") != std::string::npos);
    CHECK(out.find("stopped at line 4") != std::string::npos);
    auto s = ts.db->NewSession();
    // Everything before line 4 is in (3 was sent again without 4); lines 5-6 were
    // in flight: their batch failed on line 6 and was applied not at all.
    CHECK(Lines(*s, "(open q)(selects a q r (coll c) true)(acquire q)(read a)(close q)")[3] ==
          R"([{"_id":1},{"_id":2},{"_id":3}])");
    out.clear();
    code = ExitCode(RunCommand(Tool("import --coll d --create --batch 2 --connections 1 --skip-bad" + at + " " + dir + "/in.jsonl 2>&1"), &out));
    CHECK(code == 0);
    CHECK(out.find("skipped line 4") != std::string::npos);
    CHECK(out.find("skipped line 6") != std::string::npos);
    CHECK(out.find("imported 4 documents into d, skipped 2 bad ones") != std::string::npos);
    CHECK(Lines(*s, "(open q)(selects a q r (coll d) true)(acquire q)(read a)(close q)")[3] ==
          R"([{"_id":1},{"_id":2},{"_id":3},{"_id":5}])");
    // Across connections, a duplicate may meet its twin still uncommitted
    // in another lane (a lock conflict): the batch is sent again once the
    // other lane settles, and then one of the two is skipped as a duplicate.
    std::string twins;
    for (int i = 0; i < 400; ++i) twins += "{\"_id\":" + std::to_string(i / 40 * 20 + i % 20) + ",\"i\":" + std::to_string(i) + "}\n";
    WriteFile(dir + "/twins.jsonl", twins);
    out.clear();
    code = ExitCode(RunCommand(Tool("import --coll e --create --batch 7 --connections 3 --skip-bad" + at + " " + dir + "/twins.jsonl 2>&1"), &out));
    CHECK(code == 0);
    CHECK(out.find("imported 200 documents into e, skipped 200 bad ones") != std::string::npos);
    CHECK(Lines(*s, "(open q)(selects a q r (coll e) true)(acquire q)(explain a)(close q)")[3].find("\"documents\":200") != std::string::npos);
    // A document spanning lines in an array that the server refuses (nested
    // deeper than it reads: a limit that ends the connection) is sent as one
    // line, and the text in it is never read as a statement.
    std::string deep = "[{\"a\": " + std::string(300, '[') + "\n" + std::string(300, ']') + ",\n(rmcoll d) \"k\": 1},\n{\"_id\": 99}]";
    WriteFile(dir + "/deep.json", deep);
    out.clear();
    code = ExitCode(RunCommand(Tool("import --coll d --skip-bad --connections 1" + at + " " + dir + "/deep.json 2>&1"), &out));
    CHECK(code == 1);
    CHECK(out.find("the server closed the connection") != std::string::npos);
    CHECK(Lines(*s, "(open q)(selects a q r (coll d) true)(acquire q)(read a)(close q)")[3] ==
          R"([{"_id":1},{"_id":2},{"_id":3},{"_id":5}])");
    out.clear();
    CHECK(ExitCode(RunCommand(Tool("import --coll nope" + at + " " + dir + "/in.jsonl 2>&1"), &out)) == 1);
    CHECK(out.find("no collection named nope") != std::string::npos);
    fs::remove_all(dir);
  }

  TEST_CASE("an interrupted import leaves whole batches only; SIGINT finishes the batches already sent") {
    TestServer ts;
    std::string dir = TempDir("interrupt");
    std::string input;
    for (int i = 0; i < 300000; ++i) input += "{\"n\": " + std::to_string(i) + ", \"pad\": \"xxxxxxxxxxxxxxxxxxxxxxxx\"}\n";
    WriteFile(dir + "/in.jsonl", input);
    auto s = ts.db->NewSession();
    REQUIRE(One(*s, "(mkcoll c)") == "(ok mkcoll)");
    for (int sig : {SIGINT, SIGKILL}) {
      REQUIRE(One(*s, "(rmcoll c)(mkcoll c)") == "<2 responses>");
      pid_t pid = fork();
      if (pid == 0) {
        std::string port = std::to_string(ts.port()), file = dir + "/in.jsonl";
        freopen("/dev/null", "w", stderr);
        execl(PARENDB_BINARY, PARENDB_BINARY, "import", "--coll", "c", "--batch", "700", "--connect",
              ("127.0.0.1:" + port).c_str(), file.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      // Wait until some documents are in, then interrupt.
      for (int i = 0; i < 2000; ++i) {
        std::string stats = One(*s, "(stats)");
        if (stats.find("\"documents\":0,") == std::string::npos) break;
        usleep(1000);
      }
      kill(pid, sig);
      int status = 0;
      waitpid(pid, &status, 0);
      if (sig == SIGINT) {
        CHECK(ExitCode(status) == 130);
      } else {
        CHECK(WIFSIGNALED(status));
      }
      // The server closes what the killed client left open; then count.
      std::string count;
      for (int i = 0; i < 2000; ++i) {
        auto out = Lines(*s, "(open q)(selects a q r (coll c) true)(acquire q)(explain a)(close q)");
        count = out[3];
        if (One(*s, "(stats)").find("\"active_transactions\":0,") != std::string::npos) break;
        usleep(1000);
      }
      auto at = count.find("\"documents\":");
      REQUIRE(at != std::string::npos);
      long n = std::stol(count.substr(at + 12));
      INFO("signal " << sig << ": " << n << " documents");
      CHECK(n % 700 == 0);
      CHECK(n < 300000);
    }
    fs::remove_all(dir);
  }

  TEST_CASE("export reads one consistent snapshot while transfers commit; a data directory works as a server does") {
    TestServer ts;
    std::string dir = TempDir("snapshot");
    auto s = ts.db->NewSession();
    std::string load = "(mkcoll acc)(open t)(acquire t)";
    for (int i = 1; i <= 2000; ++i) load += "(create a" + std::to_string(i) + " t (coll acc)) {\"balance\": 100}";
    load += "(commit t)";
    REQUIRE(Lines(*s, load).back() == "(ok committed)");
    std::atomic<bool> stop{false};
    std::atomic<int> transfers{0};
    std::thread writer([&] {
      auto w = ts.db->NewSession();
      std::mt19937 rng(7);
      while (!stop) {
        int a = 1 + static_cast<int>(rng() % 2000), b = 1 + static_cast<int>(rng() % 2000);
        if (a == b) continue;
        std::string t = "(open t)(select a t wn (coll acc) (= (f _id) " + std::to_string(a) + "))(select b t wn (coll acc) (= (f _id) " +
                        std::to_string(b) + "))(acquire t)(update a (f balance) (- (f balance) 7))(update b (f balance) (+ (f balance) 7))(commit t)";
        if (Lines(*w, t).back() == "(ok committed)") ++transfers;
      }
    });
    std::string at = " --connect 127.0.0.1:" + std::to_string(ts.port());
    for (int round = 0; round < 5; ++round) {
      std::string out;
      REQUIRE(ExitCode(RunCommand(Tool("export --coll acc --page 97" + at + " 2>/dev/null"), &out)) == 0);
      long total = 0, docs = 0;
      for (size_t p = 0; (p = out.find("\"balance\":", p)) != std::string::npos; ++docs) total += std::stol(out.substr(p += 10));
      CHECK(docs == 2000);
      CHECK(total == 200000);
    }
    stop = true;
    writer.join();
    CHECK(transfers > 0);
    fs::remove_all(dir);

    // Against a data directory opened by the tool itself.
    std::string data = TempDir("datadir");
    WriteFile(data + "/in.jsonl", "{\"a\": 1}\n{\"a\": 2}\n");
    std::string out;
    REQUIRE(ExitCode(RunCommand(Tool("import --coll c --create --data " + data + "/db " + data + "/in.jsonl 2>&1"), &out)) == 0);
    out.clear();
    REQUIRE(ExitCode(RunCommand(Tool("export --coll c --data " + data + "/db 2>/dev/null"), &out)) == 0);
    CHECK(out == "{\"_id\":1,\"a\":1}\n{\"_id\":2,\"a\":2}\n");
    fs::remove_all(data);
  }
}
