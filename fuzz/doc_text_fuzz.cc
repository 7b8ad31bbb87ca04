// The stored-text walker (doc/json_text.h) against the parsed tree. Any
// bytes are first walked as they are, with a few paths: the walker must
// stop inside them whatever they hold (ASan sees any overread). Bytes that
// parse as a JSON object are then written as ParenDB stores documents
// (compact) and pretty-printed, and every path into the tree, plus paths
// that do not resolve, must read back from both texts exactly as Resolve
// finds it in the tree: present or absent alike, same kind, same value
// (doubles bit for bit). The same bytes made into a new document's stored
// text (RenderJsonObject, which works from the text itself when it has no
// backslash) must fail where parsing fails and otherwise give exactly the
// members, and the _id, that the tree renders.
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "doc/doc_view.h"
#include "doc/json.h"
#include "doc/json_text.h"

using namespace parendb;

namespace {

[[noreturn]] void Fail(std::string_view what, std::string_view text) {
  std::fprintf(stderr, "doc_text: %.*s in %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(std::min<size_t>(text.size(), 400)), text.data());
  std::abort();
}

bool Same(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kDouble: return std::bit_cast<uint64_t>(a.as_double()) == std::bit_cast<uint64_t>(b.as_double());
    case Value::Kind::kArray:
      if (a.as_array().size() != b.as_array().size()) return false;
      for (size_t i = 0; i < a.as_array().size(); ++i) {
        if (!Same(a.as_array()[i], b.as_array()[i])) return false;
      }
      return true;
    case Value::Kind::kObject:
      if (a.as_object().size() != b.as_object().size()) return false;
      for (size_t i = 0; i < a.as_object().size(); ++i) {
        if (a.as_object()[i].key != b.as_object()[i].key || !Same(a.as_object()[i].value, b.as_object()[i].value)) {
          return false;
        }
      }
      return true;
    default: return DeepEqual(a, b);
  }
}

void Paths(const Value& v, Path* prefix, std::vector<Path>* out) {
  if (out->size() > 2000) return;
  out->push_back(*prefix);
  auto dead_end = [&](PathStep step) {
    prefix->push_back(std::move(step));
    out->push_back(*prefix);
    prefix->pop_back();
  };
  if (v.is_object()) {
    for (const Member& m : v.as_object()) {
      prefix->push_back(PathStep{false, 0, m.key});
      Paths(m.value, prefix, out);
      prefix->pop_back();
      dead_end(PathStep{false, 0, m.key + "x"});
    }
    dead_end(PathStep{true, 0, {}});
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.as_array().size(); ++i) {
      prefix->push_back(PathStep{true, static_cast<int64_t>(i), {}});
      Paths(v.as_array()[i], prefix, out);
      prefix->pop_back();
    }
    dead_end(PathStep{true, static_cast<int64_t>(v.as_array().size()), {}});
    dead_end(PathStep{false, 0, "0"});
  } else {
    dead_end(PathStep{false, 0, ""});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string raw(reinterpret_cast<const char*>(data), size);  // exactly sized
  std::string_view found;
  for (const Path& p : {Path{}, Path{PathStep{false, 0, "a"}}, Path{PathStep{true, 1, {}}},
                        Path{PathStep{false, 0, "a"}, PathStep{true, 0, {}}, PathStep{false, 0, "b"}}}) {
    if (FindInJsonText(raw, p, &found) == TextLookup::kFound) {
      if (found.data() < raw.data() || found.data() + found.size() > raw.data() + raw.size()) Fail("slice outside", raw);
      Value v;
      ValueFromJsonText(found, &v);
    }
  }

  Value tree;
  std::string members;
  Value id;
  bool has_id = false;
  bool rendered = RenderJsonObject(raw.data(), raw.size(), raw.size(), 64, &members, &id, &has_id).ok();
  if (rendered != ParseJsonObject(raw.data(), raw.size(), raw.size(), 64, &tree).ok()) Fail("render and parse disagree", raw);
  if (!rendered) return 0;
  Object rest;
  std::string want_id = "none", got_id = "none";
  for (const Member& m : tree.as_object()) {
    if (m.key == "_id") {
      want_id.clear();
      AppendJson(m.value, &want_id);
    } else {
      rest.push_back(m);
    }
  }
  if (has_id) {
    got_id.clear();
    AppendJson(id, &got_id);
  }
  std::string want_members;
  AppendJson(Value(std::move(rest)), &want_members);
  if (got_id != want_id || members != want_members.substr(1, want_members.size() - 2)) Fail("rendered text differs", raw);
  std::string compact, pretty;
  AppendJson(tree, &compact);
  AppendJsonPretty(tree, &pretty);
  Value parsed;  // as the stored text reads back (doubles as written)
  if (!ParseTrustedJsonObject(compact.data(), compact.size(), compact.size(), &parsed).ok()) Fail("reparse", compact);
  std::vector<Path> paths;
  Path prefix;
  Paths(parsed, &prefix, &paths);
  for (const Path& path : paths) {
    const Value* want = Resolve(path, parsed);
    for (const std::string* text : {&compact, &pretty}) {
      Value slot;
      DocView view = DocView::Text(*text);
      const Value* got = view.Resolve(path, &slot);
      if ((got == nullptr) != (want == nullptr)) Fail("presence differs", *text);
      if (want != nullptr && !Same(*got, *want)) Fail("value differs", *text);
      if (view.Has(path) != (want != nullptr)) Fail("Has differs", *text);
    }
  }
  return 0;
}
