// transport_probe: what the socket path costs, apart from the database.
//
// A server that answers ParenDB's statement lines with canned answers —
// "[{…one account…}]" to (readall …), "(ok)" to anything else — and does
// nothing else, on one of two transports:
//
//   asio   Boost.Asio's reactor (epoll), a read and a write per request,
//          as src/net/server.cc drives its connections
//   uring  io_uring (liburing): multishot accept, multishot receives into
//          a ring of provided buffers, the answers' sends submitted
//          together once per loop iteration, one thread
//
//   transport_probe --transport asio|uring --port P [--threads N]
//
// Drive it with parendb_load (--workloads read) and read its CPU per
// request from /proc: bench/transport_compare.sh runs both next to the real
// server, so the difference between the two probes is what an io_uring
// transport could save ParenDB per request, at most.
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "transport_probe: %s\n", why.c_str());
  std::exit(2);
}

// Splits input into top-level statements and appends one answer line per
// statement to `out`. Keeps the unfinished tail in `pending`.
class Answerer {
 public:
  void Feed(const char* data, size_t n, std::string* out) {
    for (size_t i = 0; i < n; ++i) {
      char c = data[i];
      if (in_string_) {
        if (escaped_) {
          escaped_ = false;
        } else if (c == '\\') {
          escaped_ = true;
        } else if (c == '"') {
          in_string_ = false;
        }
      } else if (c == '"') {
        in_string_ = true;
      } else if (c == '(') {
        if (depth_++ == 0) head_.clear();
      } else if (c == ')' && depth_ > 0 && --depth_ == 0) {
        out->append(head_.rfind("readall", 0) == 0
                        ? "[{\"_id\":1,\"owner\":\"user1\",\"email\":\"user1@example.com\",\"rank\":1,\"balance\":1000000}]\n"
                        : "(ok)\n");
      }
      if (depth_ == 1 && head_.size() < 8 && c != '(') head_.push_back(c);
    }
  }

 private:
  int depth_ = 0;
  bool in_string_ = false, escaped_ = false;
  std::string head_;
};

int Listen(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("cannot bind port " + std::to_string(port));
  if (listen(fd, 1024) != 0) Die("cannot listen");
  return fd;
}

// ---- Asio: one connection object per socket, read -> answer -> write.
class AsioConnection : public std::enable_shared_from_this<AsioConnection> {
 public:
  explicit AsioConnection(boost::asio::ip::tcp::socket s) : socket_(std::move(s)) {}
  void Read() {
    socket_.async_read_some(boost::asio::buffer(in_), [self = shared_from_this()](auto ec, size_t n) {
      if (ec) return;
      self->out_.clear();
      self->answerer_.Feed(self->in_.data(), n, &self->out_);
      if (self->out_.empty()) return self->Read();
      boost::asio::async_write(self->socket_, boost::asio::buffer(self->out_), [self](auto ec, size_t) {
        if (!ec) self->Read();
      });
    });
  }

 private:
  boost::asio::ip::tcp::socket socket_;
  std::array<char, 65536> in_;
  std::string out_;
  Answerer answerer_;
};

void Accept(boost::asio::ip::tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](auto ec, boost::asio::ip::tcp::socket s) {
    if (!ec) {
      s.set_option(boost::asio::ip::tcp::no_delay(true));
      std::make_shared<AsioConnection>(std::move(s))->Read();
    }
    Accept(acceptor);
  });
}

void RunAsio(uint16_t port, int threads) {
  boost::asio::io_context io(threads);
  boost::asio::ip::tcp::acceptor acceptor(io, boost::asio::ip::tcp::v4(), Listen(port));
  Accept(acceptor);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
}

// ---- io_uring: user_data says what completed and for which socket.
constexpr unsigned kBufferGroup = 0, kBuffers = 1024, kBufferSize = 16384;
enum Op : uint64_t { kAccept = 1, kRecv = 2, kSend = 3 };
uint64_t Tag(Op op, int fd) { return (static_cast<uint64_t>(fd) << 8) | op; }

struct UringConnection {
  Answerer answerer;
  std::string out, sending;  // answered but not sent; being sent
};

class UringServer {
 public:
  explicit UringServer(uint16_t port) : listen_fd_(Listen(port)) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (int rv = io_uring_queue_init_params(4096, &ring_, &p); rv < 0) Die(std::string("io_uring: ") + strerror(-rv));
    size_t ring_bytes = kBuffers * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) Die("mmap");
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = kBuffers;
    reg.bgid = kBufferGroup;
    if (int rv = io_uring_register_buf_ring(&ring_, &reg, 0); rv < 0) Die(std::string("buffer ring: ") + strerror(-rv));
    buffers_.resize(static_cast<size_t>(kBuffers) * kBufferSize);
    for (unsigned i = 0; i < kBuffers; ++i) ReturnBuffer(i);
    PublishBuffers();
  }

  void Run() {
    ArmAccept();
    while (true) {
      io_uring_submit_and_wait(&ring_, 1);
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        Complete(cqe);
      }
      io_uring_cq_advance(&ring_, seen);
      PublishBuffers();
      for (int fd : to_send_) Send(fd);
      to_send_.clear();
    }
  }

 private:
  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }
  void ArmAccept() {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, 0);
    io_uring_sqe_set_data64(sqe, Tag(kAccept, listen_fd_));
  }
  void ArmRecv(int fd) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, Tag(kRecv, fd));
  }
  // Buffers given back since the last PublishBuffers go to the kernel together.
  void PublishBuffers() {
    if (pending_returns_ == 0) return;
    io_uring_buf_ring_advance(buf_ring_, static_cast<int>(pending_returns_));
    pending_returns_ = 0;
  }
  void ReturnBuffer(unsigned id) {
    io_uring_buf_ring_add(buf_ring_, buffers_.data() + static_cast<size_t>(id) * kBufferSize, kBufferSize,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(kBuffers), static_cast<int>(pending_returns_++));
  }
  void Send(int fd) {
    UringConnection& c = *conns_[static_cast<size_t>(fd)];
    if (!c.sending.empty() || c.out.empty()) return;  // one send in flight; the rest waits for it
    c.sending.swap(c.out);
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, fd, c.sending.data(), c.sending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, Tag(kSend, fd));
  }
  void Close(int fd) {
    conns_[static_cast<size_t>(fd)].reset();
    close(fd);
  }
  void Complete(io_uring_cqe* cqe) {
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    int fd = static_cast<int>(tag >> 8);
    switch (static_cast<Op>(tag & 0xff)) {
      case kAccept: {
        if (cqe->res >= 0) {
          int one = 1;
          setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (conns_.size() <= static_cast<size_t>(cqe->res)) conns_.resize(static_cast<size_t>(cqe->res) + 1);
          conns_[static_cast<size_t>(cqe->res)] = std::make_unique<UringConnection>();
          ArmRecv(cqe->res);
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) ArmAccept();
        return;
      }
      case kRecv: {
        if (cqe->res <= 0) {
          if (cqe->res == -ENOBUFS) {
            ArmRecv(fd);
          } else if (!(cqe->flags & IORING_CQE_F_MORE)) {
            Close(fd);
          }
          return;
        }
        unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        UringConnection& c = *conns_[static_cast<size_t>(fd)];
        size_t before = c.out.size();
        c.answerer.Feed(buffers_.data() + static_cast<size_t>(id) * kBufferSize, static_cast<size_t>(cqe->res), &c.out);
        if (before == 0 && !c.out.empty()) to_send_.push_back(fd);
        ReturnBuffer(id);
        if (!(cqe->flags & IORING_CQE_F_MORE)) ArmRecv(fd);
        return;
      }
      case kSend: {
        UringConnection* c = conns_[static_cast<size_t>(fd)].get();
        if (c == nullptr) return;
        if (cqe->res < 0) {
          Close(fd);
          return;
        }
        c->sending.erase(0, static_cast<size_t>(cqe->res));
        if (!c->sending.empty()) {  // a short send: the rest first
          c->out.insert(0, c->sending);
          c->sending.clear();
        }
        if (!c->out.empty()) to_send_.push_back(fd);
        return;
      }
    }
  }

  int listen_fd_;
  io_uring ring_{};
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::vector<char> buffers_;
  unsigned pending_returns_ = 0;
  std::vector<std::unique_ptr<UringConnection>> conns_;
  std::vector<int> to_send_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string transport;
  int port = 0, threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--transport") {
      transport = value();
    } else if (a == "--port") {
      port = std::atoi(value().c_str());
    } else if (a == "--threads") {
      threads = std::atoi(value().c_str());
    } else {
      std::printf("usage: transport_probe --transport asio|uring --port P [--threads N]\n"
                  "Answers ParenDB statement lines with canned answers on the chosen transport\n"
                  "(see the comment at the top of bench/transport_probe.cc).\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (port <= 0 || port > 65535) Die("--port P is required");
  if (transport == "asio") {
    RunAsio(static_cast<uint16_t>(port), threads < 1 ? 1 : threads);
  } else if (transport == "uring") {
    UringServer(static_cast<uint16_t>(port)).Run();
  } else {
    Die("--transport must be asio or uring");
  }
}
