// The slow-transaction log: which transactions are described, and what the
// line says (statements, truncation, lock wait, how it ended, the client).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "server_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

struct Logged {
  std::mutex mu;
  std::vector<std::string> lines;
  std::vector<std::string> Take() {
    std::lock_guard lock(mu);
    return std::move(lines);
  }
};

Options SlowLog(Logged* logged, int64_t ms) {
  Options o;
  o.slow_transaction_ms = ms;
  o.on_slow_transaction = [logged](const std::string& line) {
    std::lock_guard lock(logged->mu);
    logged->lines.push_back(line);
  };
  return o;
}

// Lets at least `ms` milliseconds pass (the log is about time held).
void Pass(int ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) std::this_thread::yield();
}

bool Has(const std::string& line, std::string_view part) { return line.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("slowlog") {
  TEST_CASE("a transaction that held its locks past the threshold is logged with its statements; quick ones are not") {
    Logged logged;
    auto db = MemoryDb(SlowLog(&logged, 2));
    auto s = db->NewSession();
    REQUIRE(Lines(*s, "(mkcoll c)(open t)(acquire t)(create a t (coll c)) {\"k\": \"(paren) \\\"q\\\"\"}(commit t)").back() ==
            "(ok committed)");
    logged.Take();  // that one may or may not have been slow: not looked at

    REQUIRE(Lines(*s, "(open slow)\n(select a slow wn (coll c) (= (f _id) 1))\t(acquire slow)").back() == "(ok acquired)");
    Pass(4);
    REQUIRE(Lines(*s, "(update a (f k) \"a string with ) and ( inside\")(commit slow)").back() == "(ok committed)");
    auto lines = logged.Take();
    REQUIRE(lines.size() == 1);
    const std::string& l = lines[0];
    CHECK(l.rfind("slow transaction slow: held its locks ", 0) == 0);
    CHECK(Has(l, "committed; 5 statements: (open slow) (select a slow wn (coll c) (= (f _id) 1)) (acquire slow) "
                 "(update a (f k) \"a string with ) and ( inside\") (commit slow)"));
    double held = std::stod(l.substr(l.find("held its locks ") + 15));
    CHECK(held >= 4.0);

    // Never acquired: no locks held, nothing logged however long it lived.
    REQUIRE(One(*s, "(open idle)") == "(ok opened)");
    Pass(4);
    REQUIRE(One(*s, "(close idle)") == "(ok closed)");
    CHECK(logged.Take().empty());

    // Under a threshold of a minute, nothing is.
    Logged none;
    auto patient = MemoryDb(SlowLog(&none, 60000));
    auto p = patient->NewSession();
    REQUIRE(Lines(*p, "(mkcoll c)(open t)(acquire t)(create a t (coll c)) {}").back() == "(ok created)");
    Pass(3);
    REQUIRE(One(*p, "(commit t)") == "(ok committed)");
    CHECK(none.Take().empty());
  }

  TEST_CASE("the line cuts long statements, counts past sixteen, and names a wait and a close") {
    Logged logged;
    auto db = MemoryDb(SlowLog(&logged, 2));
    auto s = db->NewSession();
    REQUIRE(Lines(*s, "(mkcoll c)(open t)(acquire t)(create a t (coll c)) {\"n\": 0}(commit t)").back() == "(ok committed)");
    logged.Take();
    std::string many = "(open t)(select a t wn (coll c) (= (f _id) 1))(acquire t)(check a (!= (f n) \"" + std::string(200, 'x') + "\"))";
    for (int i = 0; i < 20; ++i) many += "(update a (f n) " + std::to_string(i) + ")";
    REQUIRE(Lines(*s, many).back() == "(ok updated 1)");

    // Another session waits for t's lock, then t closes.
    auto w = db->NewSession();
    std::thread waiter([&] {
      CHECK(Lines(*w, "(open u)(select b u wn (coll c) (= (f _id) 1))(acquire u)(close u)")[2] == "(ok acquired)");
    });
    while (db->engine()->lock_stats().waits.load() == 0) std::this_thread::yield();
    Pass(4);
    REQUIRE(One(*s, "(close t)") == "(ok closed)");
    waiter.join();
    std::string l;
    for (const std::string& line : logged.Take()) {
      if (line.rfind("slow transaction t: ", 0) == 0) l = line;  // (u may be slow too, on a slow machine)
    }
    CHECK(Has(l, "slow transaction t: "));
    CHECK(Has(l, "closed without committing; 25 statements: (open t) (select a t wn (coll c) (= (f _id) 1)) (acquire t) "
                 "(check a (!= (f n) \"xxx"));
    CHECK(Has(l, "x… (update a (f n) 0)"));
    CHECK(Has(l, "(update a (f n) 11) … and 9 more"));
  }

  TEST_CASE("over a socket the line names the client and the time spent waiting for the locks") {
    Logged logged;
    TestServer ts(ServerOptions{}, SlowLog(&logged, 3));
    auto s = ts.db->NewSession();
    REQUIRE(Lines(*s, "(mkcoll c)(open t)(acquire t)(create a t (coll c)) {\"n\": 0}(commit t)").back() == "(ok committed)");
    logged.Take();
    REQUIRE(Lines(*s, "(open hold)(select a hold wn (coll c) (= (f _id) 1))(acquire hold)").back() == "(ok acquired)");
    Client c(ts.port());
    c.Send("(open t)(select a t wn (coll c) (= (f _id) 1))(acquire t)\n");
    CHECK(c.Lines(2).back() == "(ok selected)");
    while (ts.db->engine()->lock_stats().waits.load() == 0) std::this_thread::yield();
    Pass(5);
    REQUIRE(One(*s, "(commit hold)") == "(ok committed)");
    CHECK(c.Line() == "(ok acquired)");
    Pass(4);
    c.Send("(commit t)\n");
    CHECK(c.Line() == "(ok committed)");
    auto lines = logged.Take();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].rfind("slow transaction hold: held its locks ", 0) == 0);
    CHECK(lines[1].rfind("slow transaction t from 127.0.0.1:", 0) == 0);
    const std::string& l = lines[1];
    double waited = std::stod(l.substr(l.find("(waited ") + 8));
    CHECK(waited >= 5.0);
    CHECK(Has(l, "committed; 4 statements: (open t) (select a t wn (coll c) (= (f _id) 1)) (acquire t) (commit t)"));
  }
}
