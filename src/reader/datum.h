// The parsed form of one statement: a flat pre-order array of datums. A list
// records how many children it has and where its subtree ends, so walking
// children needs no pointers and a statement costs no allocation once the
// arrays have grown.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace parendb {

enum class DatumKind : uint8_t { kList, kSymbol, kString, kInt, kDouble, kBool, kNull };

struct Datum {
  DatumKind kind = DatumKind::kNull;
  bool boolean = false;
  uint32_t count = 0;   // lists: number of children
  uint32_t end = 0;     // index one past this datum's subtree
  uint32_t offset = 0;  // byte offset of the datum in the statement text
  union {
    int64_t integer = 0;  // kInt
    double number;        // kDouble
  };
  std::string_view text;  // symbols: spelling; strings: decoded contents
};

class DatumTree {
 public:
  void Clear() {
    nodes_.clear();
    if (!arena_.empty()) arena_.clear();
  }
  const Datum& operator[](uint32_t i) const { return nodes_[i]; }
  uint32_t size() const { return static_cast<uint32_t>(nodes_.size()); }
  bool empty() const { return nodes_.empty(); }

  // First child of list i (valid only when count > 0) and the sibling after i.
  uint32_t FirstChild(uint32_t i) const { return i + 1; }
  uint32_t Next(uint32_t i) const { return nodes_[i].end; }

  // Children of list i as indices, for statements with a fixed shape.
  void Children(uint32_t i, std::vector<uint32_t>* out) const {
    out->clear();
    for (uint32_t c = FirstChild(i), n = 0; n < nodes_[i].count; ++n, c = Next(c)) out->push_back(c);
  }

 private:
  friend class StatementParser;
  std::vector<Datum> nodes_;
  std::deque<std::string> arena_;  // decoded strings that had escapes
};

}  // namespace parendb
