// `parendb serve`: the wire protocol over TCP (section 9 of the contract),
// and optionally over a Unix-domain socket too.
//
// Every connection has an Evaluator, and its handlers run one at a time
// (with several I/O threads a small serializer sees to it; see
// serializer.h). Bytes read are fed to the evaluator at once, and the
// responses of everything received go out in one write, so a pipelined
// transaction costs one round trip. A connection reads only while its
// evaluator is not blocked (on a lock wait or a commit's sync) and its
// unsent output is under the cap: a slow reader or a waiting acquire holds
// back only its own connection, and no thread ever blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace parendb {

class Engine;

struct ServerOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 7420;  // 0: pick a free port (tests)
  // Also listen on this Unix-domain socket path (empty: TCP only). For
  // clients on the same host: no TCP/IP stack between them and the server.
  // Access is the file's: the server creates it with the process's umask,
  // so put it in a directory only the intended users can reach.
  std::string unix_socket;
  int threads = 0;       // 0: one per core
  std::string password;  // empty: no authentication
  size_t max_connections = 4096;
  size_t max_output_bytes = 16u << 20;  // unsent responses before reading pauses
  // Unfinished input buffered across all connections (each connection's
  // reader buffer, allocated bytes). Past it, the connections holding the
  // most are answered (error limit …) and closed, largest first, until the
  // total is back under it; well-behaved clients hold next to nothing.
  size_t max_input_bytes = size_t{1} << 30;
  std::chrono::milliseconds idle_timeout{0};  // 0: never
  // How long an unfinished statement (or its document) may take to arrive
  // whole, from its first byte: a client trickling a byte at a time keeps
  // a connection busy, never idle. Past it: (error limit …) and a close.
  // 0: no limit.
  std::chrono::milliseconds input_timeout{0};
  // SIGINT/SIGTERM: the first shuts down cleanly, a second exits at once.
  bool handle_signals = false;
};

class Server {
 public:
  Server(Engine* engine, ServerOptions options);
  ~Server();

  // Binds and starts accepting; the port actually bound is port().
  bool Start(std::string* error);
  uint16_t port() const;
  // Serves until Shutdown() (from any thread) and every connection is closed.
  void Run();
  // Stops accepting, closes every connection (after in-flight commits
  // finish, which closes their open transactions) and lets Run return.
  void Shutdown();

  size_t connections() const;

  // What the input budget has seen (tests, operators).
  struct InputStats {
    size_t buffered = 0;  // unfinished input held now, all connections
    size_t peak = 0;      // the most it has been
    uint64_t evicted = 0; // connections closed to get back under the budget
  };
  InputStats input_stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parendb
