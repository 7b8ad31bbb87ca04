// The console at a terminal: the real binary in a pseudo-terminal
// (forkpty), driven key by key — Tab completion, Ctrl-C dropping a line and
// ending a waiting acquire on a server, :timing, colour — and --file with
// --stop-on-error. Reads wait for expected text (with a deadline), never
// for a fixed time.
#include <doctest/doctest.h>

#include <poll.h>
#include <pty.h>
#include <termios.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "console/completion.h"
#include "engine/engine.h"
#include "server_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

// Collection c with document 1, whose wn lock the returned session's
// transaction h holds until (commit h).
std::unique_ptr<Session> HoldDocumentOne(Database& db) {
  auto holder = db.NewSession();
  REQUIRE(Lines(*holder, "(mkcoll c)(open t)(acquire t)(create a t (coll c)) {}(commit t)"
                         "(open h)(select a h wn (coll c) (= (f _id) 1))(acquire h)")
              .back() == "(ok acquired)");
  return holder;
}

// Waits (up to 10 s) until some acquire has waited for a lock.
void UntilSomeoneWaits(Database& db) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (db.engine()->lock_stats().waits.load() == 0) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "no acquire waited");
    std::this_thread::yield();
  }
}

class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& args) {
    home_ = std::filesystem::temp_directory_path() / ("parendb-pty-" + std::to_string(getpid()));
    std::filesystem::create_directories(home_);
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      // As from a shell: no signal blocked or ignored (the test runner's
      // threads and handlers are not the console's).
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGQUIT}) signal(sig, SIG_DFL);
      setenv("TERM", "xterm", 1);
      setenv("HOME", home_.c_str(), 1);
      unsetenv("NO_COLOR");
      std::vector<char*> argv;
      std::string binary = PARENDB_BINARY;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(fd_);
    std::filesystem::remove_all(home_);
  }

  void Type(std::string_view keys) { REQUIRE(write(fd_, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size())); }

  // Reads until `text` has appeared in the output since the last Expect
  // (returning everything up to and including it), or fails after 10 s.
  std::string Expect(std::string_view text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (true) {
      size_t at = out_.find(text, seen_);
      if (at != std::string::npos) {
        std::string got = out_.substr(seen_, at + text.size() - seen_);
        seen_ = at + text.size();
        return got;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        FAIL_CHECK("no \"" << std::string(text) << "\" in the terminal's output: " << out_.substr(seen_));
        return "";
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) {
        FAIL_CHECK("the console exited; no \"" << std::string(text) << "\" in: " << out_.substr(seen_));
        return "";
      }
      out_.append(buf, static_cast<size_t>(n));
    }
  }
  // The exit status, once the console exits (-1 if it does not in 10 s).
  int Wait() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL_CHECK("the console did not exit: " << out_.substr(seen_));
        return -1;
      }
      pollfd p{fd_, POLLIN, 0};
      char buf[4096];
      ssize_t n = poll(&p, 1, 20) > 0 ? read(fd_, buf, sizeof buf) : 0;
      if (n > 0) out_.append(buf, static_cast<size_t>(n));  // keep the pty drained
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Ctrl-D at a prompt: the console exits, with status 0.
  void Quit() {
    Prompt();
    Type("\x04");
    CHECK(Wait() == 0);
  }

  // Keys are typed only at a prompt, once the line editor has the terminal
  // (canonical mode off): a key typed before that is read by the terminal's
  // own line discipline, which a person is never fast enough to hit, but a
  // test is (a Ctrl-D there is lost).
  void Prompt(std::string_view prompt = "parendb> ") {
    Expect(prompt);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    termios mode{};
    while (tcgetattr(fd_, &mode) == 0 && (mode.c_lflag & ICANON) != 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL_CHECK("the terminal stayed in canonical mode at the prompt");
        return;
      }
      std::this_thread::yield();
    }
  }

 private:
  std::filesystem::path home_;
  int fd_ = -1;
  pid_t pid_ = -1;
  std::string out_;
  size_t seen_ = 0;
};

std::string RunFile(const std::string& script, const std::string& args, int* status) {
  std::string path = std::filesystem::temp_directory_path() / ("parendb-script-" + std::to_string(getpid()) + ".pdb");
  std::ofstream(path) << script;
  std::string out;
  int raw = RunCommand(std::string(PARENDB_BINARY) + " console " + args + " --file " + path + " 2>&1", &out);
  *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::filesystem::remove(path);
  return out;
}

}  // namespace

TEST_SUITE("console") {
  TEST_CASE("completion: statement names, collections where one is named, lock modes, commands") {
    std::vector<std::string> colls = {"accounts", "people", "pets"};
    CHECK(Complete("(mkc", colls).words == std::vector<std::string>{"mkcoll"});
    CHECK(Complete("(mkc", colls).space_after);
    CHECK(Complete("(s", colls).words == std::vector<std::string>{"select", "selects", "stats"});
    CHECK(Complete("(open t)(select a t wn (coll pe", colls).words == std::vector<std::string>{"people", "pets"});
    CHECK(!Complete("(open t)(select a t wn (coll pe", colls).space_after);
    CHECK(Complete("(select a t w", colls).words == std::vector<std::string>{"wb", "wn"});
    CHECK(Complete("(select a t wn (c", colls).words == std::vector<std::string>{"coll"});
    CHECK(Complete("(rmcoll a", colls).words == std::vector<std::string>{"accounts"});
    CHECK(Complete("(mkcoll a", colls).words.empty());  // a new name
    CHECK(Complete("(mkindex people (f email) u", colls).words == std::vector<std::string>{"unique"});
    CHECK(Complete(":ti", colls).words == std::vector<std::string>{":timing off", ":timing on"});
    // A string's parenthesis opens nothing: this is update's third argument.
    CHECK(Complete("(update a (f \"x(\") (f y) (", colls).words == std::vector<std::string>{"f"});
    CHECK(Complete("(select a t r (coll people) (= (f name) \"pe", colls).words.empty());
    CHECK(CommonPrefix({"select", "selects"}) == "select");
  }

  TEST_CASE("at a terminal: Tab completes, Ctrl-C drops the line, :timing times, errors are red") {
    Terminal t({"console", "--memory"});
    t.Prompt();
    t.Type("(mkc\t");
    t.Expect("oll ");
    t.Type("people)\r");
    t.Expect("(ok mkcoll)");
    t.Prompt();
    t.Type("(open t)(select a t wn (coll peo\t");
    t.Expect("ple");
    t.Type(")(= (f _id) 1))\r");
    t.Expect("(ok opened)");
    t.Expect("(ok selected)");
    // A line half typed, dropped; then an entry across two lines, dropped.
    t.Prompt();
    t.Type("(close t");
    t.Expect("(close t");
    t.Type("\x03");
    t.Expect("^C");
    t.Prompt();
    t.Type("(acquire\r");
    t.Prompt("...> ");
    t.Type("\x03");
    t.Prompt();
    t.Type("(acquire t)\r");
    std::string got = t.Expect("(ok acquired)");
    CHECK(got.find("(error") == std::string::npos);  // neither dropped entry reached the database
    t.Prompt();
    t.Type("(frob)\r");
    t.Expect("\x1b[1;31m(error unknown-statement \"unknown statement frob\")\x1b[0m");
    t.Prompt();
    t.Type(":timing on\r");
    t.Prompt();
    t.Type("(ping)(ping)\r");
    t.Expect("(ok pong)");
    t.Expect("Time: ");
    t.Expect("(ok pong)");
    t.Expect("Time: ");
    t.Quit();
  }

  TEST_CASE("at a terminal, connected to a server: Ctrl-C ends a waiting acquire and the session goes on") {
    TestServer ts;
    auto holder = HoldDocumentOne(*ts.db);
    Terminal t({"console", "--connect", "127.0.0.1:" + std::to_string(ts.port())});
    t.Prompt();
    t.Type("(open w)(select x w wn (coll c) (= (f _id) 1))(acquire w 60000)(readall x)\r");
    t.Expect("(ok selected)");
    // The acquire waits (for a minute) on h's lock; Ctrl-C ends it now.
    UntilSomeoneWaits(*ts.db);
    t.Type("\x03");
    t.Expect("(error lock-timeout \"the acquire of w was cancelled before its locks were granted; transaction w closed\")");
    t.Expect("(ok cancelled 1)");
    t.Expect("(error unknown-selection");  // the readall after it: w is closed
    t.Prompt();
    t.Type("(ping)\r");
    t.Expect("(ok pong)");
    REQUIRE(One(*holder, "(commit h)") == "(ok committed)");
    t.Prompt();
    t.Type("(colls)\r");
    t.Expect("[\"c\"]");
    t.Quit();
  }

  TEST_CASE("(cancel) on a socket: only right after a waiting acquire; otherwise answered in turn") {
    TestServer ts;
    auto holder = HoldDocumentOne(*ts.db);
    Client c(ts.port());
    c.Send("(cancel)\n");
    CHECK(c.Line() == "(ok cancelled 0)");
    c.Send("(open w)(select x w wn (coll c) (= (f _id) 1))(acquire w 60000)\n");
    CHECK(c.Lines(2).back() == "(ok selected)");
    UntilSomeoneWaits(*ts.db);
    c.Send("(cancel)\n(ping)\n");
    CHECK(IsError(c.Line(), "lock-timeout"));
    CHECK(c.Line() == "(ok cancelled 1)");
    CHECK(c.Line() == "(ok pong)");
    // h still holds its lock and commits; a client that half-closes while its
    // acquire waits still gets every answer.
    c.Send("(open v)(select x v wn (coll c) (= (f _id) 1))(acquire v 60000)(readall x)(commit v)\n");
    CHECK(c.Lines(2).back() == "(ok selected)");
    shutdown(c.fd(), SHUT_WR);
    REQUIRE(One(*holder, "(commit h)") == "(ok committed)");
    CHECK(c.Line() == "(ok acquired)");
    CHECK(c.Line() == "{\"_id\":1}");
    CHECK(c.Line() == "(ok committed)");
  }

  TEST_CASE("--file runs a script; --stop-on-error stops at the first error and names its line") {
    int status = -1;
    std::string script = "(mkcoll c)\n(ping)\n\n(frob)\n(colls)\n";
    CHECK(RunFile(script, "--memory", &status) ==
          "(ok mkcoll)\n(ok pong)\n(error unknown-statement \"unknown statement frob\")\n[\"c\"]\n");
    CHECK(status == 0);
    CHECK(RunFile(script, "--memory --stop-on-error", &status) ==
          "(ok mkcoll)\n(ok pong)\n(error unknown-statement \"unknown statement frob\")\n"
          "parendb console: stopped at the first error, the statement on line 4 of " +
              (std::filesystem::temp_directory_path() / ("parendb-script-" + std::to_string(getpid()) + ".pdb")).string() + "\n");
    CHECK(status == 1);
    TestServer ts;
    std::string at = "--connect 127.0.0.1:" + std::to_string(ts.port());
    CHECK(RunFile("(mkcoll d)(open t)(acquire t)(create x t (coll d))\n{\"a\": 1}\n(commit t)", at + " --stop-on-error", &status) ==
          "(ok mkcoll)\n(ok opened)\n(ok acquired)\n(ok created)\n(ok committed)\n");
    CHECK(status == 0);
    // A create without its document is answered only when the next
    // statement begins: the two are sent together, so nothing waits (a
    // fuzz finding); the second (ping) is not sent.
    CHECK(RunFile("(open u)(acquire u)(create x u (coll d)) (ping)\n(ping)", at + " --stop-on-error", &status) ==
          "(ok opened)\n(ok acquired)\n(error bad-document \"the statement must be followed by a JSON object; transaction u closed\")\n"
          "(ok pong)\nparendb console: stopped at the first error, the statement on line 1 of " +
              (std::filesystem::temp_directory_path() / ("parendb-script-" + std::to_string(getpid()) + ".pdb")).string() + "\n");
    std::string out;
    int raw = RunCommand(std::string(PARENDB_BINARY) + " console --memory --file /nonexistent/x.pdb 2>&1", &out);
    CHECK(out == "parendb console: cannot read /nonexistent/x.pdb\n");
    CHECK(WEXITSTATUS(raw) == 1);
  }
}
