// Hostile input over real sockets (issue 14): inputs that once hung a
// connection, each sent whole and split at every byte, and abusive clients
// beside a well-behaved one.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server_util.h"
#include "test_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

// Sends text as two writes cut at `cut` (0: whole) and reads n lines.
std::vector<std::string> Exchange(uint16_t port, const std::string& text, size_t cut, size_t n) {
  Client c(port);
  // The server may close before it has everything (after a limit).
  if (cut == 0) {
    c.TrySend(text);
  } else if (c.TrySend(text.substr(0, cut))) {
    c.TrySend(text.substr(cut));
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

// Waits (polling; completion, not speed) until done() or a minute passes.
template <typename Done>
bool WaitFor(Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
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

  TEST_CASE("1,000 connections each holding an unfinished statement near the size limit stay within the input budget") {
    ServerOptions so;
    so.max_input_bytes = 4 << 20;
    Options dbo;
    dbo.max_statement_bytes = 64 << 10;
    TestServer ts(so, dbo);
    const std::string partial = "(ping \"" + std::string(60 << 10, 'x');  // never ends
    std::vector<std::unique_ptr<Client>> abusers;
    for (int i = 0; i < 1000; ++i) {
      abusers.push_back(std::make_unique<Client>(ts.port()));
      abusers.back()->Send(partial);
    }
    // Served all along, and afterwards.
    Client good(ts.port());
    good.Send("(ping)");
    CHECK(good.Line() == "(ok pong)");
    // Each connection whose 60 KiB were read holds at least that much, so
    // at most budget / 60 KiB of them can remain.
    const uint64_t most_kept = so.max_input_bytes / (60 << 10);
    CHECK(WaitFor([&] {
      Server::InputStats now = ts.server->input_stats();
      // ... and every evicted connection answered and closed.
      return now.evicted >= 1000 - most_kept && now.buffered <= so.max_input_bytes &&
             ts.server->connections() + now.evicted == 1001;
    }));
    // The evicted were told why, then closed; the rest still wait. A read
    // already under way can still evict one more, so count until the told
    // catch up with the server's count rather than comparing one snapshot.
    std::vector<bool> told(abusers.size(), false);
    uint64_t n_told = 0;
    CHECK(WaitFor([&] {
      for (size_t i = 0; i < abusers.size(); ++i) {
        if (told[i] || !abusers[i]->HasData(0)) continue;
        std::string line = abusers[i]->Line();
        CHECK(line.rfind("(error limit \"the server's buffers for unfinished input are full", 0) == 0);
        CHECK(abusers[i]->Line() == "<closed>");
        told[i] = true;
        ++n_told;
      }
      return n_told == ts.server->input_stats().evicted;
    }));
    Server::InputStats st = ts.server->input_stats();
    CAPTURE(st.peak);
    CAPTURE(st.evicted);
    CHECK(st.evicted >= 1000 - most_kept);
    // Over by at most what each I/O thread read before evicting (one
    // connection's buffer: its item plus one read).
    CHECK(st.peak <= so.max_input_bytes + 2 * (2 * ((64 << 10) + (64 << 10))));
    good.Send("(mkcoll c)(ping)");
    CHECK(good.Lines(2) == std::vector<std::string>{"(ok mkcoll)", "(ok pong)"});
    // Gone with their connections: what is left is the good client's
    // small buffer.
    abusers.clear();
    CHECK(WaitFor([&] { return ts.server->connections() == 1; }));
    CHECK(ts.server->input_stats().buffered < 4096);
  }

  TEST_CASE("a client that opens transactions and never finishes them holds back no one else") {
    Options dbo;
    dbo.max_transactions_per_session = 8;
    TestServer ts({}, dbo);
    Client setup(ts.port());
    setup.Send("(mkcoll c)(open t)(acquire t)(create a t (coll c)) {\"n\": 1}(create b t (coll c)) {\"n\": 2}(commit t)");
    REQUIRE(setup.Lines(6).back() == "(ok committed)");
    Client idle(ts.port());
    std::string opens = "(open t0)(select x t0 wb (coll c) (= (f _id) 1))(acquire t0)";
    for (int i = 1; i < 8; ++i) opens += "(open t" + std::to_string(i) + ")";
    opens += "(open t8)";
    idle.Send(opens);
    auto got = idle.Lines(3 + 7 + 1);
    CHECK(got[2] == "(ok acquired)");
    CHECK(IsError(got.back(), "limit"));  // the ninth
    // Others: what the idle client does not hold is theirs; what it holds
    // is answered lock-timeout, not a hang.
    Client other(ts.port());
    other.Send("(open u)(select y u wb (coll c) (= (f _id) 2))(acquire u 1000)(update y (f n) 3)(commit u)");
    CHECK(other.Lines(5).back() == "(ok committed)");
    other.Send("(open v)(select z v wb (coll c) (= (f _id) 1))(acquire v 50)");
    got = other.Lines(3);
    CHECK(IsError(got[2], "lock-timeout"));
    idle.Close();  // its transactions close with it, and their locks go
    other.Send("(open v)(select z v wb (coll c) (= (f _id) 1))(acquire v 5000)(commit v)");
    CHECK(other.Lines(4).back() == "(ok committed)");
  }

  TEST_CASE("a client that pipelines a million statements without reading is held back; others are served") {
    ServerOptions so;
    so.max_output_bytes = 64 << 10;
    TestServer ts(so);
    const size_t total = 1000000;
    std::string pings;
    for (size_t i = 0; i < total; ++i) pings += "(ping)";
    Client flood(ts.port(), 64 << 10);
    size_t sent = 0;
    // The server stops reading once 64 KiB of answers wait; the socket
    // buffers fill and the sender stalls long before a million.
    bool all = flood.SendUntilStalled(pings, pings.size(), &sent);
    CHECK(!all);
    CHECK(sent < pings.size());
    Client good(ts.port());
    good.Send("(ping)(mkcoll c)");
    CHECK(good.Lines(2) == std::vector<std::string>{"(ok pong)", "(ok mkcoll)"});
    CHECK(ts.server->input_stats().buffered <= 2 * ((64 << 10) + (64 << 10)));
    // Reading, the flood gets every answer, in order.
    std::thread sender([&] { flood.Send(std::string_view(pings).substr(sent)); });
    size_t pongs = 0;
    for (std::string line; pongs < total && (line = flood.Line()) == "(ok pong)";) ++pongs;
    sender.join();
    CHECK(pongs == total);
  }

  TEST_CASE("a client that trickles a byte at a time is answered when its statement is whole; others meanwhile") {
    TestServer ts;
    Client trickle(ts.port()), good(ts.port());
    const std::string text = "(mkcoll slow)(open t)(acquire t)(create d t (coll slow)) {\"s\": \"a \\\"quoted\\\" (text)\"}(commit t)";
    for (size_t i = 0; i < text.size(); ++i) {
      trickle.Send(text.substr(i, 1));
      good.Send("(ping)");
      REQUIRE(good.Line() == "(ok pong)");
    }
    CHECK(trickle.Lines(5) == std::vector<std::string>{"(ok mkcoll)", "(ok opened)", "(ok acquired)", "(ok created)",
                                                       "(ok committed)"});
  }

  TEST_CASE("with an input timeout, a statement that does not arrive whole in time is answered and closed") {
    ServerOptions so;
    so.input_timeout = std::chrono::milliseconds(200);
    TestServer ts(so);
    Client trickle(ts.port()), good(ts.port());
    trickle.Send("(open t)(create d t (coll c)) {\"never\": ");
    CHECK(trickle.Line() == "(ok opened)");
    // Answered once the time is up (completion, whatever the time), while
    // the other connection goes on; whole statements never time out.
    good.Send("(ping)");
    CHECK(good.Line() == "(ok pong)");
    std::string line = trickle.Line();
    CHECK(line.rfind("(error limit \"an unfinished statement did not arrive whole within 200 ms", 0) == 0);
    CHECK(trickle.Line() == "<closed>");
    good.Send("(ping)");
    CHECK(good.Line() == "(ok pong)");
  }
}
