// Reading a stream as a connection does, rendered for comparison: shared by
// the reader's tests and its fuzz target (fuzz/reader_fuzz.cc), which check
// that the items read never depend on where the input was split.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reader/reader.h"

namespace parendb::test {

// Renders a datum subtree compactly, for comparing parses.
inline std::string Render(const DatumTree& t, uint32_t i) {
  const Datum& d = t[i];
  switch (d.kind) {
    case DatumKind::kList: {
      std::string s = "(";
      for (uint32_t c = t.FirstChild(i), n = 0; n < d.count; ++n, c = t.Next(c)) {
        if (n) s += ' ';
        s += Render(t, c);
      }
      return s + ")";
    }
    case DatumKind::kSymbol: return "sym:" + std::string(d.text);
    case DatumKind::kString: return "str:" + std::string(d.text);
    case DatumKind::kInt: return "int:" + std::to_string(d.integer);
    case DatumKind::kDouble: return "dbl:" + std::to_string(d.number);
    case DatumKind::kBool: return d.boolean ? "true" : "false";
    case DatumKind::kNull: return "null";
  }
  return "?";
}

// Reads statements and the JSON document after each create/updateall, as
// a connection does, feeding text cut at the given offsets (ascending).
inline std::vector<std::string> ReadStream(std::string_view text, const std::vector<size_t>& cuts,
                                           ReaderLimits limits = {}) {
  Reader r(limits);
  DatumTree tree;
  std::vector<std::string> out;
  bool document = false, fatal = false;
  size_t from = 0;
  for (size_t k = 0; k <= cuts.size() && !fatal; ++k) {
    size_t to = k < cuts.size() ? cuts[k] : text.size();
    r.Append(text.substr(from, to - from));
    from = to;
    while (!fatal) {
      Status err;
      Reader::Result res;
      if (document) {
        const char* data;
        size_t len, cap;
        res = r.NextDocument(&data, &len, &cap, &err);
        if (res == Reader::Result::kNeedMore) break;
        document = false;
        if (res == Reader::Result::kItem) out.push_back("doc:" + std::string(data, len));
        if (res == Reader::Result::kNotDocument) out.push_back("no document");
      } else {
        res = r.NextStatement(&tree, &err);
        if (res == Reader::Result::kNeedMore) break;
        if (res == Reader::Result::kItem) {
          out.push_back(Render(tree, 0));
          document = out.back().rfind("(sym:create ", 0) == 0 || out.back().rfind("(sym:updateall ", 0) == 0;
        }
      }
      if (res == Reader::Result::kError || res == Reader::Result::kFatal) {
        out.push_back("ERR " + std::string(err.code_name()) + " " + err.message());
      }
      fatal = res == Reader::Result::kFatal;
    }
  }
  return out;
}

}  // namespace parendb::test
