#include "net/server.h"

#include <condition_variable>
#include <csignal>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstdlib>
#include <algorithm>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <utility>  // before Boost 1.74's asio, whose awaitable.hpp forgets it

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include "base/thread_name.h"
#include "engine/engine.h"
#include "eval/evaluator.h"
#include "net/serializer.h"

namespace parendb {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
// Concrete executor types: the type-erased any_io_executor costs a copy
// and a virtual call on every handler.
using Executor = asio::io_context::executor_type;
// A connection's socket, TCP or Unix-domain: both are stream sockets, and
// one Connection type serves them.
using Socket = asio::basic_stream_socket<asio::generic::stream_protocol, Executor>;
using TcpSocket = asio::basic_stream_socket<tcp, Executor>;
using LocalSocket = asio::basic_stream_socket<local, Executor>;
using Strand = asio::strand<Executor>;

namespace {

class Connection;

// What every connection shares: the engine, the options, and the registry
// used to close them all at shutdown.
struct Shared {
  Engine* engine;
  ServerOptions options;
  std::mutex mu;
  std::set<std::shared_ptr<Connection>> live;
  std::atomic<bool> stopping{false};
  std::function<void()> on_empty;  // called when stopping and the last connection is gone
  // The input budget (ServerOptions::max_input_bytes).
  std::atomic<size_t> input_bytes{0};
  std::atomic<size_t> peak_input_bytes{0};
  std::atomic<uint64_t> evicted{0};

  // Closes the connections holding the most input until `total` would be
  // back under the budget. From any connection's handler.
  void EvictLargest(size_t total);

  // Connection objects in existence. A lock grant decided on another
  // thread briefly holds its connection and may be the last to let go;
  // the server waits for none to be left before its io_context (whose
  // services the connections' timers use) is destroyed.
  std::mutex objects_mu;
  std::condition_variable objects_cv;
  size_t objects = 0;
};

// Counts a Connection from its first member's construction to its last
// member's destruction (so after its timers are gone).
class ObjectCount {
 public:
  explicit ObjectCount(Shared* s) : s_(s) {
    std::lock_guard lock(s_->objects_mu);
    ++s_->objects;
  }
  ~ObjectCount() {
    std::lock_guard lock(s_->objects_mu);
    if (--s_->objects == 0) s_->objects_cv.notify_all();
  }
  ObjectCount(const ObjectCount&) = delete;
  ObjectCount& operator=(const ObjectCount&) = delete;

 private:
  Shared* s_;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Socket socket, std::string peer, Shared* shared, bool serialize)
      : counted_(shared),
        socket_(std::move(socket)),
        io_(socket_.get_executor()),
        serial_(serialize),
        idle_(io_),
        input_timer_(io_),
        shared_(shared),
        evaluator_(std::make_unique<Evaluator>(shared->engine)) {
    // A client that sends faster than it reads: statements wait in the
    // reader's buffer once this much output is pending, and reading stops.
    evaluator_->SetOutputLimit(shared->options.max_output_bytes);
    peer_ = std::move(peer);
    evaluator_->SetPeer(peer_);
    boost::system::error_code ec;
    // Answers are sent with a plain non-blocking send first (see Write).
    socket_.non_blocking(true, ec);
  }

  void Start() {
    std::weak_ptr<Connection> weak = weak_from_this();
    // Lock grants and commit syncs complete on other threads; they only
    // post back here.
    evaluator_->SetWakeup([weak] {
      if (auto self = weak.lock()) self->Post([c = self.get()] { c->OnWakeup(); });
    });
    if (!shared_->options.password.empty()) evaluator_->RequirePassword(shared_->options.password);
    spdlog::debug("connection from {}", peer_);
    Post([this] {
      ArmIdleTimer();
      Read();
    });
  }

  // From any thread: close after the current work (used at shutdown).
  void Stop() {
    Post([this] { Close("server shutting down"); });
  }

  const std::string& peer() const { return peer_; }
  // Unfinished input this connection holds (read from any thread).
  size_t held_input() const { return held_.load(std::memory_order_relaxed); }
  // From any thread, once: answer (error limit …) and close, to bring the
  // server back under its input budget. False if already chosen.
  bool Evict() {
    if (evicting_.exchange(true)) return false;
    Post([this] {
      if (closed_) return;
      evaluator_->Abandon(Status(ErrorCode::kLimit,
                                 "the server's buffers for unfinished input are full (limit " +
                                     std::to_string(shared_->options.max_input_bytes) + " bytes) and this connection's " +
                                     std::to_string(held_input()) + " bytes are among the largest; closing it"));
      AfterWork();
    });
    return true;
  }

 private:
  // Runs fn as a handler of this connection, later, on an I/O thread.
  template <typename Fn>
  void Post(Fn fn) {
    asio::post(io_, [self = shared_from_this(), fn = std::move(fn)]() mutable { self->serial_.Run(std::move(fn), self); });
  }

  // A completion handler that runs the member function on_done with the
  // completion's arguments as a handler of this connection.
  template <typename... Args>
  auto Serially(void (Connection::*on_done)(Args...)) {
    return [self = shared_from_this(), on_done](Args... args) {
      Connection* c = self.get();
      c->serial_.Run([c, on_done, args...] { (c->*on_done)(args...); }, self);
    };
  }

  void Read() {
    if (closed_ || reading_) return;
    if (input_ended_) {  // the client finished sending while an acquire waited
      if (!evaluator_->blocked()) {
        closing_after_write_ = true;
        close_reason_ = "closed by client";
        if (!writing_) Close(close_reason_);
      }
      return;
    }
    if (evaluator_->blocked() && !evaluator_->ReadsWhileBlocked()) return;
    if (pending_output() >= shared_->options.max_output_bytes) return;
    reading_ = true;
    socket_.async_read_some(asio::buffer(in_), Serially(&Connection::OnRead));
  }

  void OnRead(boost::system::error_code ec, size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec == asio::error::eof && evaluator_->blocked()) {
      input_ended_ = true;  // answer what was sent first; Read closes after
      return;
    }
    if (ec) return Close(ec == asio::error::eof ? "closed by client" : ec.message());
    NoteActivity();
    if (EngineMetrics* m = shared_->engine->metrics()) m->traffic.Add(EngineMetrics::kBytesIn, static_cast<int64_t>(n));
    evaluator_->Feed(std::string_view(in_.data(), n));
    AccountInput();
    NotePartialInput();
    AfterWork();
  }

  // With an input timeout: an unfinished item must arrive whole within it
  // of its first byte. The timer is armed when one begins, not per read.
  void NotePartialInput() {
    auto limit = shared_->options.input_timeout;
    if (limit.count() == 0 || !evaluator_) return;
    bool partial = evaluator_->HasBufferedInput() && !evaluator_->blocked() &&
                   evaluator_->output().size() < shared_->options.max_output_bytes;  // not held back for output
    if (!partial) {
      partial_ = false;
      return;
    }
    if (partial_) return;
    partial_ = true;
    partial_since_ = std::chrono::steady_clock::now();
    if (input_waiting_) return;  // it fires at an older deadline and re-arms for this one
    input_waiting_ = true;
    input_timer_.expires_at(partial_since_ + limit);
    input_timer_.async_wait(Serially(&Connection::OnInputTimer));
  }

  void OnInputTimer(boost::system::error_code ec) {
    input_waiting_ = false;
    if (ec || closed_ || !partial_) return;
    auto deadline = partial_since_ + shared_->options.input_timeout;
    if (deadline > std::chrono::steady_clock::now()) {
      input_waiting_ = true;
      input_timer_.expires_at(deadline);
      input_timer_.async_wait(Serially(&Connection::OnInputTimer));
      return;
    }
    evaluator_->Abandon(Status(ErrorCode::kLimit, "an unfinished statement did not arrive whole within " +
                                                      std::to_string(shared_->options.input_timeout.count()) +
                                                      " ms of its first byte; closing the connection"));
    AfterWork();
  }

  // Keeps the server's total of unfinished input current; over the budget,
  // the largest holders go.
  void AccountInput() {
    size_t now = evaluator_ ? evaluator_->reader().memory() : 0;
    size_t before = held_.exchange(now, std::memory_order_relaxed);
    if (now == before) return;
    size_t total = shared_->input_bytes.fetch_add(now - before, std::memory_order_relaxed) + (now - before);
    if (now < before) return;
    size_t peak = shared_->peak_input_bytes.load(std::memory_order_relaxed);
    while (total > peak && !shared_->peak_input_bytes.compare_exchange_weak(peak, total, std::memory_order_relaxed)) {
    }
    if (total > shared_->options.max_input_bytes) shared_->EvictLargest(total);
  }

  void OnWakeup() {
    if (closed_) return;
    NoteActivity();  // an answer after a wait starts a fresh idle period
    evaluator_->Resume();
    AfterWork();
  }

  // Sends what the evaluator produced and decides whether to read on.
  void AfterWork() {
    // A commit waiting for its group's sync is answered within a sync's
    // time: the answers before it wait for it, so a transaction sent as one
    // write is answered with one write (one send instead of two). A wait
    // for locks can last until its timeout, so what precedes it goes now.
    bool flushed = false;
    if (!evaluator_->waiting_for_commit() || evaluator_->must_close()) flushed = Write();
    if (closed_) return;  // the send failed
    if (evaluator_->must_close()) {
      closing_after_write_ = true;
      close_reason_ = "protocol limit";
      if (!writing_) Close(close_reason_);
      return;
    }
    // Statements the output limit held back run once the output is gone;
    // posted, so a client that keeps the limit busy cannot recurse here.
    if (flushed && HeldBack()) Post([this] { Continue(); });
    Read();
  }

  size_t pending_output() const { return evaluator_->output().size() + writing_bytes_; }

  bool HeldBack() const {
    return !evaluator_->blocked() && evaluator_->HasBufferedInput() &&
           evaluator_->output().size() < shared_->options.max_output_bytes;
  }

  // Sends the evaluator's output; true when all of it went at once. Most
  // answers fit in the socket's buffer, so they are sent right here, as a
  // plain non-blocking send: an async_write would complete through the
  // scheduler (a queued handler, often a wakeup of the other thread) for
  // every request. Only what the socket does not take waits for it.
  bool Write() {
    if (writing_ || closed_ || evaluator_->output().empty()) return false;
    out_.clear();
    out_.swap(evaluator_->output());
    evaluator_->marks().clear();
    if (EngineMetrics* m = shared_->engine->metrics()) m->traffic.Add(EngineMetrics::kBytesOut, static_cast<int64_t>(out_.size()));
    boost::system::error_code ec;
    size_t sent = socket_.write_some(asio::buffer(out_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      sent = 0;
    }
    if (ec) {
      Close(ec.message());
      return false;
    }
    if (sent == out_.size()) return true;
    writing_ = true;
    writing_bytes_ = out_.size() - sent;
    asio::async_write(socket_, asio::buffer(out_.data() + sent, out_.size() - sent), Serially(&Connection::OnWritten));
    return false;
  }

  void OnWritten(boost::system::error_code ec, size_t /*written*/) {
    writing_ = false;
    writing_bytes_ = 0;
    if (closed_) return;
    if (ec) return Close(ec.message());
    if (closing_after_write_ && evaluator_->output().empty()) return Close(close_reason_);
    Continue();
  }

  // After a write: statements the output limit held back run now, then
  // reading goes on (it may have paused for output).
  void Continue() {
    if (closed_) return;
    if (HeldBack()) {
      evaluator_->Feed({});
      AccountInput();
      NotePartialInput();
    }
    AfterWork();
  }

  // The idle timer is not re-armed on every read (a cancel and a new timer
  // per request); when it fires it looks at the last activity and sleeps
  // again for what is left.
  void ArmIdleTimer() {
    auto limit = shared_->options.idle_timeout;
    if (limit.count() == 0) return;
    last_activity_ = std::chrono::steady_clock::now();
    idle_.expires_at(last_activity_ + limit);
    WaitIdle();
  }

  void NoteActivity() {
    if (shared_->options.idle_timeout.count() != 0) last_activity_ = std::chrono::steady_clock::now();
  }

  void WaitIdle() {
    idle_.async_wait(Serially(&Connection::OnIdleTimer));
  }

  void OnIdleTimer(boost::system::error_code ec) {
    if (ec || closed_) return;
    if (evaluator_->blocked()) return ArmIdleTimer();  // waiting on locks is not idle
    auto deadline = last_activity_ + shared_->options.idle_timeout;
    if (deadline > std::chrono::steady_clock::now()) {
      idle_.expires_at(deadline);
      return WaitIdle();
    }
    Close("idle timeout");
  }

  void Close(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    // The server's own reasons (a limit, the idle timeout) are worth an
    // operator's attention; clients coming and going are not.
    if (why == "protocol limit" || why == "idle timeout") {
      spdlog::info("connection {} closed: {}", peer_, why);
    } else {
      spdlog::debug("connection {} closed: {}", peer_, why);
    }
    boost::system::error_code ec;
    idle_.cancel();
    input_timer_.cancel();
    socket_.shutdown(asio::socket_base::shutdown_both, ec);
    socket_.close(ec);
    // Closing the evaluator closes the connection's transactions and frees
    // their locks (waiting for a commit in flight to finish first).
    evaluator_.reset();
    shared_->input_bytes.fetch_sub(held_.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
    std::shared_ptr<Connection> self = shared_from_this();
    std::function<void()> notify;
    {
      std::lock_guard lock(shared_->mu);
      shared_->live.erase(self);
      if (shared_->stopping && shared_->live.empty()) notify = shared_->on_empty;
    }
    if (notify) notify();
  }

  ObjectCount counted_;  // first: destroyed last
  Socket socket_;
  Executor io_;
  Serializer serial_;
  using Timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor>;
  Timer idle_;
  Timer input_timer_;  // ServerOptions::input_timeout
  Shared* shared_;
  std::unique_ptr<Evaluator> evaluator_;
  std::string peer_;
  std::array<char, 64 * 1024> in_;
  std::string out_;
  size_t writing_bytes_ = 0;
  std::chrono::steady_clock::time_point last_activity_;  // the last read
  bool reading_ = false;
  bool writing_ = false;
  bool closing_after_write_ = false;
  const char* close_reason_ = "";
  bool input_ended_ = false;  // end of input seen while blocked
  bool closed_ = false;
  std::atomic<size_t> held_{0};       // input buffered, as counted in Shared
  bool partial_ = false;              // an unfinished item is buffered ...
  std::chrono::steady_clock::time_point partial_since_;  // ... since its first read
  bool input_waiting_ = false;        // input_timer_ is armed
  std::atomic<bool> evicting_{false};
};

void Shared::EvictLargest(size_t total) {
  std::vector<std::pair<size_t, std::shared_ptr<Connection>>> by_size;
  {
    std::lock_guard lock(mu);
    by_size.reserve(live.size());
    for (const auto& c : live) {
      if (size_t held = c->held_input(); held > 0) by_size.emplace_back(held, c);
    }
  }
  std::sort(by_size.begin(), by_size.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  size_t excess = total - options.max_input_bytes;
  size_t freed = 0;
  for (auto& [held, c] : by_size) {
    if (freed >= excess) break;
    freed += held;
    if (!c->Evict()) continue;  // already going: its bytes are about to be freed
    evicted.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("input budget of {} bytes exceeded ({} buffered): closing {} ({} bytes unfinished)",
                 options.max_input_bytes, total, c->peer(), held);
  }
}

}  // namespace

struct Server::Impl {
  Shared shared;
  asio::io_context io;
  asio::basic_socket_acceptor<tcp, Executor> acceptor{io.get_executor()};
  asio::basic_socket_acceptor<local, Executor> local_acceptor{io.get_executor()};  // ServerOptions::unix_socket
  bool unlink_socket = false;  // the socket file is ours to remove at the end
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  // The acceptor, the work guard and the signal set are only touched on
  // this strand.
  Strand control{asio::make_strand(io.get_executor())};
  asio::basic_signal_set<Strand> signals{control};
  std::atomic<bool> finished{false};
  uint16_t port = 0;
  int threads = 1;  // that run the io_context (set by Start)

  // Lets Run return: called once the server is stopping and the last
  // connection is gone, possibly from two threads at once.
  void Finish() {
    if (finished.exchange(true)) return;
    asio::post(control, [this] {
      boost::system::error_code ignored;
      signals.cancel(ignored);
      work.reset();
    });
  }

  void WaitForSignal(Server* server) {
    signals.async_wait([this, server](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (shared.stopping) {
        spdlog::warn("second signal ({}): exiting at once", sig);
        std::_Exit(1);
      }
      spdlog::info("signal {}: shutting down (a second signal exits at once)", sig);
      server->Shutdown();
      WaitForSignal(server);
    });
  }

  // A TCP connection: named by its peer's address, Nagle off.
  static Socket Adopt(TcpSocket socket, std::string* peer) {
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    *peer = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
    socket.set_option(tcp::no_delay(true), ec);
    return Socket(std::move(socket));
  }
  // A Unix-domain connection: named by the socket's path.
  Socket Adopt(LocalSocket socket, std::string* peer) const {
    *peer = "unix:" + shared.options.unix_socket;
    return Socket(std::move(socket));
  }

  // Accepts on either acceptor, forever (until it is closed).
  template <typename Acceptor>
  void Accept(Acceptor& acc) {
    // Accepted sockets use the io_context (each connection then runs its
    // handlers one at a time: see Serializer); the acceptors themselves
    // live on the control strand.
    using Accepted = asio::basic_stream_socket<typename Acceptor::protocol_type, Executor>;
    acc.async_accept(io.get_executor(), asio::bind_executor(control, [this, &acc](boost::system::error_code ec, Accepted accepted) {
      if (ec) {
        if (ec != asio::error::operation_aborted) spdlog::error("accept failed: {}", ec.message());
        if (!shared.stopping && acc.is_open()) Accept(acc);
        return;
      }
      if (shared.stopping) return;
      std::string peer;
      Socket socket = Adopt(std::move(accepted), &peer);
      bool full;
      {
        std::lock_guard lock(shared.mu);
        full = shared.live.size() >= shared.options.max_connections;
      }
      if (full) {
        spdlog::warn("refusing a connection: {} connections is the limit", shared.options.max_connections);
        auto msg = std::make_shared<std::string>("(error limit \"too many connections (limit " +
                                                 std::to_string(shared.options.max_connections) + ")\")\n");
        auto sock = std::make_shared<Socket>(std::move(socket));
        asio::async_write(*sock, asio::buffer(*msg), [sock, msg](boost::system::error_code, size_t) {
          boost::system::error_code ignored;
          sock->shutdown(asio::socket_base::shutdown_both, ignored);
        });
      } else {
        auto c = std::make_shared<Connection>(std::move(socket), std::move(peer), &shared, threads > 1);
        {
          std::lock_guard lock(shared.mu);
          shared.live.insert(c);
        }
        c->Start();
      }
      Accept(acc);
    }));
  }

  // Listens on ServerOptions::unix_socket. A file left at the path by a
  // server that is gone is replaced; one a live server answers on is not.
  bool ListenLocal(std::string* error) {
    const std::string& path = shared.options.unix_socket;
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      *error = "the socket path " + path + " is too long (at most " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
               " bytes)";
      return false;
    }
    boost::system::error_code ec;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        *error = "cannot listen on " + path + ": a file that is not a socket is there";
        return false;
      }
      LocalSocket probe(io.get_executor());
      probe.connect(local::endpoint(path), ec);
      if (!ec) {
        *error = "cannot listen on " + path + ": another server is listening there";
        return false;
      }
      ::unlink(path.c_str());  // left by a server that is gone
    }
    local_acceptor.open(local(), ec);
    if (!ec) local_acceptor.bind(local::endpoint(path), ec);
    if (!ec) local_acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = "cannot listen on " + path + ": " + ec.message();
      return false;
    }
    unlink_socket = true;
    return true;
  }
};

Server::Server(Engine* engine, ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->shared.engine = engine;
  impl_->shared.options = std::move(options);
}

Server::~Server() {
  if (impl_->unlink_socket) ::unlink(impl_->shared.options.unix_socket.c_str());
  // Let go of what the registry holds, run what is queued (handlers that
  // hold connections), and wait out a lock grant's brief hold on one, so
  // no connection outlives the io_context. Bounded: a connection still
  // open (no Shutdown) cannot be waited for.
  Shared& sh = impl_->shared;
  {
    std::lock_guard lock(sh.mu);
    sh.live.clear();
  }
  std::unique_lock lock(sh.objects_mu);
  for (int i = 0; i < 1000 && sh.objects > 0; ++i) {
    lock.unlock();
    impl_->io.restart();
    impl_->io.poll();
    lock.lock();
    sh.objects_cv.wait_for(lock, std::chrono::milliseconds(1), [&] { return sh.objects == 0; });
  }
}

bool Server::Start(std::string* error) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->shared.options.bind, ec);
  if (ec) {
    *error = "bad bind address " + impl_->shared.options.bind + ": " + ec.message();
    return false;
  }
  tcp::endpoint endpoint(address, impl_->shared.options.port);
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + impl_->shared.options.bind + ":" + std::to_string(impl_->shared.options.port) +
             ": " + ec.message();
    return false;
  }
  impl_->port = acc.local_endpoint().port();
  if (!impl_->shared.options.unix_socket.empty() && !impl_->ListenLocal(error)) return false;
  impl_->threads = impl_->shared.options.threads > 0 ? impl_->shared.options.threads
                                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(impl_->io.get_executor());
  impl_->shared.on_empty = [this] { impl_->Finish(); };
  if (impl_->shared.options.handle_signals) {
    impl_->signals.add(SIGINT);
    impl_->signals.add(SIGTERM);
    asio::dispatch(impl_->control, [this] { impl_->WaitForSignal(this); });
  }
  impl_->Accept(impl_->acceptor);
  if (impl_->local_acceptor.is_open()) impl_->Accept(impl_->local_acceptor);
  return true;
}

uint16_t Server::port() const { return impl_->port; }

void Server::Run() {
  std::vector<std::thread> pool;
  for (int i = 1; i < impl_->threads; ++i) NameThread(pool.emplace_back([this] { impl_->io.run(); }), "parendb-io");
  impl_->io.run();
  for (auto& t : pool) t.join();
}

void Server::Shutdown() {
  if (impl_->shared.stopping.exchange(true)) return;
  asio::post(impl_->control, [this] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    impl_->local_acceptor.close(ec);
    std::vector<std::shared_ptr<Connection>> all;
    {
      std::lock_guard lock(impl_->shared.mu);
      all.assign(impl_->shared.live.begin(), impl_->shared.live.end());
    }
    if (all.empty()) impl_->Finish();
    for (auto& c : all) c->Stop();
  });
}

Server::InputStats Server::input_stats() const {
  InputStats st;
  st.buffered = impl_->shared.input_bytes.load();
  st.peak = impl_->shared.peak_input_bytes.load();
  st.evicted = impl_->shared.evicted.load();
  return st;
}

size_t Server::connections() const {
  std::lock_guard lock(impl_->shared.mu);
  return impl_->shared.live.size();
}

}  // namespace parendb
