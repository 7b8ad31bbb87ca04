// Hostile input over real sockets (issue 14): inputs that once hung a
// connection, each sent whole and split at every byte, and abusive clients
// beside a well-behaved one.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server_util.h"
#include "test_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

// Sends text as two writes cut at `cut` (0: whole) and reads n lines.
std::vector<std::string> Exchange(uint16_t port, const std::string& text, size_t cut, size_t n) {
  Client c(port);
  if (cut == 0) {
    c.Send(text);
  } else {
    c.Send(text.substr(0, cut));
    c.Send(text.substr(cut));
  }
  return c.Lines(n);
}

// Whether every line is as expected; an expected line ending in '…' is a
// prefix.
bool Matches(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string& w = want[i];
    bool prefix = w.size() >= 3 && w.compare(w.size() - 3, 3, "…") == 0;
    if (prefix ? got[i].rfind(w.substr(0, w.size() - 3), 0) != 0 : got[i] != w) return false;
  }
  return true;
}

std::string Show(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

}  // namespace

TEST_SUITE("hostile") {
  TEST_CASE("what follows create/updateall is consumed with it, whatever it is, however it is split") {
    TestServer ts;
    {
      Client setup(ts.port());
      setup.Send("(mkcoll c)(open t)(acquire t)(create d t (coll c)) {\"a\": 1}(commit t)");
      REQUIRE(setup.Lines(5).back() == "(ok committed)");
    }
    const std::string create = "(open t)(acquire t)(create n t (coll c)) ";
    const std::string update = "(open t)(select s t wb (coll c) (= (f _id) 1))(acquire t)(updateall s) ";
    struct Case {
      std::string text;
      std::vector<std::string> want;
    };
    std::vector<Case> cases;
    for (std::string value : {"[1,2]", "\"x\"", "42", "null", "true", "[]"}) {
      cases.push_back({create + value + "\n(ping)\n",
                       {"(ok opened)", "(ok acquired)", "(error bad-document \"the statement must be followed by a JSON object, found…",
                        "(ok pong)"}});
      cases.push_back({update + value + "\n(ping)\n",
                       {"(ok opened)", "(ok selected)", "(ok acquired)",
                        "(error bad-document \"the statement must be followed by a JSON object, found…", "(ok pong)"}});
    }
    // Unmatched brackets: the error, then the stream goes on after the line.
    cases.push_back({create + "{\"a\":[1,2}\n(ping)\n",
                     {"(ok opened)", "(ok acquired)", "(error bad-document \"'}' where ']' closes…", "(ok pong)"}});
    // The issue's own form, without a transaction: one error for the pair.
    cases.push_back({"(create n t (coll c)) {\"a\":[1,2}\n(ping)\n",
                     {"(error bad-document \"'}' where ']' closes…", "(ok pong)"}});
    cases.push_back({"(create n t (coll c)) [1,2]\n(ping)\n", {"(error bad-document \"the statement must be followed by a JSON object, found an array at 1:23\")", "(ok pong)"}});
    for (const Case& c : cases) {
      CAPTURE(c.text);
      for (size_t cut = 0; cut < c.text.size(); ++cut) {
        CAPTURE(cut);
        auto got = Exchange(ts.port(), c.text, cut, c.want.size());
        CHECK_MESSAGE(Matches(got, c.want), Show(got));
      }
    }
  }

  TEST_CASE("a run of '(' deeper than the limit is answered at once, then the connection closes") {
    TestServer ts;
    for (size_t depth : {size_t{257}, size_t{300}, size_t{100000}}) {
      std::string text = std::string(depth, '(') + "\n(ping)\n";
      std::vector<size_t> cuts = {0, 1, 256, 257, depth, depth + 1};
      if (depth == 300) {
        cuts.clear();
        for (size_t cut = 0; cut < text.size(); ++cut) cuts.push_back(cut);
      }
      for (size_t cut : cuts) {
        CAPTURE(depth);
        CAPTURE(cut);
        auto got = Exchange(ts.port(), text, cut, 2);
        CHECK_MESSAGE(Matches(got, {"(error limit \"statement nested deeper than the limit of 256 levels…", "<closed>"}),
                      Show(got));
      }
    }
    // The server goes on for everyone else.
    Client c(ts.port());
    c.Send("(ping)");
    CHECK(c.Line() == "(ok pong)");
  }
}
