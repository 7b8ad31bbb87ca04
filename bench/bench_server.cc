// Load generator for `parendb serve` (issue: TCP server). Its own small
// client: one event loop drives all connections; each sends a whole
// transaction in one write and times it until its last response line.
//
//   build/bench/parendb_load [--host H] [--port P | --socket PATH] [--seconds S]
//                            [--connections 1,16,64] [--workloads transfer,read,insert]
//                            [--accounts N] [--password-file F] [--stale MS]
//
// Workloads (the same logical work bench/compare.sh gives PostgreSQL and Redis):
//   transfer  the contract's one-write durable transfer between two random
//             accounts, with check: 8 statements, 8 response lines
//   read      point read by _id: open, select r, acquire, readall, close
//   insert    create one ~1 KB document and commit
//   transfer-email  the transfer with each account selected by its unique,
//             indexed email, (= (f email) "userK@example.com"), not _id
//   range     read 20 accounts by a range of their indexed rank:
//             (selects a q r (coll acc) (& (>= (f rank) K) (< (f rank) K+20)))
// --stale MS makes the reads (read, range) bounded-staleness reads,
// (acquire q (stale MS)) — on a cluster node, lang-docs/cluster.md.
// Prints throughput, p50/p99 latency and the server's lock waits (from
// (stats)) per workload and connection count.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string host = "127.0.0.1";
  int port = 7420;
  std::string socket;  // a Unix-domain socket path instead of host:port
  double seconds = 5;
  std::vector<int> connections{1, 16, 64};
  std::vector<std::string> workloads{"transfer", "read", "insert"};
  int accounts = 10000;
  std::string password;
  bool indexes = false;  // index acc's email (unique) and rank
  std::string read_acquire = "(acquire q)";  // --stale MS: "(acquire q (stale MS))"
};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "parendb_load: %s\n", msg.c_str());
  std::exit(1);
}

class Conn {
 public:
  Conn(const Config& c) {
    if (!c.socket.empty()) {
      ConnectLocal(c.socket);
    } else {
      ConnectTcp(c);
    }
    if (!c.password.empty()) {
      Send("(auth \"" + c.password + "\")");
      if (Line() != "(ok auth)") Die("authentication failed");
    }
  }
  void ConnectLocal(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) Die("socket path too long: " + path);
    path.copy(addr.sun_path, path.size());
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("cannot connect to " + path);
  }
  void ConnectTcp(const Config& c) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(c.host.c_str(), std::to_string(c.port).c_str(), &hints, &res) != 0) Die("cannot resolve " + c.host);
    fd_ = socket(res->ai_family, SOCK_STREAM, 0);
    if (connect(fd_, res->ai_addr, res->ai_addrlen) != 0) Die("cannot connect to " + c.host + ":" + std::to_string(c.port));
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() { close(fd_); }
  int fd() const { return fd_; }
  void Send(const std::string& s) {
    size_t done = 0;
    while (done < s.size()) {
      ssize_t n = send(fd_, s.data() + done, s.size() - done, MSG_NOSIGNAL);
      if (n <= 0) Die("send failed");
      done += static_cast<size_t>(n);
    }
  }
  std::string Line() {
    while (true) {
      size_t nl = buf_.find('\n', scan_);
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        scan_ = 0;
        return line;
      }
      scan_ = buf_.size();
      char chunk[65536];
      ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) Die("connection closed by the server");
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
  size_t scan_ = 0;
};

std::string Filler() {
  std::string s;
  while (s.size() < 900) s += "lorem ipsum dolor sit amet ";
  return s;
}

// One transaction's text and its number of response lines.
struct Txn {
  std::string text;
  int responses;
};

Txn Make(const std::string& workload, std::mt19937& rng, int accounts, const std::string& filler,
         const std::string& read_acquire) {
  if (workload == "transfer") {
    int a = 1 + static_cast<int>(rng() % accounts), b;
    do b = 1 + static_cast<int>(rng() % accounts); while (b == a);
    std::string sa = std::to_string(a), sb = std::to_string(b);
    return {"(open t)(select a t wn (coll acc) (= (f _id) " + sa + "))(select b t wn (coll acc) (= (f _id) " + sb +
                "))(acquire t)(check a (>= (f balance) 5))(update a (f balance) (- (f balance) 5))"
                "(update b (f balance) (+ (f balance) 5))(commit t)\n",
            8};
  }
  if (workload == "transfer-email") {
    int a = 1 + static_cast<int>(rng() % accounts), b;
    do b = 1 + static_cast<int>(rng() % accounts); while (b == a);
    auto email = [](int k) { return "\"user" + std::to_string(k) + "@example.com\""; };
    return {"(open t)(select a t wn (coll acc) (= (f email) " + email(a) + "))(select b t wn (coll acc) (= (f email) " +
                email(b) +
                "))(acquire t)(check a (>= (f balance) 5))(update a (f balance) (- (f balance) 5))"
                "(update b (f balance) (+ (f balance) 5))(commit t)\n",
            8};
  }
  if (workload == "range") {
    int lo = 1 + static_cast<int>(rng() % (accounts > 20 ? accounts - 20 : 1));
    return {"(open q)(selects a q r (coll acc) (& (>= (f rank) " + std::to_string(lo) + ") (< (f rank) " +
                std::to_string(lo + 20) + ")))" + read_acquire + "(readall a)(close q)\n",
            5};
  }
  if (workload == "read") {
    return {"(open q)(select a q r (coll acc) (= (f _id) " + std::to_string(1 + rng() % accounts) +
                "))" + read_acquire + "(readall a)(close q)\n",
            5};
  }
  return {"(open t)(acquire t)(create d t (coll docs)) {\"kind\": \"event\", \"n\": " + std::to_string(rng() % 1000000) +
              ", \"body\": \"" + filler + "\"}(commit t)\n",
          4};
}

void Setup(const Config& c) {
  Conn conn(c);
  conn.Send("(mkcoll acc)(mkcoll docs)");
  conn.Line();
  conn.Line();  // collection-exists is fine: reuse
  conn.Send("(open q)(selects all q r (coll acc) (= (f _id) 1))(acquire q)(readall all)(close q)");
  for (int i = 0; i < 3; ++i) conn.Line();
  bool loaded = conn.Line() != "[]";
  conn.Line();
  // The indexes the transfer-email and range workloads use (index-exists
  // when they are there already).
  bool wanted = c.indexes;
  for (const std::string& w : c.workloads) wanted = wanted || w == "transfer-email" || w == "range";
  if (wanted) {
    conn.Send("(mkindex acc (f email) unique)(mkindex acc (f rank))");
    conn.Line();
    conn.Line();
  }
  if (loaded) return;
  for (int base = 0; base < c.accounts; base += 1000) {
    std::string batch = "(open t)(acquire t)";
    int n = std::min(1000, c.accounts - base);
    for (int i = 0; i < n; ++i) {
      std::string k = std::to_string(base + i + 1);
      batch += "(create a" + std::to_string(i) + " t (coll acc)) {\"owner\": \"user" + k + "\", \"email\": \"user" + k +
               "@example.com\", \"rank\": " + k + ", \"balance\": 1000000}";
    }
    batch += "(commit t)\n";
    conn.Send(batch);
    for (int i = 0; i < n + 3; ++i) {
      std::string line = conn.Line();
      if (line.rfind("(error", 0) == 0) Die("loading accounts: " + line);
    }
  }
}

struct Result {
  double per_sec, p50_ms, p99_ms;
  long errors;
  long lock_waits;  // the server's lock_waits counter moved by this many
};

// The server's lock_waits counter.
long LockWaits(const Config& c) {
  Conn conn(c);
  conn.Send("(stats)");
  std::string s = conn.Line();
  size_t p = s.find("\"lock_waits\":");
  return p == std::string::npos ? -1 : std::atol(s.c_str() + p + 13);
}

// One event loop drives every connection, as redis-benchmark and pgbench
// do, so the client takes as little of the machine as it can: each
// connection sends a transaction, collects its response lines, records the
// latency and sends the next.
Result Run(const Config& c, const std::string& workload, int connections) {
  struct Slot {
    std::unique_ptr<Conn> conn;
    std::string in;
    int expected = 0, seen = 0;
    bool error = false;
    Clock::time_point begin;
    std::mt19937 rng;
  };
  std::string filler = Filler();
  std::vector<Slot> slots(connections);
  int ep = epoll_create1(0);
  for (int i = 0; i < connections; ++i) {
    slots[i].conn = std::make_unique<Conn>(c);
    slots[i].rng.seed(1234 + i);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, slots[i].conn->fd(), &ev);
  }
  std::vector<double> lat;
  long errors = 0;
  auto send_next = [&](Slot& s) {
    Txn t = Make(workload, s.rng, c.accounts, filler, c.read_acquire);
    s.expected = t.responses;
    s.seen = 0;
    s.error = false;
    s.begin = Clock::now();
    s.conn->Send(t.text);
  };
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(c.seconds);
  for (Slot& s : slots) send_next(s);
  int in_flight = connections;
  std::vector<epoll_event> events(connections);
  char chunk[65536];
  while (in_flight > 0) {
    int n = epoll_wait(ep, events.data(), connections, 1000);
    for (int e = 0; e < n; ++e) {
      Slot& s = slots[events[e].data.u32];
      ssize_t got = recv(s.conn->fd(), chunk, sizeof chunk, 0);
      if (got <= 0) Die("connection closed by the server");
      s.in.append(chunk, static_cast<size_t>(got));
      size_t nl, from = 0;
      while ((nl = s.in.find('\n', from)) != std::string::npos) {
        ++s.seen;
        if (s.seen == s.expected && s.in.compare(from, 6, "(error") == 0) s.error = true;
        from = nl + 1;
      }
      s.in.erase(0, from);
      if (s.seen < s.expected) continue;
      auto now = Clock::now();
      lat.push_back(std::chrono::duration<double, std::milli>(now - s.begin).count());
      errors += s.error;
      if (now < deadline) {
        send_next(s);
      } else {
        --in_flight;
      }
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  close(ep);
  std::sort(lat.begin(), lat.end());
  Result r{};
  r.per_sec = lat.size() / elapsed;
  r.p50_ms = lat.empty() ? 0 : lat[lat.size() / 2];
  r.p99_ms = lat.empty() ? 0 : lat[lat.size() * 99 / 100];
  r.errors = errors;
  return r;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--host") {
      c.host = value();
    } else if (a == "--port") {
      c.port = std::atoi(value().c_str());
    } else if (a == "--socket") {
      c.socket = value();
    } else if (a == "--seconds") {
      c.seconds = std::atof(value().c_str());
    } else if (a == "--accounts") {
      c.accounts = std::atoi(value().c_str());
    } else if (a == "--connections") {
      c.connections.clear();
      for (auto& s : Split(value())) c.connections.push_back(std::atoi(s.c_str()));
    } else if (a == "--workloads") {
      c.workloads = Split(value());
    } else if (a == "--stale") {
      c.read_acquire = "(acquire q (stale " + std::to_string(std::atoi(value().c_str())) + "))";
    } else if (a == "--indexes") {
      c.indexes = true;
    } else if (a == "--password-file") {
      std::ifstream f(value());
      std::getline(f, c.password);
    } else {
      std::printf("usage: parendb_load [--host H] [--port P | --socket PATH] [--seconds S] [--connections 1,16,64]\n"
                  "                    [--workloads transfer,read,insert,transfer-email,range] [--accounts N]\n"
                  "                    [--password-file F] [--indexes] [--stale MS]\n"
                  "--indexes makes acc's indexes (email, unique; rank) even when no workload needs them.\n"
                  "--stale MS makes the reads (read, range) bounded-staleness reads: (acquire q (stale MS)).\n");
      return a == "--help" ? 0 : 2;
    }
  }
  Setup(c);
  std::printf("%-9s %5s %12s %9s %9s %7s %10s\n", "workload", "conns", "txn/s", "p50 ms", "p99 ms", "errors", "lock_waits");
  for (const std::string& w : c.workloads) {
    for (int n : c.connections) {
      long waits = LockWaits(c);
      Result r = Run(c, w, n);
      r.lock_waits = LockWaits(c) - waits;
      std::printf("%-9s %5d %12.0f %9.3f %9.3f %7ld %10ld\n", w.c_str(), n, r.per_sec, r.p50_ms, r.p99_ms, r.errors,
                  r.lock_waits);
      std::fflush(stdout);
    }
  }
  return 0;
}
