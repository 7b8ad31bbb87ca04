// The index structures against a model. Each input line is an operation
// ('a'dd, 'r'emove, 'w'alk), an argument byte and a JSON value: keys of every value are checked for the encoding's
// promises (deep-equal values share a key, numbers and strings order as the
// contract orders them, kinds in the contract's order, no key a prefix of
// another, _id round trips), and adds, removes and range walks of an Index
// are checked against a plain sorted model, walks also in batches resumed
// from their last entry.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "doc/json.h"
#include "doc/value.h"
#include "index/index.h"
#include "index/key.h"

using namespace parendb;

namespace {

[[noreturn]] void Fail(std::string_view what) {
  std::fprintf(stderr, "index: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

int Sign(int v) { return (v > 0) - (v < 0); }

int KindRank(const Value& v) {
  if (v.is_null()) return 0;
  if (v.kind() == Value::Kind::kBool) return v.as_bool() ? 2 : 1;
  if (v.is_number()) return 3;
  if (v.is_string()) return 4;
  if (v.is_array()) return 5;
  return 6;
}

void CheckPair(const Value& a, const Value& b) {
  std::string ka = KeyOf(&a), kb = KeyOf(&b);
  if (DeepEqual(a, b) != (ka == kb)) Fail("deep equality and key equality disagree");
  int c = Sign(ka.compare(kb));
  if (KindRank(a) != KindRank(b)) {
    if (c != Sign(KindRank(a) - KindRank(b))) Fail("kinds out of order");
  } else if (a.is_number()) {
    if (c != Sign(CompareNumbers(a, b))) Fail("numbers out of order");
  } else if (a.is_string()) {
    if (c != Sign(a.as_string().compare(b.as_string()))) Fail("strings out of order");
  }
  if (ka != kb && (ka.compare(0, kb.size(), kb) == 0 || kb.compare(0, ka.size(), ka) == 0)) {
    Fail("a key is a prefix of another");
  }
}

struct ModelEntry {
  std::string key;
  DocId id;
};

std::string EntryOf(const std::string& key, const DocId& id) {
  std::string e = key;
  AppendEntryId(id, &e);
  return e;
}

std::vector<std::string> Expected(const std::map<std::string, ModelEntry>& model, const KeyRange& range, bool desc,
                                  size_t max) {
  std::vector<std::string> out;
  for (const auto& [entry, m] : model) {
    if (range.Contains(m.key)) out.push_back(entry);
  }
  if (desc) std::reverse(out.begin(), out.end());
  if (max != 0 && out.size() > max) out.resize(max);
  return out;
}

std::vector<std::string> Entries(const std::vector<Index::Hit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(EntryOf(h.key, h.id));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<Value> values;
  Index index(Path{}, false, 1);
  std::map<std::string, ModelEntry> model;  // entry bytes -> entry (an id holds one key)
  std::map<int64_t, std::string> by_id;
  int64_t next_id = 1;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    std::string_view line = text.substr(at, (nl == std::string_view::npos ? text.size() : nl) - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.size() < 2) continue;
    char op = line[0];
    uint8_t arg = static_cast<uint8_t>(line[1]);
    Value v;
    if (!ParseJson(line.substr(2), 32, &v).ok()) continue;
    std::string key = KeyOf(&v);
    for (const Value& w : values) CheckPair(v, w);
    if (auto kind = KindRange(v); kind && !kind->Contains(key)) Fail("a value's kind range leaves out its key");
    values.push_back(std::move(v));
    if (values.size() > 64) values.erase(values.begin());
    DocId id = (arg & 1) ? DocId::Int(next_id++ * ((arg & 2) ? -1 : 1)) : DocId::Str("s" + std::to_string(next_id++));
    if (EntryId(EntryOf(key, id), key.size()) != id) Fail("an entry's _id does not round trip");
    int kind = op == 'a' ? 0 : op == 'r' ? 1 : op == 'w' ? 2 : static_cast<uint8_t>(op) % 3;
    switch (kind) {
      case 0: {  // add
        index.Add(key, id);
        model[EntryOf(key, id)] = {key, id};
        break;
      }
      case 1: {  // remove one added earlier
        if (model.empty()) break;
        auto it = model.begin();
        std::advance(it, arg % model.size());
        index.Remove(it->second.key, it->second.id);
        model.erase(it);
        break;
      }
      default: {  // walk a range between this value and an earlier one
        const Value& other = values[arg % values.size()];
        std::string lo = key, hi = KeyOf(&other);
        if (lo > hi) std::swap(lo, hi);
        KeyRange r;
        r.lo = lo;
        r.hi = hi;
        r.lo_open = arg & 4;
        r.hi_open = arg & 8;
        r.lo_unbounded = (arg & 0x30) == 0x10;
        r.hi_unbounded = (arg & 0x30) == 0x20;
        bool desc = arg & 0x40;
        size_t max = (arg & 0x80) ? 1 + arg % 3 : 0;
        std::vector<Index::Hit> hits;
        index.Collect(r, desc, max, &hits);
        if (Entries(hits) != Expected(model, r, desc, max)) Fail("a range walk differs from the model");
        // The whole walk in batches of two, each resumed after the last.
        std::vector<Index::Hit> all;
        std::string resume;
        while (true) {
          std::vector<Index::Hit> batch;
          index.Collect(r, desc, 2, &batch, resume);
          if (batch.empty()) break;
          resume = EntryOf(batch.back().key, batch.back().id);
          all.insert(all.end(), batch.begin(), batch.end());
          if (all.size() > model.size()) Fail("a resumed walk does not end");
        }
        if (Entries(all) != Expected(model, r, desc, 0)) Fail("a resumed walk differs from the model");
      }
    }
    if (index.entries() != model.size()) Fail("entry count differs from the model");
  }
  return 0;
}
