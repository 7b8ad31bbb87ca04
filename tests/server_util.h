// A real server on a loopback port and a blocking socket client, for the
// integration tests (server_test.cc, hostile_input_test.cc).
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/server.h"
#include "test_util.h"

namespace parendb::test {

// Runs a shell command; its output (stdout and what it redirects) in *out,
// its exit status (as pclose gives it) returned.
inline int RunCommand(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  return pclose(p);
}

struct TestServer {
  std::unique_ptr<Database> db;
  std::unique_ptr<Server> server;
  std::thread thread;

  explicit TestServer(ServerOptions o = {}, Options dbo = {}) {
    db = MemoryDb(dbo);
    o.port = 0;
    if (o.threads == 0) o.threads = 2;
    server = std::make_unique<Server>(db->engine(), o);
    std::string error;
    REQUIRE_MESSAGE(server->Start(&error), error);
    thread = std::thread([this] { server->Run(); });
  }
  ~TestServer() {
    server->Shutdown();
    thread.join();
  }
  uint16_t port() const { return server->port(); }
};

// Options for a server whose io_context runs on `threads` threads.
inline ServerOptions OnThreads(int threads, ServerOptions o = {}) {
  o.threads = threads;
  return o;
}

class Client {
 public:
  // buffer > 0 fixes the socket's send and receive buffers (no tuning).
  explicit Client(uint16_t port, int buffer = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (buffer > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
      setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  // Over a Unix-domain socket (ServerOptions::unix_socket).
  explicit Client(const std::string& unix_path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(unix_path.size() < sizeof addr.sun_path);
    unix_path.copy(addr.sun_path, unix_path.size());
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { Close(); }
  int fd() const { return fd_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  // Closes abruptly (RST), as a killed client would.
  void Kill() {
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    Close();
  }
  // Sends what the peer takes; false once it has closed (a reset).
  bool TrySend(std::string_view text) {
    while (!text.empty()) {
      ssize_t n = send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      text.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void Send(std::string_view text) {
    while (!text.empty()) {
      ssize_t n = send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
      REQUIRE(n > 0);
      text.remove_prefix(static_cast<size_t>(n));
    }
  }
  // The next response line, "<closed>" at end of stream, "<timeout>" after 10 s.
  std::string Line() {
    while (true) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 10000) <= 0) return "<timeout>";
      char chunk[65536];
      ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return "<closed>";
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }
  std::vector<std::string> Lines(size_t n) {
    std::vector<std::string> out;
    for (size_t i = 0; i < n; ++i) out.push_back(Line());
    return out;
  }
  // Sends `chunk` over and over without reading, up to `total` bytes; false
  // when the peer stops taking bytes for 300 ms (then *sent says how many
  // it took).
  bool SendUntilStalled(const std::string& chunk, size_t total, size_t* sent) {
    *sent = 0;
    while (*sent < total) {
      size_t at = *sent % chunk.size();
      ssize_t n = send(fd_, chunk.data() + at, chunk.size() - at, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        *sent += static_cast<size_t>(n);
        continue;
      }
      REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, 300) == 0) return false;
    }
    return true;
  }
  // What one recv returns once something has arrived (waits up to 10 s).
  std::string RecvOnce() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) return "<timeout>";
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    return n <= 0 ? "<closed>" : std::string(chunk, static_cast<size_t>(n));
  }
  // Whether a response is already waiting (without blocking long).
  bool HasData(int ms = 50) {
    if (buf_.find('\n') != std::string::npos) return true;
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, ms) > 0;
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

}  // namespace parendb::test
