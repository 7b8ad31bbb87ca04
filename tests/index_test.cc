// Secondary indexes and ordered selections (section 10): the key order,
// every statement and error, answers that never differ from a scan's
// (seeded differential test), unique constraints under concurrent writers,
// and the lock promises with real threads.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include <unistd.h>

#include "doc/json.h"
#include "index/index.h"
#include "index/key.h"
#include "test_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

Value J(std::string_view text) {
  Value v;
  REQUIRE(ParseJson(text, 64, &v).ok());
  return v;
}

// The contract's order for scalars, by hand: null, false, true, numbers,
// strings.
int Rank(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull: return 0;
    case Value::Kind::kBool: return v.as_bool() ? 2 : 1;
    case Value::Kind::kInt:
    case Value::Kind::kDouble: return 3;
    case Value::Kind::kString: return 4;
    case Value::Kind::kArray: return 5;
    case Value::Kind::kObject: return 6;
  }
  return 7;
}

int ReferenceCompare(const Value& a, const Value& b) {
  if (Rank(a) != Rank(b)) return Rank(a) < Rank(b) ? -1 : 1;
  if (a.is_number()) return CompareNumbers(a, b);
  if (a.is_string()) return a.as_string() < b.as_string() ? -1 : a.as_string() == b.as_string() ? 0 : 1;
  return 0;
}

std::string Key(const Value& v) { return KeyOf(&v); }

std::string AppendJsonText(const Value& v) {
  std::string out;
  AppendJson(v, &out);
  return out;
}

}  // namespace

TEST_SUITE("index") {
  TEST_CASE("keys order scalars as the contract does, numbers exactly") {
    std::vector<Value> values = {
        Value(),
        Value(false),
        Value(true),
        Value(int64_t{-9007199254740993}),
        Value(-9007199254740992.0),
        Value(int64_t{-1}),
        Value(-0.5),
        Value(0.0),
        Value(-0.0),
        Value(int64_t{0}),
        Value(1e-300),
        Value(int64_t{7}),
        Value(7.0),
        Value(7.5),
        Value(int64_t{9007199254740992}),
        Value(int64_t{9007199254740993}),  // above 2^53: not a double
        Value(9007199254740994.0),
        Value(int64_t{INT64_MAX - 1}),
        Value(int64_t{INT64_MAX}),
        Value(9223372036854775808.0),  // 2^63
        Value(1e300),
        Value(int64_t{INT64_MIN}),
        Value(std::string("")),
        Value(std::string("a")),
        Value(std::string("a\0", 2)),
        Value(std::string("ab")),
        Value(std::string("b")),
        Value(std::string("\xc3\xa9")),
    };
    for (const Value& a : values) {
      for (const Value& b : values) {
        int want = ReferenceCompare(a, b);
        int got = Key(a).compare(Key(b));
        got = got < 0 ? -1 : got > 0 ? 1 : 0;
        CHECK_MESSAGE(want == got, AppendJsonText(a) << " vs " << AppendJsonText(b));
      }
    }
  }

  TEST_CASE("deep-equal values share a key; arrays and objects order after strings") {
    CHECK(Key(J(R"({"a":1,"b":[2,{"c":3}]})")) == Key(J(R"({"b":[2.0,{"c":3}],"a":1.0})")));
    CHECK(Key(J("[1,2]")) != Key(J("[2,1]")));
    CHECK(Key(J("[]")) < Key(J("[1]")));
    CHECK(Key(J("[1]")) < Key(J("[1,2]")));
    CHECK(Key(J("[1,2]")) < Key(J("[1,\"a\"]")));
    CHECK(Key(J("\"zzz\"")) < Key(J("[]")));
    CHECK(Key(J("[[]]")) < Key(J("{}")));
    CHECK(Key(J("{}")) < Key(J(R"({"a":null})")));
    CHECK(KeyOf(nullptr) == Key(Value()));  // missing keys as null
    // Entries: key then _id, integers before strings.
    std::string k = Key(Value(int64_t{5}));
    std::string e1 = k, e2 = k, e3 = k;
    AppendEntryId(DocId::Int(-3), &e1);
    AppendEntryId(DocId::Int(9), &e2);
    AppendEntryId(DocId::Str("a"), &e3);
    CHECK(e1 < e2);
    CHECK(e2 < e3);
    CHECK(e3 < k + kAfterEntries);
    CHECK(EntryId(e1, k.size()) == DocId::Int(-3));
    CHECK(EntryId(e3, k.size()) == DocId::Str("a"));
  }

  TEST_CASE("an index walks ranges both ways and resumes a walk") {
    Index index(Path{PathStep{false, 0, "n"}}, false, 1);
    for (int i = 0; i < 10; ++i) index.Add(Key(Value(int64_t{i % 5})), DocId::Int(i));
    index.Add(Key(Value(int64_t{2})), DocId::Int(2));  // a second version: counted
    CHECK(index.entries() == 10);
    std::vector<Index::Hit> hits;
    KeyRange r;
    r.lo = Key(Value(int64_t{1}));
    r.hi = Key(Value(int64_t{3}));
    r.hi_open = true;
    index.Collect(r, false, 0, &hits);
    std::vector<int64_t> ids;
    for (auto& h : hits) ids.push_back(h.id.i);
    CHECK(ids == std::vector<int64_t>{1, 6, 2, 7});
    hits.clear();
    index.Collect(r, true, 3, &hits);
    CHECK(hits.size() == 3);
    CHECK(hits[0].id == DocId::Int(7));
    std::string resume = hits.back().key;
    AppendEntryId(hits.back().id, &resume);
    hits.clear();
    index.Collect(r, true, 3, &hits, resume);
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].id == DocId::Int(1));
    index.Remove(Key(Value(int64_t{2})), DocId::Int(2));
    CHECK(index.entries() == 10);  // one version left
    index.Remove(Key(Value(int64_t{2})), DocId::Int(2));
    CHECK(index.entries() == 9);
  }

  TEST_CASE("mkindex, rmindex, indexes and explain, with every error") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    CHECK(Lines(*s, "(mkcoll p)(mkindex p (f email) unique)(mkindex p (f address city))(indexes p)") ==
          std::vector<std::string>{"(ok mkcoll)", "(ok mkindex)", "(ok mkindex)",
                                   R"([{"path":["address","city"],"unique":false,"entries":0},)"
                                   R"({"path":["email"],"unique":true,"entries":0}])"});
    CHECK(IsError(One(*s, "(mkindex p (f email))"), "index-exists"));
    CHECK(IsError(One(*s, "(mkindex p (f _id))"), "index-exists"));
    CHECK(IsError(One(*s, "(mkindex q (f a))"), "unknown-collection"));
    CHECK(IsError(One(*s, "(rmindex p (f nope))"), "unknown-index"));
    CHECK(IsError(One(*s, "(indexes q)"), "unknown-collection"));
    CHECK(IsError(One(*s, "(mkindex p email)"), "type"));
    CHECK(IsError(One(*s, "(mkindex p (f a) uniq)"), "type"));
    CHECK(IsError(One(*s, "(mkindex p)"), "arity"));
    CHECK(IsError(One(*s, "(explain nope)"), "unknown-selection"));
    CHECK(IsError(One(*s, "(open mkindex)"), "bad-name"));  // statement names are reserved
    CHECK(Lines(*s, "(rmindex p (f address city))(indexes p)") ==
          std::vector<std::string>{"(ok rmindex)", R"([{"path":["email"],"unique":true,"entries":0}])"});
    CHECK(Lines(*s, "(open t)(select a t wn (coll p) (= (f email) \"x\"))(select b t r (coll p) (= (f _id) 3))"
                    "(selects c t r (coll p) (> (f n) 1))(explain a)(explain b)(explain c)(close t)") ==
          std::vector<std::string>{"(ok opened)", "(ok selected)", "(ok selected)", "(ok selected)",
                                   R"({"index":["email"],"access":"index","locks":"keys","ranges":1})",
                                   R"({"index":null,"access":"id","locks":"documents"})",
                                   R"({"index":null,"access":"scan","locks":"collection"})", "(ok closed)"});
    // rmcoll drops the indexes with the collection.
    CHECK(Lines(*s, "(rmcoll p)(mkcoll p)(indexes p)") ==
          std::vector<std::string>{"(ok rmcoll)", "(ok mkcoll)", "[]"});
  }

  TEST_CASE("order and limit clauses: forms and errors") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    Lines(*s, "(mkcoll p)(open t)(acquire t)"
              "(create a t (coll p)) {\"n\": 3}(create b t (coll p)) {\"n\": \"x\"}(create c t (coll p)) {}"
              "(create d t (coll p)) {\"n\": 1.5}(create e t (coll p)) {\"n\": null}(create g t (coll p)) {\"n\": true}"
              "(commit t)");
    auto run = [&](std::string_view clauses) {
      return Lines(*s, "(open q)(selects a q r (coll p) true " + std::string(clauses) + ")(acquire q)(read a)(close q)")[3];
    };
    // missing/null (ties by _id), false, true, numbers, strings.
    CHECK(run("(order (f n) asc)") == R"([{"_id":3},{"_id":5},{"_id":6},{"_id":4},{"_id":1},{"_id":2}])");
    CHECK(run("(order (f n) desc)") == R"([{"_id":2},{"_id":1},{"_id":4},{"_id":6},{"_id":3},{"_id":5}])");
    CHECK(run("(order (f n) asc) (limit 2)") == R"([{"_id":3},{"_id":5}])");
    CHECK(run("(limit 2)") == R"([{"_id":1},{"_id":2}])");
    CHECK(run("(limit 0)") == "[]");
    CHECK(Lines(*s, "(open q)(select a q r (coll p) (!= (f n) 3) (order (f n) desc))(acquire q)(readall a)(close q)")[3] ==
          R"({"_id":2,"n":"x"})");
    CHECK(IsError(Lines(*s, "(open q)(selects a q r (coll p) true (limit 1) (order (f n) asc))")[1], "type"));
    CHECK(IsError(Lines(*s, "(open q)(selects a q r (coll p) true (limit -1))")[1], "type"));
    CHECK(IsError(Lines(*s, "(open q)(selects a q r (coll p) true (limit 1.5))")[1], "type"));
    CHECK(IsError(Lines(*s, "(open q)(selects a q r (coll p) true (order (f n) up))")[1], "type"));
    CHECK(IsError(Lines(*s, "(open q)(selects a q r (coll p) true (order n asc))")[1], "type"));
    CHECK(IsError(Lines(*s, "(open q)(selects a q r (coll p) true (order (f n)))")[1], "arity"));
    CHECK(IsError(Lines(*s, "(open q)(selects a q r (coll p) true (limit 1) (limit 2))")[1], "type"));
    CHECK(IsError(Lines(*s, "(open q)(selects a q r (coll p) true (limit 1) (order (f n) asc) 4)")[1], "arity"));
    // The same answers through an index.
    CHECK(One(*s, "(mkindex p (f n))") == "(ok mkindex)");
    CHECK(run("(order (f n) asc)") == R"([{"_id":3},{"_id":5},{"_id":6},{"_id":4},{"_id":1},{"_id":2}])");
    CHECK(run("(order (f n) desc)") == R"([{"_id":2},{"_id":1},{"_id":4},{"_id":6},{"_id":3},{"_id":5}])");
    CHECK(run("(order (f n) desc) (limit 3)") == R"([{"_id":2},{"_id":1},{"_id":4}])");
    CHECK(run("(order (f n) asc) (limit 0)") == "[]");
  }

  TEST_CASE("unique indexes: duplicate-key at every write, and mkindex over duplicates") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    Lines(*s, "(mkcoll u)(open t)(acquire t)(create a t (coll u)) {\"e\": \"x\"}(create b t (coll u)) {\"e\": \"x\"}"
              "(create c t (coll u)) {}(create d t (coll u)) {\"e\": null}(commit t)");
    auto mk = One(*s, "(mkindex u (f e) unique)");
    CHECK(IsError(mk, "duplicate-key"));
    CHECK(One(*s, "(indexes u)") == "[]");
    CHECK(Lines(*s, "(open t)(select b t wn (coll u) (= (f _id) 2))(acquire t)(update b (f e) \"y\")(commit t)").back() ==
          "(ok committed)");
    CHECK(One(*s, "(mkindex u (f e) unique)") == "(ok mkindex)");
    // Missing and null are exempt.
    CHECK(Lines(*s, "(open t)(acquire t)(create n t (coll u)) {\"e\": null}(create m t (coll u)) {\"z\": 1}(commit t)")
              .back() == "(ok committed)");
    auto dup = Lines(*s, "(open t)(acquire t)(create n t (coll u)) {\"e\": \"x\"}");
    CHECK(IsError(dup.back(), "duplicate-key"));
    CHECK(dup.back().find("transaction t closed") != std::string::npos);
    CHECK(IsError(Lines(*s, "(open t)(select a t wn (coll u) (= (f _id) 2))(acquire t)(update a (f e) \"x\")").back(),
                  "duplicate-key"));
    CHECK(IsError(Lines(*s, "(open t)(select a t wn (coll u) (= (f _id) 3))(acquire t)(updateall a) {\"e\": \"y\"}").back(),
                  "duplicate-key"));
    // Deep equality: 1 and 1.0 are one key.
    CHECK(Lines(*s, "(open t)(acquire t)(create n t (coll u)) {\"e\": 1}(commit t)").back() == "(ok committed)");
    CHECK(IsError(Lines(*s, "(open t)(acquire t)(create n t (coll u)) {\"e\": 1.0}").back(), "duplicate-key"));
    // Within one transaction: two new documents, a swap through a third value.
    CHECK(IsError(Lines(*s, "(open t)(acquire t)(create n t (coll u)) {\"e\": \"q\"}(create m t (coll u)) {\"e\": \"q\"}")
                      .back(),
                  "duplicate-key"));
    CHECK(Lines(*s, "(open t)(select a t wn (coll u) (= (f _id) 1))(select b t wn (coll u) (= (f _id) 2))(acquire t)"
                    "(update a (f e) \"tmp\")(update b (f e) \"x\")(update a (f e) \"y\")(commit t)")
              .back() == "(ok committed)");
    CHECK(Lines(*s, "(open t)(select a t wn (coll u) (= (f e) \"x\"))(acquire t)(delete a)"
                    "(create n t (coll u)) {\"e\": \"x\"}(commit t)")
              .back() == "(ok committed)");
    CHECK(Lines(*s, "(open q)(selects a q r (coll u) (in (f e) \"x\" \"y\"))(acquire q)(read a (f e))(close q)")[3] ==
          R"([{"_id":1,"e":"y"},{"_id":12,"e":"x"}])");  // failed creates used ids too
  }

  TEST_CASE("answers with indexes are a scan's answers (seeded differential test)") {
    std::mt19937 rng(20261204);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto literal = [&]() -> std::string {
      switch (pick(9)) {
        case 0: return "null";
        case 1: return pick(2) ? "true" : "false";
        case 2: return std::to_string(pick(12) - 3);
        case 3: return std::to_string(pick(12) - 3) + ".5";
        case 4: return std::to_string(pick(6)) + ".0";
        case 5: return "\"" + std::string(1, static_cast<char>('a' + pick(5))) + "\"";
        case 6: return "\"" + std::string(1, static_cast<char>('a' + pick(3))) + std::string(1, static_cast<char>('a' + pick(3))) + "\"";
        case 7: return "[" + std::to_string(pick(3)) + "]";
        default: return "{\"k\": " + std::to_string(pick(2)) + "}";
      }
    };
    auto document = [&]() {
      std::string d = "{";
      auto field = [&](std::string_view name, std::string v) {
        if (d.size() > 1) d += ',';
        d += "\"" + std::string(name) + "\": " + v;
      };
      if (pick(6) != 0) field("a", literal());
      if (pick(3) != 0) field("b", pick(4) == 0 ? literal() : "{\"c\": " + literal() + "}");
      if (pick(2) != 0) field("t", "[" + literal() + ", " + literal() + "]");
      field("x", std::to_string(pick(5)));
      return d + "}";
    };
    const char* paths[] = {"(f a)", "(f b c)", "(f t 0)", "(f x)", "(f _id)"};  // the last: the _id index
    auto comparison = [&]() {
      const char* ops[] = {"=", "<", "<=", ">", ">="};
      std::string p = paths[pick(5)];
      std::string op = ops[pick(5)];
      return pick(4) == 0 ? "(" + op + " " + literal() + " " + p + ")" : "(" + op + " " + p + " " + literal() + ")";
    };
    std::function<std::string(int)> condition = [&](int depth) -> std::string {
      switch (depth > 2 ? pick(3) : pick(8)) {
        case 0:
        case 1: return comparison();
        case 2: return "(in " + std::string(paths[pick(5)]) + " " + literal() + " " + literal() + " " + literal() + ")";
        case 3: return "(& " + condition(depth + 1) + " " + condition(depth + 1) + ")";
        case 4: return "(| " + condition(depth + 1) + " " + condition(depth + 1) + ")";
        case 5: return "(! " + condition(depth + 1) + ")";
        case 6: return "true";
        default: return "(& " + comparison() + " (!= (f x) " + std::to_string(pick(5)) + "))";
      }
    };
    auto indexed = MemoryDb();
    auto plain = MemoryDb();
    auto si = indexed->NewSession();
    auto sp = plain->NewSession();
    auto both = [&](const std::string& text) {
      auto a = Lines(*si, text);
      auto b = Lines(*sp, text);
      REQUIRE_MESSAGE(a == b, text);
      return a;
    };
    both("(mkcoll d)");
    for (int i = 0; i < 4; ++i) CHECK(One(*si, "(mkindex d " + std::string(paths[i]) + ")") == "(ok mkindex)");
    int used_index = 0, queries = 0;
    for (int round = 0; round < 40; ++round) {
      std::string w = "(open t)(acquire t)";
      for (int i = 0; i < 8; ++i) {
        std::string doc = document();
        // Some string _ids, so _id ranges meet both kinds.
        if (pick(6) == 0) doc = "{\"_id\": \"" + std::string(1, static_cast<char>('a' + pick(5))) + std::to_string(round) + "\"," + doc.substr(1);
        w += "(create c" + std::to_string(i) + " t (coll d)) " + doc;
      }
      both(w + "(commit t)");
      // Writes through selections: moved keys, deletes, replaced documents.
      for (int i = 0; i < 3; ++i) {
        std::string sel = "(open t)(selects s t wn (coll d) " + condition(0) + ")(acquire t)";
        switch (pick(3)) {
          case 0:
            // Indexed paths, a parent of one ((f b), (f t)) and an unindexed one.
            switch (pick(4)) {
              case 0: sel += "(update s (f a) " + literal() + " (f b c) " + literal() + ")"; break;
              case 1: sel += "(update s (f b) " + literal() + ")"; break;
              case 2: sel += "(update s (f t) (f a))"; break;
              default: sel += "(update s (f z) " + literal() + ")"; break;
            }
            break;
          case 1: sel += pick(3) == 0 ? "(delete s)" : "(update s (f x) (+ (f x) 1))"; break;
          default: sel += "(updateall s) " + document(); break;
        }
        both(sel + "(commit t)");
      }
      for (int q = 0; q < 25; ++q) {
        std::string clauses;
        if (pick(2) == 0) clauses += " (order " + std::string(paths[pick(5)]) + (pick(2) ? " asc)" : " desc)");
        if (pick(3) == 0) clauses += " (limit " + std::to_string(pick(6)) + ")";
        std::string kind = pick(4) == 0 ? "select" : "selects";
        std::string lock = pick(2) == 0 ? "r" : "wn";
        std::string text = "(open q)(" + kind + " s q " + lock + " (coll d) " + condition(0) + clauses +
                           ")(acquire q)(readall s)";
        both(text);
        std::string plan = One(*si, "(explain s)");
        if (plan.find("\"access\":\"index\"") != std::string::npos) ++used_index;
        ++queries;
        both("(close q)");
      }
    }
    MESSAGE(used_index << " of " << queries << " queries used an index");
    CHECK(used_index > queries / 4);
  }

  TEST_CASE("index selections on disjoint keys hold their locks at once; a write into a held range conflicts") {
    auto db = MemoryDb();
    auto setup = db->NewSession();
    std::string w = "(mkcoll acc)(mkindex acc (f email) unique)(mkindex acc (f n))(open t)(acquire t)";
    for (int i = 1; i <= 20; ++i) {
      w += "(create c t (coll acc)) {\"email\": \"u" + std::to_string(i) + "\", \"n\": " + std::to_string(i) + ", \"bal\": 10}";
      w += i < 20 ? "(commit t)(open t)(acquire t)" : "(commit t)";
    }
    REQUIRE(Lines(*setup, w).back() == "(ok committed)");
    auto a = db->NewSession();
    auto b = db->NewSession();
    auto c = db->NewSession();
    // Two writers by different keys of one index: (acquire T 0) fails at
    // once if it would have to wait.
    CHECK(Lines(*a, "(open t)(select x t wn (coll acc) (= (f email) \"u1\"))(acquire t 0)").back() == "(ok acquired)");
    CHECK(Lines(*b, "(open t)(select x t wn (coll acc) (= (f email) \"u2\"))(acquire t 0)").back() == "(ok acquired)");
    // A range reader beside them, and a writer by _id outside every range.
    CHECK(Lines(*c, "(open t)(selects x t wn (coll acc) (& (>= (f n) 10) (< (f n) 15)))(acquire t 0)").back() ==
          "(ok acquired)");
    auto d = db->NewSession();
    CHECK(Lines(*d, "(open t)(select x t wn (coll acc) (= (f _id) 18))(acquire t 0)(update x (f bal) 0)(commit t)")
              .back() == "(ok committed)");
    // ... but a document inside c's range is locked by it, by _id too.
    CHECK(IsError(Lines(*d, "(open t)(select x t wn (coll acc) (= (f _id) 12))(acquire t 0)").back(), "lock-timeout"));
    // Moving a document into c's range, or creating one there: conflict.
    CHECK(IsError(Lines(*d, "(open t)(select x t wn (coll acc) (= (f _id) 18))(acquire t 0)(update x (f n) 11)").back(),
                  "conflict"));
    CHECK(IsError(Lines(*d, "(open t)(acquire t)(create y t (coll acc)) {\"email\": \"new\", \"n\": 14}").back(),
                  "conflict"));
    // Outside it, fine.
    CHECK(Lines(*d, "(open t)(acquire t)(create y t (coll acc)) {\"email\": \"new\", \"n\": 99}(commit t)").back() ==
          "(ok committed)");
    // A second reader of u1's key waits for a's wn lock.
    CHECK(IsError(Lines(*d, "(open t)(select x t r (coll acc) (= (f email) \"u1\"))(select y t wn (coll acc) (= (f _id) 2))"
                            "(acquire t 0)")
                      .back(),
                  "lock-timeout"));
    // A read-only transaction reads its snapshot beside wn.
    CHECK(Lines(*d, "(open t)(select x t r (coll acc) (= (f email) \"u1\"))(acquire t 0)(read x (f bal))(close t)")[3] ==
          R"({"_id":1,"bal":10})");
    CHECK(Lines(*a, "(update x (f bal) 5)(commit t)").back() == "(ok committed)");
    CHECK(Lines(*b, "(commit t)").back() == "(ok committed)");
    CHECK(Lines(*c, "(commit t)").back() == "(ok committed)");
    CHECK(Lines(*d, "(open t)(select x t wn (coll acc) (= (f _id) 12))(acquire t 0)(update x (f n) 100)(commit t)")
              .back() == "(ok committed)");
  }

  TEST_CASE("_id ranges lock their keys, not the collection") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    std::string w = "(mkcoll c)(open t)(acquire t)";
    for (int i = 1; i <= 30; ++i) w += "(create d" + std::to_string(i) + " t (coll c)) {\"v\": " + std::to_string(i) + "}";
    REQUIRE(Lines(*s, w + "(commit t)").back() == "(ok committed)");
    auto a = db->NewSession();
    auto b = db->NewSession();
    CHECK(Lines(*a, "(open t)(selects x t wn (coll c) (& (>= (f _id) 10) (< (f _id) 20)))(explain x)(acquire t 0)(read x)")
              .back() == R"([{"_id":10},{"_id":11},{"_id":12},{"_id":13},{"_id":14},{"_id":15},{"_id":16},{"_id":17},{"_id":18},{"_id":19}])");
    CHECK(Lines(*a, "(explain x)")[0] == R"({"index":["_id"],"access":"index","locks":"keys","ranges":1,"documents_locked":10,"documents":10})");
    // A disjoint _id range, _id lookups and creates outside: no wait.
    CHECK(Lines(*b, "(open t)(selects x t wn (coll c) (> (f _id) 25))(select y t wn (coll c) (= (f _id) 3))(acquire t 0)"
                    "(update x (f v) 0)(create n t (coll c)) {\"_id\": 100}(create m t (coll c)) {\"_id\": 50}(commit t)")
              .back() == "(ok committed)");
    // Inside: a create conflicts, an _id lookup waits.
    CHECK(IsError(Lines(*b, "(open t)(acquire t)(create n t (coll c)) {\"_id\": 15.5}").back(), "bad-document"));
    CHECK(Lines(*b, "(open t)(acquire t)(create n t (coll c)) {\"_id\": \"x\"}(create m t (coll c)) {\"_id\": 0}(commit t)")
              .back() == "(ok committed)");  // a string _id, and 0: outside [10, 20)
    CHECK(IsError(Lines(*b, "(open t)(acquire t)(create n t (coll c)) {\"_id\": 15}").back(), "conflict"));
    CHECK(IsError(Lines(*b, "(open t)(select y t wn (coll c) (= (f _id) 12))(acquire t 0)").back(), "lock-timeout"));
    CHECK(Lines(*a, "(delete x)(commit t)").back() == "(ok committed)");
    // The range's documents are gone; now a create there goes through.
    CHECK(Lines(*b, "(open t)(acquire t)(create n t (coll c)) {\"_id\": 15}(commit t)").back() == "(ok committed)");
  }

  TEST_CASE("a create into a held _id range conflicts") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    REQUIRE(Lines(*s, "(mkcoll c)(open t)(acquire t)(create a t (coll c)) {\"_id\": 10}(create b t (coll c)) {\"_id\": 20}(commit t)")
                .back() == "(ok committed)");
    auto a = db->NewSession();
    CHECK(Lines(*a, "(open t)(selects x t r (coll c) (< (f _id) 15))(select w t wn (coll c) (= (f _id) 20))(acquire t 0)(read x)")
              .back() == R"([{"_id":10}])");
    CHECK(IsError(Lines(*s, "(open t)(acquire t)(create n t (coll c)) {\"_id\": 12}").back(), "conflict"));
    CHECK(Lines(*s, "(open t)(acquire t)(create n t (coll c)) {}(create m t (coll c)) {\"_id\": 16}(commit t)").back() ==
          "(ok committed)");  // the next auto _id (21) and 16: outside (, 15)
    CHECK(Lines(*a, "(commit t)").back() == "(ok committed)");
  }

  TEST_CASE("an ordered limit locks up to the last document it binds") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    std::string w = "(mkcoll e)(mkindex e (f at))(open t)(acquire t)";
    for (int i = 1; i <= 10; ++i) w += "(create c" + std::to_string(i) + " t (coll e)) {\"at\": " + std::to_string(i * 10) + "}";
    REQUIRE(Lines(*s, w + "(commit t)").back() == "(ok committed)");
    auto a = db->NewSession();
    CHECK(Lines(*a, "(open t)(selects x t wn (coll e) (> (f at) 25) (order (f at) asc) (limit 3))(acquire t 0)(read x)")
              .back() == R"([{"_id":3},{"_id":4},{"_id":5}])");
    auto b = db->NewSession();
    // Beyond the last bound key (50): free; at or below it: locked.
    CHECK(Lines(*b, "(open t)(acquire t)(create y t (coll e)) {\"at\": 55}(commit t)").back() == "(ok committed)");
    CHECK(IsError(Lines(*b, "(open t)(acquire t)(create y t (coll e)) {\"at\": 45}").back(), "conflict"));
    CHECK(IsError(Lines(*b, "(open t)(acquire t)(create y t (coll e)) {\"at\": 50}").back(), "conflict"));
    CHECK(Lines(*b, "(open t)(acquire t)(create y t (coll e)) {\"at\": 20}(commit t)").back() == "(ok committed)");
    CHECK(Lines(*a, "(commit t)").back() == "(ok committed)");
  }

  TEST_CASE("a waiting index acquire is granted when the writer ends, and binds what it committed") {
    auto db = MemoryDb();
    auto s = db->NewSession();
    REQUIRE(Lines(*s, "(mkcoll k)(mkindex k (f g))(open t)(acquire t)(create a t (coll k)) {\"g\": 1}"
                      "(create b t (coll k)) {\"g\": 2}(commit t)")
                .back() == "(ok committed)");
    auto writer = db->NewSession();
    REQUIRE(Lines(*writer, "(open t)(select x t wn (coll k) (= (f _id) 2))(acquire t)(update x (f g) 1)").back() ==
            "(ok updated 1)");
    std::vector<std::string> got;
    std::thread reader([&] {
      auto r = db->NewSession();
      got = Lines(*r, "(open t)(selects x t wn (coll k) (= (f g) 1))(acquire t 5000)(read x (f g))(commit t)");
    });
    // The reader predicted only _id 1; the writer's commit moves _id 2 in.
    // Its point lock on g=1 makes the reader wait, then bind both.
    std::this_thread::yield();
    CHECK(Lines(*writer, "(commit t)").back() == "(ok committed)");
    reader.join();
    REQUIRE(got.size() == 5);
    CHECK(got[3] == R"([{"_id":1,"g":1},{"_id":2,"g":1}])");
  }

  TEST_CASE("unique keys under concurrent writers: never two documents with one key") {
    auto db = MemoryDb();
    auto setup = db->NewSession();
    REQUIRE(Lines(*setup, "(mkcoll u)(mkindex u (f k) unique)").back() == "(ok mkindex)");
    std::atomic<int> committed{0}, refused{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w) {
      threads.emplace_back([&, w] {
        auto s = db->NewSession();
        std::mt19937 rng(w + 1);
        for (int i = 0; i < 300; ++i) {
          std::string k = std::to_string(rng() % 40);
          std::string text = rng() % 2 == 0
                                 ? "(open t)(acquire t)(create c t (coll u)) {\"k\": " + k + "}(commit t)"
                                 : "(open t)(select x t wn (coll u) (= (f k) " + std::to_string(rng() % 40) +
                                       "))(acquire t 1000)(update x (f k) " + k + ")(commit t)";
          auto out = Lines(*s, text);
          if (out.back() == "(ok committed)") {
            ++committed;
            continue;
          }
          // The error that closed the transaction (later statements then
          // name a transaction that is gone).
          auto failed = std::find_if(out.begin(), out.end(), [](const std::string& l) { return l.rfind("(error ", 0) == 0; });
          REQUIRE(failed != out.end());
          CHECK_MESSAGE((IsError(*failed, "duplicate-key") || IsError(*failed, "conflict") ||
                         IsError(*failed, "lock-timeout") || IsError(*failed, "deadlock")),
                        *failed);
          ++refused;
        }
      });
    }
    for (auto& t : threads) t.join();
    auto out = Lines(*setup, "(open q)(selects a q r (coll u) true (order (f k) asc))(acquire q)(read a (f k))(close q)");
    Value all;
    REQUIRE(ParseJson(out[3], 64, &all).ok());
    std::set<std::string> keys;
    for (const Value& d : all.as_array()) {
      const Value* k = d.find("k");
      REQUIRE(k != nullptr);
      CHECK_MESSAGE(keys.insert(AppendJsonText(*k)).second, "duplicate key " << AppendJsonText(*k));
    }
    CHECK(committed.load() > 0);
    MESSAGE(committed.load() << " committed, " << refused.load() << " refused, " << keys.size() << " keys");
  }

  TEST_CASE("index definitions and contents survive a restart") {
    std::string dir = std::filesystem::temp_directory_path() / ("parendb-index-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    Options o;
    o.data_dir = dir;
    {
      std::string error;
      auto db = Database::Open(o, &error);
      REQUIRE(db);
      auto s = db->NewSession();
      REQUIRE(Lines(*s, "(mkcoll p)(open t)(acquire t)(create a t (coll p)) {\"e\": \"a\", \"n\": 1}(commit t)"
                        "(mkindex p (f e) unique)(mkindex p (f n))(checkpoint)(rmindex p (f n))(mkindex p (f m))"
                        "(open t)(acquire t)(create b t (coll p)) {\"e\": \"b\", \"m\": 2}(commit t)")
                  .back() == "(ok committed)");
    }
    std::string error;
    auto db = Database::Open(o, &error);
    REQUIRE(db);
    auto s = db->NewSession();
    CHECK(One(*s, "(indexes p)") == R"([{"path":["e"],"unique":true,"entries":2},{"path":["m"],"unique":false,"entries":2}])");
    CHECK(Lines(*s, "(open q)(select a q r (coll p) (= (f e) \"b\"))(acquire q)(readall a)(explain a)(close q)")[3] ==
          R"({"_id":2,"e":"b","m":2})");
    CHECK(IsError(Lines(*s, "(open t)(acquire t)(create n t (coll p)) {\"e\": \"a\"}").back(), "duplicate-key"));
    s.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }
}
