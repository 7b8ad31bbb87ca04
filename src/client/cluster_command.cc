#include "client/cluster_command.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "client/connection.h"

namespace parendb {

namespace {

// Sends one statement to address; its answer in *line.
bool Ask(const std::string& address, const std::string& password, const std::string& statement, std::string* line) {
  ServerConnection conn;
  std::string error;
  if (!conn.Connect(address, &error) || (!password.empty() && !conn.Authenticate(password, &error))) {
    *line = error;
    return false;
  }
  if (!conn.Send(statement + "\n") || !conn.ReadLine(line)) {
    *line = "the connection to " + address + " closed before an answer";
    return false;
  }
  return true;
}

}  // namespace

int RunClusterCommand(const std::vector<std::string>& args, const std::string& connect, const std::string& password) {
  auto usage = [] {
    std::fprintf(stderr,
                 "usage: parendb cluster status --connect HOST:PORT\n"
                 "       parendb cluster add ID RAFT_HOST:PORT --connect HOST:PORT\n"
                 "       parendb cluster remove ID --connect HOST:PORT\n"
                 "       parendb cluster transfer-leader [ID] --connect HOST:PORT\n");
    return 2;
  };
  if (args.empty() || connect.empty()) return usage();
  const std::string& op = args[0];
  std::string statement;
  if (op == "status" && args.size() == 1) {
    statement = "(cluster)";
  } else if (op == "add" && args.size() == 3) {
    statement = "(cluster add " + args[1] + " \"" + args[2] + "\")";
  } else if (op == "remove" && args.size() == 2) {
    statement = "(cluster remove " + args[1] + ")";
  } else if (op == "transfer-leader" && args.size() <= 2) {
    statement = "(cluster transfer-leader" + (args.size() == 2 ? " " + args[1] : std::string()) + ")";
  } else {
    return usage();
  }
  std::string line;
  // Right after an election the nodes do not know the new leader yet: a
  // change waits for them a little (up to about 5 s).
  for (int attempt = 0;; ++attempt) {
    if (!Ask(connect, password, statement, &line)) {
      std::fprintf(stderr, "parendb: %s\n", line.c_str());
      return 1;
    }
    if (op == "status" || attempt == 50 || line.rfind("(error not-leader \"no leader is known", 0) != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // A change goes to the leader: follow a not-leader answer once.
  const std::string prefix = "(error not-leader \"";
  if (op != "status" && line.rfind(prefix, 0) == 0) {
    std::string leader = line.substr(prefix.size(), line.find(' ', prefix.size()) - prefix.size());
    if (leader.find(':') != std::string::npos && leader != connect) {
      std::fprintf(stderr, "parendb: %s is not the leader; asking %s\n", connect.c_str(), leader.c_str());
      if (!Ask(leader, password, statement, &line)) {
        std::fprintf(stderr, "parendb: %s\n", line.c_str());
        return 1;
      }
    }
  }
  std::printf("%s\n", line.c_str());
  return line.rfind("(error", 0) == 0 ? 1 : 0;
}

}  // namespace parendb
