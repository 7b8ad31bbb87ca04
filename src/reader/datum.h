// The parsed form of one statement: a flat pre-order array of datums. A list
// records how many children it has and where its subtree ends, so walking
// children needs no pointers and a statement costs no allocation once the
// arrays have grown.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
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
  DatumTree() = default;
  DatumTree(const DatumTree&) = delete;
  DatumTree& operator=(const DatumTree&) = delete;

  void Clear() {
    size_ = 0;
    for (size_t i = 0; i < arena_used_; ++i) {
      if (arena_[i].capacity() > (64u << 10)) std::string().swap(arena_[i]);  // keep no huge buffer
    }
    arena_used_ = 0;
  }
  const Datum& operator[](uint32_t i) const { return nodes_[i]; }
  uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

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
  // A list the parser has opened and not yet closed.
  struct OpenList {
    uint32_t index;
    uint32_t count;  // children so far
  };
  // Makes room for at least `capacity` nodes, keeping those there.
  void Reserve(uint32_t capacity) {
    if (capacity <= capacity_) return;
    uint32_t grown = std::max<uint32_t>(capacity, capacity_ * 2);
    std::unique_ptr<Datum[]> bigger(new Datum[grown]);
    std::copy(nodes_.get(), nodes_.get() + size_, bigger.get());
    nodes_ = std::move(bigger);
    capacity_ = grown;
  }

  // The parser writes nodes through a raw pointer (no check per node), so
  // this is a plain array rather than a vector.
  std::unique_ptr<Datum[]> nodes_;
  uint32_t size_ = 0;
  uint32_t capacity_ = 0;
  std::vector<OpenList> open_;     // the parser's stack, kept for its capacity
  // A string for a decoded string literal (one that had escapes). The
  // strings are kept between statements, so their memory is reused.
  std::string& NewDecoded() {
    if (arena_used_ == arena_.size()) arena_.emplace_back();
    std::string& s = arena_[arena_used_++];
    s.clear();
    return s;
  }
  // A deque: growing it never moves the strings datums point into.
  std::deque<std::string> arena_;
  size_t arena_used_ = 0;
};

}  // namespace parendb
