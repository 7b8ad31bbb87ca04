// What Tab offers in the console: statement names after '(', collection
// names where a statement takes one, console commands after ':' at the
// start of a line, and the words a statement takes in its place (lock
// modes, unique, the steps of backup).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parendb {

struct Completions {
  size_t word_start = 0;            // where the word being completed begins in the line
  std::vector<std::string> words;   // every candidate that starts with it, sorted
  // Whether a word completed whole is followed by a space: statement
  // names, lock modes and the like take more after them; a collection name
  // or a command usually ends its list or line.
  bool space_after = false;
};

// `line` is the text before the cursor (the current line only; a statement
// continued from an earlier line completes from this line's text).
Completions Complete(std::string_view line, const std::vector<std::string>& collections);

// The longest prefix the candidates share.
std::string CommonPrefix(const std::vector<std::string>& words);

}  // namespace parendb
