// A seeded, bounded stress test with a history checker. Threads run
// list-append transactions (read a list, append a unique value) under mixed
// lock modes, and read-only transactions that read several lists. From the
// final lists the checker derives, for the committed transactions:
//   ww  the appender of element i  ->  the appender of element i+1
//   wr  the appender of the last element a reader saw  ->  that reader
//   rw  a reader  ->  the appender of the first element it did not see
// and fails on any cycle (a non-serializable history), on a read that is
// not a prefix of the final list, and on any value of an uncommitted
// transaction.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "doc/json.h"
#include "test_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

constexpr int kKeys = 6;

struct TxnRecord {
  std::map<int, std::vector<int64_t>> reads;  // key -> list seen
  std::map<int, int64_t> appends;             // key -> value appended
  bool committed = false;
};

std::vector<int64_t> ListOf(const std::string& json) {
  Value v;
  REQUIRE_MESSAGE(ParseJson(json, 64, &v).ok(), json);
  std::vector<int64_t> out;
  for (const Value& item : v.find("v")->as_array()) out.push_back(item.as_int());
  return out;
}

// Depth-first search for a cycle; returns it (as txn indexes) or empty.
std::vector<size_t> FindCycle(const std::vector<std::set<size_t>>& edges) {
  std::vector<int> color(edges.size(), 0);
  std::vector<size_t> parent(edges.size(), SIZE_MAX);
  for (size_t root = 0; root < edges.size(); ++root) {
    if (color[root] != 0) continue;
    std::vector<std::pair<size_t, std::set<size_t>::const_iterator>> stack{{root, edges[root].begin()}};
    color[root] = 1;
    while (!stack.empty()) {
      auto& [node, it] = stack.back();
      if (it == edges[node].end()) {
        color[node] = 2;
        stack.pop_back();
        continue;
      }
      size_t next = *it++;
      if (color[next] == 1) {  // back edge: a cycle
        std::vector<size_t> cycle{next};
        for (size_t n = node; n != next; n = parent[n]) cycle.push_back(n);
        return cycle;
      }
      if (color[next] == 0) {
        color[next] = 1;
        parent[next] = node;
        stack.emplace_back(next, edges[next].begin());
      }
    }
  }
  return {};
}

}  // namespace

TEST_SUITE("history") {
  TEST_CASE("the cycle finder finds cycles and only cycles") {
    std::vector<std::set<size_t>> dag{{1, 2}, {2}, {3}, {}};
    CHECK(FindCycle(dag).empty());
    std::vector<std::set<size_t>> loop{{1}, {2}, {3}, {1}};  // 1 -> 2 -> 3 -> 1
    CHECK(FindCycle(loop).size() == 3);
    std::vector<std::set<size_t>> write_skew{{1}, {0}};  // rw both ways
    CHECK(FindCycle(write_skew).size() == 2);
  }

  TEST_CASE("list-append histories under mixed lock modes have no dependency cycle") {
    auto db = MemoryDb();
    {
      auto s = db->NewSession();
      std::string setup = "(mkcoll l)(open t)(acquire t)";
      for (int k = 1; k <= kKeys; ++k) setup += "(create k" + std::to_string(k) + " t (coll l)) {\"v\": []}";
      REQUIRE(Lines(*s, setup + "(commit t)").back() == "(ok committed)");
    }
    std::mutex mu;
    std::vector<TxnRecord> history;
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th) {
      threads.emplace_back([&, th] {
        auto s = db->NewSession();
        std::mt19937 rng(1000 + th);
        int64_t next_value = th * 1000000;
        for (int i = 0; i < 150; ++i) {
          TxnRecord rec;
          std::vector<int> keys;
          int n = 1 + static_cast<int>(rng() % 3);
          while (static_cast<int>(keys.size()) < n) {
            int k = 1 + static_cast<int>(rng() % kKeys);
            if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
          }
          bool writer = rng() % 10 < 7;
          std::string text = "(open t)";
          for (size_t j = 0; j < keys.size(); ++j) {
            // Writers mix wn, wb, and a plain r on the keys they only read.
            const char* mode = !writer ? "r" : (j == 0 ? (rng() % 2 ? "wn" : "wb") : (rng() % 3 == 0 ? "r" : "wn"));
            text += "(select s" + std::to_string(j) + " t " + mode + " (coll l) (= (f _id) " + std::to_string(keys[j]) + "))";
            if (writer && std::string(mode) != "r") rec.appends[keys[j]] = 0;
          }
          text += "(acquire t 20000)";
          for (size_t j = 0; j < keys.size(); ++j) text += "(readall s" + std::to_string(j) + ")";
          auto out = Lines(*s, text);
          if (out.back().rfind("(error", 0) == 0 || out[keys.size() + 1] != "(ok acquired)") {
            Lines(*s, "(close t)");
            continue;  // a deadlock or timeout: nothing committed
          }
          for (size_t j = 0; j < keys.size(); ++j) rec.reads[keys[j]] = ListOf(out[keys.size() + 2 + j]);
          if (!writer) {
            REQUIRE(One(*s, "(close t)") == "(ok closed)");
            rec.committed = true;
          } else {
            std::string apply;
            for (size_t j = 0; j < keys.size(); ++j) {
              int k = keys[j];
              if (!rec.appends.count(k)) continue;
              rec.appends[k] = ++next_value;
              apply += "(update s" + std::to_string(j) + " (f v " + std::to_string(rec.reads[k].size()) + ") " +
                       std::to_string(next_value) + ")";
            }
            // One in ten is abandoned: its values must never appear.
            bool abandon = rng() % 10 == 0;
            auto done = Lines(*s, apply + (abandon ? "(close t)" : "(commit t)"));
            rec.committed = !abandon && done.back() == "(ok committed)";
          }
          std::lock_guard lock(mu);
          history.push_back(std::move(rec));
        }
      });
    }
    for (auto& t : threads) t.join();

    // The final lists.
    auto s = db->NewSession();
    std::map<int, std::vector<int64_t>> final_lists;
    for (int k = 1; k <= kKeys; ++k) {
      final_lists[k] = ListOf(Lines(*s, "(open q)(select a q r (coll l) (= (f _id) " + std::to_string(k) +
                                            "))(acquire q)(readall a)(close q)")[3]);
    }
    std::map<int64_t, size_t> appender;  // value -> txn index
    size_t committed = 0;
    for (size_t i = 0; i < history.size(); ++i) {
      if (!history[i].committed) continue;
      ++committed;
      for (auto& [k, v] : history[i].appends) appender[v] = i;
    }
    // Every value in a list was appended by a committed transaction, once.
    for (auto& [k, list] : final_lists) {
      std::set<int64_t> seen;
      for (int64_t v : list) {
        CHECK_MESSAGE(appender.count(v) == 1, "value " << v << " in list " << k << " has no committed appender");
        CHECK(seen.insert(v).second);
      }
    }
    // Every committed append is in its list.
    for (auto& [v, i] : appender) {
      bool found = false;
      for (auto& [k, val] : history[i].appends) {
        if (val == v) found = std::find(final_lists[k].begin(), final_lists[k].end(), v) != final_lists[k].end();
      }
      CHECK_MESSAGE(found, "committed value " << v << " is missing");
    }
    // Build the dependency graph.
    std::vector<std::set<size_t>> edges(history.size());
    for (auto& [k, list] : final_lists) {
      for (size_t i = 0; i + 1 < list.size(); ++i) {
        if (appender.count(list[i]) && appender.count(list[i + 1])) edges[appender[list[i]]].insert(appender[list[i + 1]]);
      }
    }
    for (size_t r = 0; r < history.size(); ++r) {
      if (!history[r].committed) continue;
      for (auto& [k, seen] : history[r].reads) {
        const auto& list = final_lists[k];
        REQUIRE_MESSAGE(seen.size() <= list.size(), "a read saw more than the final list");
        for (size_t i = 0; i < seen.size(); ++i) REQUIRE_MESSAGE(seen[i] == list[i], "a read is not a prefix of the final list");
        if (!seen.empty() && appender.count(seen.back()) && appender[seen.back()] != r) {
          edges[appender[seen.back()]].insert(r);  // wr
        }
        if (seen.size() < list.size() && appender.count(list[seen.size()]) && appender[list[seen.size()]] != r) {
          edges[r].insert(appender[list[seen.size()]]);  // rw
        }
      }
    }
    auto cycle = FindCycle(edges);
    CHECK_MESSAGE(cycle.empty(), "dependency cycle through " << cycle.size() << " transactions");
    MESSAGE("history: " << history.size() << " transactions, " << committed << " committed");
    CHECK(committed > 300);
  }
}
