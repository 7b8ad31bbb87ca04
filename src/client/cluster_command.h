// `parendb cluster status|add|remove|transfer-leader … --connect HOST:PORT`:
// a cluster's membership from the command line. A change is sent to the
// node given; when it answers not-leader naming the leader, to the leader.
#pragma once

#include <string>
#include <vector>

namespace parendb {

// args: the words after `cluster`. Prints the answer; returns the exit
// status (0 done, 1 refused or failed, 2 bad usage).
int RunClusterCommand(const std::vector<std::string>& args, const std::string& connect, const std::string& password);

}  // namespace parendb
