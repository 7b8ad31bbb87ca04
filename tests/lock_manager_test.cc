#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <shared_mutex>
#include <thread>

#include "base/distributed_rw_lock.h"
#include "lockmgr/id_table.h"

#include "lockmgr/lock_manager.h"

using namespace parendb;
using namespace std::chrono_literals;

namespace {

ResourceId Name(std::string_view r) { return std::hash<std::string_view>()(r) | 1; }

// A whole collection (or any resource locked as a whole).
LockTarget T(std::string_view r, LockMode m) { return LockTarget{Name(r), m, 0}; }

// A document of a collection: its own lock and the collection's intention lock.
LockTarget D(std::string_view collection, std::string_view doc, LockMode m) {
  return LockTarget{Name(std::string(collection) + "/" + std::string(doc)), m, Name(collection)};
}

// Transactions by number, as the tests name them, each with its connection.
struct Txns {
  std::map<int, std::unique_ptr<LockManager::Txn>> all;
  LockManager::Txn* operator()(int id, OwnerId owner) {
    auto& t = all[id];
    if (!t) t = std::make_unique<LockManager::Txn>(owner);
    return t.get();
  }
  LockManager::Txn* operator[](int id) { return all.at(id).get(); }
};

// A request whose outcome arrives through a future.
struct Request {
  std::promise<Status> promise;
  std::future<Status> future = promise.get_future();
  LockManager::Outcome outcome;
  Status why;

  Request(LockManager& lm, LockManager::Txn* txn, std::vector<LockTarget> targets,
          std::chrono::milliseconds timeout = 10s) {
    outcome = lm.Acquire(
        txn, targets, timeout, [this]() -> LockManager::Callback { return [this](Status st) { promise.set_value(st); }; },
        &why);
  }
  bool granted_now() const { return outcome == LockManager::Outcome::kGranted; }
  bool waiting() const { return outcome == LockManager::Outcome::kWaiting; }
  // Whether the callback has run (without blocking).
  bool decided() const { return future.wait_for(0s) == std::future_status::ready; }
};

constexpr LockMode RS = LockMode::kSnapshotRead, S = LockMode::kShared, X = LockMode::kExclusive,
                   XB = LockMode::kExclusiveBlocking;

}  // namespace

TEST_SUITE("lockmgr") {
  TEST_CASE("compatibility table of the contract") {
    // Read-only readers (RS) pass wn writers (X) but not wb (XB).
    CHECK(Compatible(RS, false, RS, false));
    CHECK(Compatible(RS, false, S, false));
    CHECK(Compatible(X, false, RS, false));
    CHECK(Compatible(RS, false, X, false));
    CHECK_FALSE(Compatible(XB, false, RS, false));
    CHECK_FALSE(Compatible(RS, false, XB, false));
    // Update transactions' r (S) waits for wn, and wn waits for it.
    CHECK(Compatible(S, false, S, false));
    CHECK_FALSE(Compatible(X, false, S, false));
    CHECK_FALSE(Compatible(S, false, X, false));
    CHECK_FALSE(Compatible(X, false, X, false));
    CHECK_FALSE(Compatible(XB, false, XB, false));
    // Intention locks meet each other freely, and whole-collection locks by
    // their base modes.
    CHECK(Compatible(X, true, XB, true));
    CHECK_FALSE(Compatible(S, false, X, true));  // a predicate read blocks writers below
    CHECK(Compatible(RS, false, X, true));       // but a snapshot reader does not
  }

  TEST_CASE("key ranges: overlap decides, _id ranges meet only keyed intentions, many keys widen safely") {
    LockManager lm;
    auto key = [](int i) {
      char b[16];
      std::snprintf(b, sizeof b, "k%03d", i);
      return std::string(b);
    };
    auto range = [&](int lo, int hi) {
      KeyRange r;
      r.lo = key(lo);
      r.hi = key(hi);
      return r;
    };
    ResourceId coll = Name("c"), index = Name("c/index");
    LockManager::Txn a(1), b(2), c(3);
    KeyRange ab = range(10, 20), other = range(21, 30), inside = KeyRange::Point(key(15));
    std::vector<LockTarget> t{LockTarget{index, LockMode::kExclusive, coll, &ab}};
    CHECK(lm.TryAcquire(&a, t));
    t = {LockTarget{index, LockMode::kExclusive, coll, &other}};
    CHECK(lm.TryAcquire(&b, t));  // disjoint: both hold
    t = {LockTarget{index, LockMode::kExclusive, coll, &inside}};
    CHECK_FALSE(lm.TryAcquire(&c, t));
    // _id keys: a range on the collection's stripes meets a create's key,
    // not a document lock without one.
    KeyRange ids = range(40, 50), new_id = KeyRange::Point(key(45)), far_id = KeyRange::Point(key(60));
    t = {LockTarget{coll, LockMode::kShared, 0, &ids}};
    CHECK(lm.TryAcquire(&a, t));
    t = {LockTarget{Name("c/existing"), LockMode::kExclusive, coll}};
    CHECK(lm.TryAcquire(&c, t));
    t = {LockTarget{Name("c/45"), LockMode::kExclusive, coll, nullptr, &new_id}};
    CHECK_FALSE(lm.TryAcquire(&c, t));
    t = {LockTarget{Name("c/60"), LockMode::kExclusive, coll, nullptr, &far_id}};
    CHECK(lm.TryAcquire(&c, t));
    t = {LockTarget{coll, LockMode::kExclusive, 0}};  // the whole collection: meets everything
    CHECK_FALSE(lm.TryAcquire(&b, t));
    lm.Release(&a);
    lm.Release(&b);
    lm.Release(&c);
    // Many keys of one transaction widen into a span, but never over a key
    // another transaction holds.
    std::deque<KeyRange> points;
    KeyRange held = KeyRange::Point(key(110));
    t = {LockTarget{index, LockMode::kExclusive, coll, &held}};
    REQUIRE(lm.TryAcquire(&b, t));
    for (int i = 100; i < 120; ++i) {
      if (i == 110) continue;
      points.push_back(KeyRange::Point(key(i)));
      t = {LockTarget{index, LockMode::kExclusive, coll, &points.back()}};
      CHECK_MESSAGE(lm.TryAcquire(&a, t), i);
    }
    KeyRange gap = KeyRange::Point(key(105) + "x");  // between two of a's keys: inside its span
    t = {LockTarget{index, LockMode::kExclusive, coll, &gap}};
    CHECK_FALSE(lm.TryAcquire(&c, t));
    KeyRange beyond = KeyRange::Point(key(121));
    t = {LockTarget{index, LockMode::kExclusive, coll, &beyond}};
    CHECK(lm.TryAcquire(&c, t));
    lm.Release(&a);
    t = {LockTarget{index, LockMode::kExclusive, coll, &gap}};
    CHECK(lm.TryAcquire(&c, t));  // a's span went with it
    lm.Release(&b);
    lm.Release(&c);
  }

  TEST_CASE("grant at once, wait, and grant on release") {
    LockManager lm;
    Txns tx;
    Request a(lm, tx(1, 100), {D("c", "1", X)});
    CHECK(a.granted_now());
    Request b(lm, tx(2, 200), {D("c", "1", X)});
    REQUIRE(b.waiting());
    Request other_doc(lm, tx(3, 300), {D("c", "2", X)});
    CHECK(other_doc.granted_now());  // different _id: never waits
    CHECK_FALSE(b.decided());
    lm.Release(tx[1]);
    CHECK(b.future.get().ok());
    CHECK(lm.stats().waits.load() == 1);
    lm.Release(tx[2]);
    lm.Release(tx[3]);
  }

  TEST_CASE("first come first served: wb is not starved by readers") {
    LockManager lm;
    Txns tx;
    Request r1(lm, tx(1, 1), {T("c", S)});
    REQUIRE(r1.granted_now());
    Request w(lm, tx(2, 2), {T("c", XB)});
    REQUIRE(w.waiting());
    Request r2(lm, tx(3, 3), {T("c", S)});  // compatible with r1, but queued behind w
    REQUIRE(r2.waiting());
    lm.Release(tx[1]);
    CHECK(w.future.get().ok());
    CHECK_FALSE(r2.decided());
    lm.Release(tx[2]);
    CHECK(r2.future.get().ok());
    lm.Release(tx[3]);
  }

  TEST_CASE("timeouts end a wait with lock-timeout") {
    LockManager lm;
    Txns tx;
    Request a(lm, tx(1, 1), {T("c", XB)});
    Request b(lm, tx(2, 2), {T("c", RS)}, 20ms);
    REQUIRE(b.waiting());
    Status st = b.future.get();
    CHECK(st.code() == ErrorCode::kLockTimeout);
    CHECK(lm.stats().timeouts.load() == 1);
    // The timed-out request left the queue: a later compatible one is granted.
    lm.Release(tx[1]);
    Request c(lm, tx(3, 3), {T("c", X)});
    CHECK(c.granted_now());
    lm.Release(tx[3]);
  }

  TEST_CASE("waiting on a lock held by the same connection is a deadlock") {
    LockManager lm;
    Txns tx;
    Request a(lm, tx(1, 7), {T("c", X)});
    REQUIRE(a.granted_now());
    Request b(lm, tx(2, 7), {T("c", X)});
    CHECK(b.outcome == LockManager::Outcome::kDenied);
    CHECK(b.why.code() == ErrorCode::kDeadlock);
    lm.Release(tx[1]);
  }

  TEST_CASE("a cycle through two connections is a deadlock") {
    LockManager lm;
    Txns tx;
    // Connection 1 holds t1 on x; connection 2 holds t3 on y.
    Request t1(lm, tx(1, 1), {T("x", X)});
    Request t3(lm, tx(3, 2), {T("y", X)});
    // Connection 1 opens t2 wanting y: waits on t3.
    Request t2(lm, tx(2, 1), {T("y", X)});
    REQUIRE(t2.waiting());
    // Connection 2 opens t4 wanting x: waits on t1, whose connection waits
    // on t2, which waits on t3 of connection 2 — a cycle.
    Request t4(lm, tx(4, 2), {T("x", X)});
    CHECK(t4.outcome == LockManager::Outcome::kDenied);
    CHECK(lm.stats().deadlocks.load() == 1);
    lm.Release(tx[3]);
    CHECK(t2.future.get().ok());
    lm.Release(tx[1]);
    lm.Release(tx[2]);
  }

  TEST_CASE("releasing a waiting transaction cancels its wait") {
    LockManager lm;
    Txns tx;
    Request a(lm, tx(1, 1), {T("c", X)});
    Request b(lm, tx(2, 2), {T("c", X)});
    REQUIRE(b.waiting());
    lm.Release(tx[2]);  // b's connection went away
    lm.Release(tx[1]);
    Request c(lm, tx(3, 3), {T("c", XB)});
    CHECK(c.granted_now());
    CHECK_FALSE(b.decided());
    lm.Release(tx[3]);
  }

  TEST_CASE("TryAcquire never waits") {
    LockManager lm;
    Txns tx;
    Request a(lm, tx(1, 1), {T("c", S)});
    std::vector<LockTarget> create{D("c", "9", X)};
    CHECK_FALSE(lm.TryAcquire(tx(2, 2), create));
    CHECK(lm.TryAcquire(tx[1], create));  // its own S upgrades
    lm.Release(tx[1]);
    CHECK(lm.TryAcquire(tx[2], create));
    lm.Release(tx[2]);
  }

  TEST_CASE("many threads contending stay consistent") {
    LockManager lm;
    std::atomic<int> inside{0};
    std::atomic<int> violations{0};
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th) {
      threads.emplace_back([&, th] {
        LockManager::Txn txn(static_cast<OwnerId>(th + 1));
        for (int i = 0; i < 300; ++i) {
          std::promise<Status> p;
          auto f = p.get_future();
          Status why;
          std::vector<LockTarget> targets{T("c", XB)};
          auto out = lm.Acquire(&txn, targets, 10s,
                                [&p]() -> LockManager::Callback { return [&p](Status st) { p.set_value(st); }; }, &why);
          if (out == LockManager::Outcome::kWaiting) REQUIRE(f.get().ok());
          if (inside.fetch_add(1) != 0) violations.fetch_add(1);
          inside.fetch_sub(1);
          lm.Release(&txn);
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(violations.load() == 0);
  }

  TEST_CASE("a whole-collection lock meets document locks taken on any thread") {
    // Document locks take the intention stripe of the thread asking: from
    // more threads than there are stripes, every stripe is in use, some
    // twice, and the whole-collection lock must meet them all.
    LockManager lm;
    constexpr int kThreads = 20;
    std::vector<std::unique_ptr<LockManager::Txn>> txns;
    for (int i = 0; i < kThreads; ++i) txns.push_back(std::make_unique<LockManager::Txn>(static_cast<OwnerId>(i + 1)));
    std::vector<std::thread> threads;
    std::atomic<int> granted{0};
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        Request r(lm, txns[i].get(), {D("c", std::to_string(i), X)});
        if (r.granted_now()) granted.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
    REQUIRE(granted.load() == kThreads);
    LockManager::Txn whole_txn(100);
    Request whole(lm, &whole_txn, {T("c", S)});
    REQUIRE(whole.waiting());
    for (int i = 0; i < kThreads; ++i) {
      CHECK_FALSE(whole.decided());
      lm.Release(txns[i].get());
    }
    REQUIRE(whole.future.get().ok());
    // Now every document writer waits for the whole-collection lock, on any thread.
    std::vector<std::unique_ptr<Request>> docs(kThreads);
    threads.clear();
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] { docs[i] = std::make_unique<Request>(lm, txns[i].get(), std::vector<LockTarget>{D("c", std::to_string(i), X)}); });
    }
    for (auto& t : threads) t.join();
    for (auto& d : docs) CHECK(d->waiting());
    lm.Release(&whole_txn);
    for (int i = 0; i < kThreads; ++i) {
      CHECK(docs[i]->future.get().ok());
      lm.Release(txns[i].get());
    }
  }

  TEST_CASE("locks survive the table making room: many documents at once, and churn") {
    LockManager lm;
    Txns tx;
    // One transaction holding more documents than the table first has room
    // for: it grows, and every lock still conflicts.
    std::vector<LockTarget> many;
    for (int i = 0; i < 20000; ++i) many.push_back(D("c", std::to_string(i), X));
    Request big(lm, tx(1, 1), many);
    REQUIRE(big.granted_now());
    for (int i : {0, 4095, 4096, 12345, 19999}) {
      Request r(lm, tx(2, 2), {D("c", std::to_string(i), S)}, 1ms);
      CHECK(r.waiting());
      CHECK(r.future.get().code() == ErrorCode::kLockTimeout);
    }
    lm.Release(tx[1]);
    // Churn through far more distinct documents than the table holds while
    // one lock stays held: idle ones are dropped, the held one is not.
    Request held(lm, tx(3, 3), {D("c", "kept", X)});
    REQUIRE(held.granted_now());
    for (int i = 0; i < 50000; ++i) {
      Request r(lm, tx(4, 4), {D("c", "churn" + std::to_string(i), X)});
      REQUIRE(r.granted_now());
      lm.Release(tx[4]);
    }
    Request blocked(lm, tx(5, 5), {D("c", "kept", S)}, 1ms);
    CHECK(blocked.waiting());
    CHECK(blocked.future.get().code() == ErrorCode::kLockTimeout);
    lm.Release(tx[3]);
    Request free_now(lm, tx(6, 6), {D("c", "kept", S)});
    CHECK(free_now.granted_now());
    lm.Release(tx[6]);
  }

  TEST_CASE("a transaction that created thousands of documents releases every lock") {
    // Creates take their locks one at a time (TryAcquire), in no id order,
    // so Release sorts many held locks before latching them.
    LockManager lm;
    Txns tx;
    for (int i = 0; i < 20000; ++i) {
      std::vector<LockTarget> create{D("c", "new" + std::to_string(i), X)};
      REQUIRE(lm.TryAcquire(tx(1, 1), create));
    }
    for (int i : {0, 777, 19999}) {
      std::vector<LockTarget> other{D("c", "new" + std::to_string(i), X)};
      CHECK_FALSE(lm.TryAcquire(tx(2, 2), other));
    }
    lm.Release(tx[1]);
    for (int i = 0; i < 20000; i += 97) {
      std::vector<LockTarget> other{D("c", "new" + std::to_string(i), X)};
      CHECK(lm.TryAcquire(tx(2, 2), other));
    }
    Request whole(lm, tx(3, 3), {T("c", XB)}, 1ms);  // meets tx 2's document locks, not tx 1's
    CHECK(whole.waiting());
    CHECK(whole.future.get().code() == ErrorCode::kLockTimeout);
    lm.Release(tx[2]);
    Request whole_again(lm, tx(4, 4), {T("c", XB)});
    CHECK(whole_again.granted_now());
    lm.Release(tx[4]);
  }

  TEST_CASE("names 0 and 1 are one resource, asked for once") {
    // The table stores name 0 as 1 (0 marks an empty slot); a transaction
    // naming both must not take that resource's latch twice.
    LockManager lm;
    Txns tx;
    ResourceId coll = Name("c");
    Request both(lm, tx(1, 1), {LockTarget{0, X, coll}, LockTarget{1, X, coll}});
    CHECK(both.granted_now());
    Request other(lm, tx(2, 2), {LockTarget{0, S, coll}}, 1ms);
    CHECK(other.waiting());
    CHECK(other.future.get().code() == ErrorCode::kLockTimeout);
    lm.Release(tx[1]);
  }

  TEST_CASE("id table: one value per id from many threads; compaction keeps what it is told") {
    struct Value {
      explicit Value(uint64_t i) : id(i) {}
      uint64_t id;
    };
    IdTable<Value> table(64);
    constexpr int kThreads = 4;
    std::vector<std::vector<Value*>> seen(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (uint64_t id = 0; id < 31; ++id) seen[t].push_back(table.FindOrAdd(id * 0x9e3779b97f4a7c15ULL, [&] { return new Value(id); }));
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      for (uint64_t id = 0; id < 31; ++id) {
        REQUIRE(seen[t][id] != nullptr);
        CHECK(seen[t][id] == seen[0][id]);
        CHECK(seen[t][id]->id == id);
      }
    }
    // Half full: no more adds until compaction makes room.
    CHECK(table.FindOrAdd(31 * 0x9e3779b97f4a7c15ULL, [] { return new Value(31); }) != nullptr);
    CHECK(table.FindOrAdd(32 * 0x9e3779b97f4a7c15ULL, [] { return new Value(32); }) == nullptr);
    CHECK_FALSE(table.HasRoom(1));
    table.Compact(1, [](const Value& v) { return v.id % 2 == 1; });
    CHECK(table.HasRoom(1));
    for (uint64_t id = 0; id < 32; id += 2) CHECK(table.FindOrAdd(id * 0x9e3779b97f4a7c15ULL, [] { return nullptr; })->id == id);
    Value* fresh = table.FindOrAdd(1 * 0x9e3779b97f4a7c15ULL, [] { return new Value(1001); });
    CHECK(fresh->id == 1001);  // dropped, so made anew
    // Growing: a cache too small for what is in use doubles (to the cap).
    IdTable<Value> small(64);
    CHECK_FALSE(small.HasRoom(40));  // 64 slots: room for 32
    small.Compact(0, [](const Value&) { return true; }, true, 128);
    CHECK(small.HasRoom(40));  // 128 slots: room for 64
    CHECK_FALSE(small.HasRoom(64));
    small.Compact(0, [](const Value&) { return true; }, true, 128);
    CHECK_FALSE(small.HasRoom(64));  // capped at 128
    small.Compact(0, [](const Value&) { return true; });
    CHECK_FALSE(small.HasRoom(40));  // without grow: back to the first size
  }

  TEST_CASE("distributed rw lock: a writer excludes readers on every thread") {
    DistributedRwLock lock;
    int64_t a = 0, b = 0;  // the writer keeps a == b; readers check it
    std::atomic<int> torn{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
      readers.emplace_back([&] {
        while (!stop.load()) {
          std::shared_lock l(lock);
          if (a != b) torn.fetch_add(1);
        }
      });
    }
    for (int i = 0; i < 2000; ++i) {
      std::unique_lock l(lock);
      ++a;
      ++b;
    }
    stop = true;
    for (auto& t : readers) t.join();
    CHECK(torn.load() == 0);
    CHECK(a == 2000);
  }

  TEST_CASE("a whole-collection lock meets document locks one by one") {
    LockManager lm;
    Txns tx;
    // Enough documents that every shard holds some.
    for (int i = 0; i < 64; ++i) {
      std::string doc = std::to_string(i);
      Request d(lm, tx(1, 1), {D("c", doc, X)});
      REQUIRE(d.granted_now());
      Request whole(lm, tx(2, 2), {T("c", S)});
      REQUIRE(whole.waiting());
      Request snapshot(lm, tx(3, 3), {T("c", RS)});  // read-only readers pass wn
      CHECK(snapshot.granted_now());
      Request other(lm, tx(4, 4), {T("c2", XB)});  // another collection: independent
      CHECK(other.granted_now());
      lm.Release(tx[3]);
      lm.Release(tx[4]);
      lm.Release(tx[1]);
      REQUIRE(whole.future.get().ok());
      // And the other way round: the whole-collection lock holds the document.
      Request d2(lm, tx(5, 5), {D("c", doc, X)});
      REQUIRE(d2.waiting());
      lm.Release(tx[2]);
      REQUIRE(d2.future.get().ok());
      lm.Release(tx[5]);
    }
  }

  TEST_CASE("an intention meets a whole-collection lock its holder took after a document lock") {
    // A stripe grants intentions without looking at its holders while none
    // of them is a non-intention; a holder that strengthens its intention
    // into a whole-collection lock (and releasing it) must count.
    LockManager lm;
    Txns tx;
    for (int round = 0; round < 3; ++round) {
      Request doc(lm, tx(1, 1), {D("c", "a", X)});
      REQUIRE(doc.granted_now());
      Request others(lm, tx(2, 2), {D("c", "b", S)});  // another intention on the same stripe
      REQUIRE(others.granted_now());
      lm.Release(tx[2]);
      std::vector<LockTarget> whole{T("c", S)};
      REQUIRE(lm.TryAcquire(tx[1], whole));
      Request writer(lm, tx(3, 3), {D("c", "b", X)});
      CHECK(writer.waiting());
      // The stripe now holds T1's X as a whole (the merge keeps the stronger
      // mode): a snapshot reader passes it, as it passes wn.
      Request reader(lm, tx(4, 4), {D("c", "d", RS)});
      CHECK(reader.granted_now());
      lm.Release(tx[4]);
      lm.Release(tx[1]);
      REQUIRE(writer.future.get().ok());
      lm.Release(tx[3]);
      // Nothing is left over: a document and then a whole-collection writer.
      Request after(lm, tx(5, 5), {D("c", "z", X)});
      CHECK(after.granted_now());
      Request whole_writer(lm, tx(6, 6), {T("c", XB)});
      CHECK(whole_writer.waiting());
      lm.Release(tx[5]);
      REQUIRE(whole_writer.future.get().ok());
      Request blocked(lm, tx(7, 7), {D("c", "y", RS)});  // wb holds back even snapshot readers
      CHECK(blocked.waiting());
      lm.Release(tx[6]);
      REQUIRE(blocked.future.get().ok());
      lm.Release(tx[7]);
    }
  }

  TEST_CASE("documents and whole collections from many threads stay exclusive") {
    LockManager lm;
    std::atomic<int> whole_inside{0};
    std::atomic<int> docs_inside[8] = {};
    std::atomic<int> violations{0};
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th) {
      threads.emplace_back([&, th] {
        LockManager::Txn txn(static_cast<OwnerId>(th + 1));
        uint32_t rng = 12345u * static_cast<uint32_t>(th + 1);
        for (int i = 0; i < 400; ++i) {
          rng = rng * 1103515245u + 12345u;
          bool whole = (rng >> 16) % 8 == 0;
          int doc = static_cast<int>((rng >> 20) % 8);
          std::vector<LockTarget> targets{whole ? T("c", XB) : D("c", std::to_string(doc), X)};
          std::promise<Status> p;
          auto f = p.get_future();
          Status why;
          auto out = lm.Acquire(&txn, targets, 10s,
                                [&p]() -> LockManager::Callback { return [&p](Status st) { p.set_value(st); }; }, &why);
          REQUIRE(out != LockManager::Outcome::kDenied);
          if (out == LockManager::Outcome::kWaiting) REQUIRE(f.get().ok());
          if (whole) {
            if (whole_inside.fetch_add(1) != 0) violations.fetch_add(1);
            for (auto& d : docs_inside) {
              if (d.load() != 0) violations.fetch_add(1);
            }
            whole_inside.fetch_sub(1);
          } else {
            if (docs_inside[doc].fetch_add(1) != 0 || whole_inside.load() != 0) violations.fetch_add(1);
            docs_inside[doc].fetch_sub(1);
          }
          lm.Release(&txn);
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(violations.load() == 0);
  }
}
