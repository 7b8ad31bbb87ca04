// Runs the real `parendb console` binary with statements on stdin.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

std::string RunConsole(const std::string& input, const std::string& args = "--memory") {
  char tmpl[] = "/tmp/parendb-console-XXXXXX";
  int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  std::string in_path = tmpl;
  std::ofstream(in_path) << input;
  std::string cmd = std::string(PARENDB_BINARY) + " console " + args + " < " + in_path + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  std::remove(in_path.c_str());
  return out;
}

}  // namespace

TEST_SUITE("console") {
  TEST_CASE("scripted: one response line per statement, documents on following lines") {
    std::string out = RunConsole(
        "(mkcoll people)\n(open t)\n(acquire t)\n(create p t (coll people))\n{\"name\": \"Ada\",\n \"age\": 36}\n"
        "(readall p)\n(commit t)\n(frob)\n(ping\n)\n");
    CHECK(out ==
          "(ok mkcoll)\n(ok opened)\n(ok acquired)\n(ok created)\n{\"_id\":1,\"name\":\"Ada\",\"age\":36}\n"
          "(ok committed)\n(error unknown-statement \"unknown statement frob\")\n(ok pong)\n");
  }

  TEST_CASE("scripted: an unfinished statement at the end is reported") {
    CHECK(RunConsole("(ping)\n(open t\n") ==
          "(ok pong)\n(error syntax \"unexpected end of input: the statement starting at 2:1 is not closed\")\n");
  }

  TEST_CASE("pretty printing") {
    CHECK(RunConsole("(colls)(mkcoll a)(colls)", "--memory --pretty") == "[]\n(ok mkcoll)\n[\n  \"a\"\n]\n");
  }

  TEST_CASE("--help is complete and bad options are refused") {
    std::string help = RunConsole("", "--help");
    for (const char* word : {"serve", "console", "doctor", "--data", "--memory", "--sync", "--pretty", "--lock-timeout",
                             "--max-depth", "--bind", "--port", "--threads", "--password-file", "--insecure",
                             "--max-connections", "--idle-timeout", "--log-level", "--config", "--connect"}) {
      CHECK(help.find(word) != std::string::npos);
    }
    CHECK(RunConsole("", "--bogus").find("unknown option --bogus") != std::string::npos);
    CHECK(RunConsole("", "--port 99999").find("bad value 99999 for --port") != std::string::npos);
  }
}
