// Each isolation anomaly provoked on purpose, with threads and explicit
// interleavings, for the lock modes where it could happen, asserting the
// wait, error or result the contract requires (docs/concurrency.md).
//
// "T waits" is observed, not timed: the test spins until the engine's
// lock_waits counter shows T's request queued.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "test_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

// Accounts x (_id 1) and y (_id 2), both {"v": 0}.
std::unique_ptr<Database> TwoDocs() {
  auto db = MemoryDb();
  auto s = db->NewSession();
  REQUIRE(Lines(*s, "(mkcoll c)(open t)(acquire t)(create x t (coll c)) {\"v\": 0}(create y t (coll c)) {\"v\": 0}"
                    "(commit t)")
              .back() == "(ok committed)");
  return db;
}

uint64_t LockWaits(Database& db) {
  std::string stats = One(*db.NewSession(), "(stats)");
  return std::stoull(stats.substr(stats.find("\"lock_waits\":") + 13));
}

// Runs text on session s in another thread; the result is ready once every
// statement has been answered.
std::future<std::vector<std::string>> Later(Session& s, std::string text) {
  return std::async(std::launch::async, [&s, text] { return Lines(s, text); });
}

// Spins until some request has started waiting beyond `before`.
void UntilWaiting(Database& db, uint64_t before) {
  while (LockWaits(db) <= before) std::this_thread::yield();
}

std::string V(Session& s, int id) {
  return Lines(s, "(open q)(select a q r (coll c) (= (f _id) " + std::to_string(id) + "))(acquire q)(read a (f v))(close q)")[3];
}

}  // namespace

TEST_SUITE("isolation") {
  TEST_CASE("old versions: a long reader keeps one old version per document it could see, no more") {
    auto db = MemoryDb();
    auto w = db->NewSession();
    std::string load = "(mkcoll c)(open t)(acquire t)";
    for (int i = 0; i < 100; ++i) load += "(create d" + std::to_string(i) + " t (coll c)) {\"v\": 0}";
    REQUIRE(Lines(*w, load + "(commit t)").back() == "(ok committed)");
    auto versions = [&] {
      std::string stats = One(*w, "(stats)");
      return std::stoll(stats.substr(stats.find("\"versions\":") + 11));
    };
    CHECK(versions() == 100);
    // Without readers, rewriting keeps one version per document.
    for (int round = 0; round < 20; ++round) {
      Lines(*w, "(open t)(selects all t wn (coll c) true)(acquire t)(update all (f v) (+ (f v) 1))(commit t)");
    }
    CHECK(versions() == 100);
    // A long reader holds its snapshot while every document is rewritten
    // 50 times: each keeps its newest version and the one the reader sees.
    auto reader = db->NewSession();
    REQUIRE(Lines(*reader, "(open q)(select a q r (coll c) (= (f _id) 1))(acquire q)").back() == "(ok acquired)");
    for (int round = 0; round < 50; ++round) {
      Lines(*w, "(open t)(selects all t wn (coll c) true)(acquire t)(update all (f v) (+ (f v) 1))(commit t)");
    }
    CHECK(versions() == 200);
    CHECK(One(*reader, "(read a (f v))") == R"({"_id":1,"v":20})");  // still its snapshot
    One(*reader, "(close q)");
    // Once the reader is gone, the next write of each document drops its old version.
    Lines(*w, "(open t)(selects all t wn (coll c) true)(acquire t)(update all (f v) (+ (f v) 1))(commit t)");
    CHECK(versions() == 100);
  }

  TEST_CASE("G0 dirty write: a second writer waits for the first to end") {
    for (const char* mode : {"wn", "wb"}) {
      CAPTURE(mode);
      auto db = TwoDocs();
      auto t1 = db->NewSession(), t2 = db->NewSession();
      std::string m = mode;
      REQUIRE(Lines(*t1, "(open t)(select a t " + m + " (coll c) (= (f _id) 1))(acquire t)(update a (f v) 1)").back() ==
              "(ok updated 1)");
      uint64_t w = LockWaits(*db);
      auto second = Later(*t2, "(open u)(select a u " + m + " (coll c) (= (f _id) 1))(acquire u)(read a (f v))"
                                  "(update a (f v) 2)(commit u)");
      UntilWaiting(*db, w);
      CHECK(One(*t1, "(commit t)") == "(ok committed)");
      auto out = second.get();
      CHECK(out[3] == R"({"_id":1,"v":1})");  // it saw the first writer's committed value
      CHECK(out[5] == "(ok committed)");
      CHECK(V(*t1, 1) == R"({"_id":1,"v":2})");
    }
  }

  TEST_CASE("G1a aborted read: a closed transaction's writes are never seen") {
    auto db = TwoDocs();
    auto t1 = db->NewSession(), t2 = db->NewSession();
    Lines(*t1, "(open t)(select a t wn (coll c) (= (f _id) 1))(acquire t)(update a (f v) 99)");
    CHECK(V(*t2, 1) == R"({"_id":1,"v":0})");  // a reader beside wn sees the committed version
    One(*t1, "(close t)");
    CHECK(V(*t2, 1) == R"({"_id":1,"v":0})");
  }

  TEST_CASE("G1b intermediate read: only a transaction's final value is ever visible") {
    auto db = TwoDocs();
    auto t1 = db->NewSession(), t2 = db->NewSession();
    Lines(*t1, "(open t)(select a t wn (coll c) (= (f _id) 1))(acquire t)(update a (f v) 1)");
    CHECK(V(*t2, 1) == R"({"_id":1,"v":0})");
    Lines(*t1, "(update a (f v) 2)(commit t)");
    CHECK(V(*t2, 1) == R"({"_id":1,"v":2})");
  }

  TEST_CASE("G1c circular information flow: update transactions that read each other's writes are ordered") {
    auto db = TwoDocs();
    auto t1 = db->NewSession(), t2 = db->NewSession();
    // T1 writes x, reads y; T2 writes y, reads x.
    Lines(*t1, "(open t)(select x t wn (coll c) (= (f _id) 1))(select y t r (coll c) (= (f _id) 2))(acquire t)"
               "(update x (f v) 1)");
    uint64_t w = LockWaits(*db);
    auto second = Later(*t2, "(open u)(select y u wn (coll c) (= (f _id) 2))(select x u r (coll c) (= (f _id) 1))"
                             "(acquire u)(read x (f v))(update y (f v) 1)(commit u)");
    UntilWaiting(*db, w);
    CHECK(One(*t1, "(read y (f v))") == R"({"_id":2,"v":0})");
    CHECK(One(*t1, "(commit t)") == "(ok committed)");
    auto out = second.get();
    CHECK(out[4] == R"({"_id":1,"v":1})");  // T2 after T1: it sees T1's x, T1 did not see T2's y
    CHECK(out[6] == "(ok committed)");
  }

  TEST_CASE("observed transaction vanishes / read skew: a reader sees all of a commit or none") {
    auto db = TwoDocs();
    auto writer = db->NewSession(), reader = db->NewSession();
    // The reader (only reads) takes its snapshot, reads x; the writer then
    // changes both x and y and commits; the reader's y is still the old one.
    CHECK(Lines(*reader, "(open q)(select x q r (coll c) (= (f _id) 1))(select y q r (coll c) (= (f _id) 2))"
                         "(acquire q)(read x (f v))")[4] == R"({"_id":1,"v":0})");
    CHECK(Lines(*writer, "(open t)(selects both t wn (coll c) true)(acquire t)(update both (f v) 7)(commit t)").back() ==
          "(ok committed)");
    CHECK(One(*reader, "(read y (f v))") == R"({"_id":2,"v":0})");
    One(*reader, "(close q)");
    CHECK(Lines(*reader, "(open q)(selects all q r (coll c) true)(acquire q)(read all (f v))(close q)")[3] ==
          R"([{"_id":1,"v":7},{"_id":2,"v":7}])");
    // An update transaction's r lock instead makes the writer wait.
    auto t1 = db->NewSession(), t2 = db->NewSession();
    Lines(*t1, "(open t)(select x t r (coll c) (= (f _id) 1))(select z t wn (coll c) (= (f _id) 2))(acquire t)");
    uint64_t w = LockWaits(*db);
    auto blocked = Later(*t2, "(open u)(select x u wn (coll c) (= (f _id) 1))(acquire u)(update x (f v) 8)(commit u)");
    UntilWaiting(*db, w);
    CHECK(One(*t1, "(read x (f v))") == R"({"_id":1,"v":7})");
    One(*t1, "(commit t)");
    CHECK(blocked.get().back() == "(ok committed)");
  }

  TEST_CASE("lost update: concurrent increments both count") {
    for (const char* mode : {"wn", "wb"}) {
      CAPTURE(mode);
      auto db = TwoDocs();
      std::string inc = std::string("(open t)(select a t ") + mode +
                        " (coll c) (= (f _id) 1))(acquire t 10000)(update a (f v) (+ (f v) 1))(commit t)";
      std::vector<std::thread> threads;
      for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
          auto s = db->NewSession();
          for (int k = 0; k < 50; ++k) REQUIRE(Lines(*s, inc).back() == "(ok committed)");
        });
      }
      for (auto& t : threads) t.join();
      CHECK(V(*db->NewSession(), 1) == R"({"_id":1,"v":200})");
    }
  }

  TEST_CASE("write skew: two transactions that check the other's document are ordered, so the check sees the change") {
    // Invariant: x.v + y.v >= 1. Both start at 1 (on call); each transaction
    // may set its own to 0 only if the other is still 1.
    auto db = MemoryDb();
    auto s = db->NewSession();
    Lines(*s, "(mkcoll c)(open t)(acquire t)(create x t (coll c)) {\"v\": 1}(create y t (coll c)) {\"v\": 1}(commit t)");
    auto t1 = db->NewSession(), t2 = db->NewSession();
    Lines(*t1, "(open t)(select me t wn (coll c) (= (f _id) 1))(select other t r (coll c) (= (f _id) 2))(acquire t)");
    uint64_t w = LockWaits(*db);
    auto second = Later(*t2, "(open u)(select me u wn (coll c) (= (f _id) 2))(select other u r (coll c) (= (f _id) 1))"
                             "(acquire u)(check other (= (f v) 1))(update me (f v) 0)(commit u)");
    UntilWaiting(*db, w);  // T2's r on x waits for T1's wn on x
    CHECK(Lines(*t1, "(check other (= (f v) 1))(update me (f v) 0)(commit t)").back() == "(ok committed)");
    auto out = second.get();
    CHECK(IsError(out[4], "check-failed"));  // T2 sees x = 0 and refuses
    CHECK(Lines(*s, "(open q)(selects all q r (coll c) true)(acquire q)(read all (f v))(close q)")[3] ==
          R"([{"_id":1,"v":0},{"_id":2,"v":1}])");
  }

  TEST_CASE("phantoms: a change that makes a document match waits for a predicate reader") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    Lines(*s, "(mkcoll p)(open t)(acquire t)(create a t (coll p)) {\"age\": 30}(create b t (coll p)) {\"age\": 70}(commit t)"
              "(mkcoll log)");
    auto reader = db->NewSession(), writer = db->NewSession();
    // An update transaction (it also writes elsewhere) reading every old
    // person. (With only r selections it would read a snapshot instead, and
    // the writer would not wait.)
    CHECK(Lines(*reader, "(open t)(selects old t r (coll p) (> (f age) 60))(selects mine t wn (coll log) true)"
                         "(acquire t)")
              .back() == "(ok acquired)");
    uint64_t w = LockWaits(*db);
    auto change = Later(*writer, "(open u)(select a u wn (coll p) (= (f _id) 1))(acquire u)(update a (f age) 75)(commit u)");
    UntilWaiting(*db, w);
    CHECK(One(*reader, "(read old (f age))") == R"([{"_id":2,"age":70}])");
    // A create that would match is refused at once.
    CHECK(IsError(Lines(*db->NewSession(), "(open v)(acquire v)(create n v (coll p)) {\"age\": 99}")[2], "conflict"));
    CHECK(One(*reader, "(commit t)") == "(ok committed)");
    CHECK(change.get().back() == "(ok committed)");
  }

  TEST_CASE("the read-only anomaly cannot happen: a reader's snapshot is a prefix of the serial order") {
    // Fekete's example: x = checking, y = savings, both 0. T2 withdraws 10
    // from y with a penalty of 1 if x + y would go negative; T3 deposits 20
    // into x; T1 only reads. With T2 and T3 ordered by their locks, a
    // reader never sees T3's deposit without T2's withdrawal decision.
    auto db = TwoDocs();
    auto t1 = db->NewSession(), t2 = db->NewSession(), t3 = db->NewSession();
    Lines(*t2, "(open w)(select x w r (coll c) (= (f _id) 1))(select y w wn (coll c) (= (f _id) 2))(acquire w)");
    uint64_t waits = LockWaits(*db);
    auto deposit = Later(*t3, "(open d)(select x d wn (coll c) (= (f _id) 1))(acquire d)(update x (f v) (+ (f v) 20))"
                              "(commit d)");
    UntilWaiting(*db, waits);  // T3 writes what T2 read: it waits for T2
    // A reader now sees neither.
    CHECK(Lines(*t1, "(open q)(selects all q r (coll c) true)(acquire q)(read all (f v))(close q)")[3] ==
          R"([{"_id":1,"v":0},{"_id":2,"v":0}])");
    // T2 saw x = 0: 0 + 0 - 10 < 0, so it takes the penalty.
    CHECK(Lines(*t2, "(read x (f v))(update y (f v) -11)(commit w)").back() == "(ok committed)");
    CHECK(deposit.get().back() == "(ok committed)");
    CHECK(Lines(*t1, "(open q)(selects all q r (coll c) true)(acquire q)(read all (f v))(close q)")[3] ==
          R"([{"_id":1,"v":20},{"_id":2,"v":-11}])");
  }
}
