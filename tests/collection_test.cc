// Collection's two indexes of _ids (hash and order, intrusive in one entry
// per document) against a plain std::map, with integer and string _ids
// mixed, through growth of the hash table, deletes and recovery's installs.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "doc/json.h"
#include "mvcc/collection.h"

using namespace parendb;

namespace {

DocRef Doc(const DocId& id, int n) {
  Value v;
  Object& o = v.make_object();
  o.push_back(Member{"_id", id.ToValue()});
  o.push_back(Member{"n", Value(static_cast<int64_t>(n))});
  return MakeStoredDoc(v);
}

DocId RandomId(std::mt19937& rng) {
  if (rng() % 3 == 0) return DocId::Str(std::string(rng() % 4, 'a' + rng() % 3) + std::to_string(rng() % 50));
  return DocId::Int(static_cast<int64_t>(rng() % 4000) - 2000);
}

// Every live document, in order, as the collection scans them.
std::vector<std::pair<DocId, std::string>> Contents(const Collection& c, uint64_t ts) {
  std::vector<std::pair<DocId, std::string>> out;
  c.Scan(ts, [&](const DocId& id, const DocRef& doc) {
    out.emplace_back(id, std::string(doc->json()));
    return true;
  });
  return out;
}

}  // namespace

TEST_SUITE("mvcc") {
  TEST_CASE("installs and deletes match a model: point reads, scans in order, chunks") {
    std::mt19937 rng(7);
    Collection c("c");
    std::map<DocId, std::string> model;
    std::vector<DocRef> dropped;
    for (int step = 0; step < 20000; ++step) {
      DocId id = RandomId(rng);
      bool del = rng() % 4 == 0;
      DocRef doc = del ? nullptr : Doc(id, step);
      int delta = c.Install(id, doc, static_cast<uint64_t>(step + 1), {}, &dropped);
      bool was = model.count(id) != 0;
      CHECK(delta == static_cast<int>(!del) - static_cast<int>(was));
      if (del) {
        model.erase(id);
      } else {
        model[id] = std::string(doc->json());
      }
      dropped.clear();
      if (step % 997 == 0) {
        DocId probe = RandomId(rng);
        DocRef got = c.Get(probe, kLatest);
        auto it = model.find(probe);
        REQUIRE((got != nullptr) == (it != model.end()));
        if (got != nullptr) CHECK(got->json() == it->second);
      }
    }
    CHECK(c.live_documents() == model.size());
    CHECK(c.versions() == model.size());  // no snapshot: one version each
    auto scanned = Contents(c, kLatest);
    REQUIRE(scanned.size() == model.size());
    auto m = model.begin();
    for (const auto& [id, json] : scanned) {
      CHECK(id == m->first);
      CHECK(json == m->second);
      ++m;
    }
    // Chunks resume after any _id, present or not.
    std::vector<std::pair<DocId, DocRef>> chunk;
    for (int k = 0; k < 50; ++k) {
      DocId from = RandomId(rng);
      c.ScanChunk(kLatest, &from, 5, &chunk);
      auto want = model.upper_bound(from);
      for (const auto& [id, doc] : chunk) {
        REQUIRE(want != model.end());
        CHECK(id == want->first);
        ++want;
      }
      CHECK(chunk.size() == std::min<size_t>(5, std::distance(model.upper_bound(from), model.end())));
    }
  }

  TEST_CASE("a snapshot keeps the version it sees; a later write drops it once unseen") {
    Collection c("c");
    std::vector<DocRef> dropped;
    DocId id = DocId::Str("k");
    c.Install(id, Doc(id, 1), 10, {}, &dropped);
    c.Install(id, Doc(id, 2), 20, {15}, &dropped);  // a snapshot at 15 sees version 10
    CHECK(dropped.empty());
    CHECK(c.versions() == 2);
    CHECK(c.Get(id, 15)->json() == R"({"_id":"k","n":1})");
    CHECK(c.Get(id, kLatest)->json() == R"({"_id":"k","n":2})");
    c.Install(id, nullptr, 30, {25}, &dropped);  // deleted; the snapshot at 25 sees version 20
    CHECK(dropped.size() == 1);
    CHECK(c.Get(id, kLatest) == nullptr);
    CHECK(c.Get(id, 25)->json() == R"({"_id":"k","n":2})");
    dropped.clear();
    c.Install(DocId::Int(1), Doc(DocId::Int(1), 3), 40, {}, &dropped);
    c.Install(id, nullptr, 50, {}, &dropped);  // nothing sees it now: the entry goes
    CHECK(c.versions() == 1);
    CHECK(Contents(c, kLatest).size() == 1);
  }

  TEST_CASE("recovery installs in order or not, replaces and deletes") {
    Collection c("c");
    for (int i = 0; i < 3000; ++i) c.InstallRecovered(DocId::Int(i), Doc(DocId::Int(i), i));  // a checkpoint's order
    std::string greatest;
    for (int i = 2999; i >= 0; i -= 7) {
      std::string s = "s" + std::to_string(i);
      greatest = std::max(greatest, s);
      c.InstallRecovered(DocId::Str(s), Doc(DocId::Int(0), i));
    }
    c.InstallRecovered(DocId::Int(-5), Doc(DocId::Int(-5), 0));  // out of order: before every other
    c.InstallRecovered(DocId::Int(10), Doc(DocId::Int(10), 99));  // a later log record replaces it
    c.InstallRecovered(DocId::Int(11), nullptr);                  // and deletes
    auto all = Contents(c, kLatest);
    CHECK(all.size() == 3000 + 429 + 1 - 1);
    CHECK(all.front().first == DocId::Int(-5));
    CHECK(all.back().first == DocId::Str(greatest));  // strings by bytes, after every integer
    CHECK(c.Get(DocId::Int(10), kLatest)->json() == R"({"_id":10,"n":99})");
    CHECK(c.Get(DocId::Int(11), kLatest) == nullptr);
    CHECK(c.live_documents() == all.size());
    for (size_t i = 1; i < all.size(); ++i) REQUIRE(all[i - 1].first < all[i].first);
  }
}
