#include "raft/read_index_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/host_port.h"
#include "base/thread_name.h"

namespace parendb {

namespace {

Status Unavailable(const std::string& what) { return Status(ErrorCode::kUnavailable, what); }

}  // namespace

ReadIndexClient::ReadIndexClient(std::function<std::string()> leader, std::string password, std::chrono::milliseconds timeout)
    : leader_(std::move(leader)), password_(std::move(password)), timeout_(timeout) {
  thread_ = std::thread([this] { Loop(); });
  NameThread(thread_, "parendb-readidx");
}

ReadIndexClient::~ReadIndexClient() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Disconnect();
  for (auto& w : waiting_) w(Unavailable("the server is shutting down"), 0);
}

void ReadIndexClient::Ask(std::function<void(Status, uint64_t)> done) {
  {
    std::lock_guard lock(mu_);
    waiting_.push_back(std::move(done));
  }
  cv_.notify_one();
}

void ReadIndexClient::Loop() {
  while (true) {
    std::vector<std::function<void(Status, uint64_t)>> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !waiting_.empty(); });
      if (stop_) return;
      batch.swap(waiting_);
    }
    // Every read queued before the question is sent is covered by its
    // answer: the leader's index then includes every commit acknowledged
    // before those reads arrived.
    std::string leader = leader_();
    uint64_t index = 0;
    Status st = leader.empty() ? Unavailable("no leader is known (an election is under way); the read cannot be made current")
                               : AskOnce(leader, &index);
    if (!st.ok() && st.code() != ErrorCode::kNotLeader && !leader.empty()) {
      // A kept connection may have gone stale (the leader restarted): once more, fresh.
      Disconnect();
      st = AskOnce(leader, &index);
    }
    for (auto& d : batch) d(st, index);
  }
}

Status ReadIndexClient::AskOnce(const std::string& leader, uint64_t* index) {
  if (fd_ < 0 || connected_to_ != leader) {
    Disconnect();
    Status st = Connect(leader);
    if (!st.ok()) return st;
    if (!password_.empty()) {
      std::string escaped;
      for (char c : password_) {
        if (c == '"' || c == '\\') escaped += '\\';
        escaped += c;
      }
      st = SendLine("(auth \"" + escaped + "\")");
      std::string line;
      if (st.ok()) st = ReadLine(&line);
      if (st.ok() && line.rfind("(ok", 0) != 0) st = Unavailable("the leader " + leader + " refused this node's password");
      if (!st.ok()) {
        Disconnect();
        return st;
      }
    }
  }
  std::string line;
  Status st = SendLine("(cluster read-index)");
  if (st.ok()) st = ReadLine(&line);
  if (!st.ok()) {
    Disconnect();
    return st;
  }
  unsigned long long n = 0;
  if (std::sscanf(line.c_str(), "(ok read-index %llu)", &n) == 1) {
    *index = n;
    return Status::Ok();
  }
  if (line.rfind("(error not-leader", 0) == 0) return Status(ErrorCode::kNotLeader, "leadership is changing; try again");
  return Unavailable("the leader " + leader + " answered the read index with " + line);
}

Status ReadIndexClient::Connect(const std::string& leader) {
  std::string host, port;
  if (!SplitHostPort(leader, &host, &port)) return Unavailable("bad leader address " + leader);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return Unavailable("cannot resolve the leader's address " + leader);
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc = fd < 0 ? -1 : connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (fd < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (poll(&p, 1, static_cast<int>(timeout_.count())) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
      rc = 0;
    } else {
      errno = err != 0 ? err : ETIMEDOUT;
    }
  }
  if (rc != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return Unavailable("cannot reach the leader at " + leader + " (" + why + ")");
  }
  fd_ = fd;
  connected_to_ = leader;
  buf_.clear();
  return Status::Ok();
}

Status ReadIndexClient::SendLine(const std::string& text) {
  std::string line = text + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, static_cast<int>(timeout_.count())) <= 0) return Unavailable("the leader " + connected_to_ + " did not take the read-index question in time");
      continue;
    }
    return Unavailable("lost the connection to the leader " + connected_to_);
  }
  return Status::Ok();
}

Status ReadIndexClient::ReadLine(std::string* line) {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      *line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return Status::Ok();
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
      return Unavailable("the leader " + connected_to_ + " did not answer the read-index question within " +
                         std::to_string(timeout_.count()) + " ms");
    }
    char chunk[512];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      return Unavailable("lost the connection to the leader " + connected_to_);
    }
  }
}

void ReadIndexClient::Disconnect() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  connected_to_.clear();
  buf_.clear();
}

}  // namespace parendb
