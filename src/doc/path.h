// A path into a document (`(f a 0 b)`, section 4 of the contract): member
// names and array indexes, outermost first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parendb {

struct PathStep {
  bool is_index = false;
  int64_t index = 0;
  std::string name;
};
using Path = std::vector<PathStep>;

}  // namespace parendb
