#include "metrics/http_server.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>  // before Boost 1.74's asio, whose awaitable.hpp forgets it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/thread_name.h"
#include "metrics/prometheus.h"

namespace parendb {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr size_t kMaxRequestBytes = 8192;
constexpr int kMaxConnections = 64;

// One scraper's connection: read a request, answer it, and again while the
// client keeps it alive. The session owns itself through the handlers it
// has queued; the last one to finish frees it.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(asio::ip::tcp::socket socket, const Engine* engine, std::atomic<int>* open)
      : stream_(std::move(socket)), engine_(engine), open_(open) {}
  ~HttpSession() { open_->fetch_sub(1); }

  void Read() {
    parser_.emplace();
    parser_->header_limit(kMaxRequestBytes);
    parser_->body_limit(kMaxRequestBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnRead(ec);
    });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return Shutdown();
    if (ec) return;  // timed out, reset, or too large: drop the connection
    const http::request<http::string_body>& req = parser_->get();
    response_ = Answer(req);
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      if (self->response_.need_eof()) return self->Shutdown();
      self->Read();
    });
  }

  http::response<http::string_body> Answer(const http::request<http::string_body>& req) const {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "parendb/" PARENDB_VERSION);
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.set(http::field::content_type, "text/plain");
      res.body() = "only GET and HEAD\n";
    } else if (target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, kPrometheusContentType);
      res.body() = RenderPrometheus(*engine_);
    } else if (target == "/") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain");
      res.body() = "ParenDB " PARENDB_VERSION ": metrics at /metrics\n";
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain");
      res.body() = "no such page; metrics are at /metrics\n";
    }
    res.prepare_payload();  // Content-Length (kept for HEAD, body then not sent)
    if (req.method() == http::verb::head) res.body().clear();
    return res;
  }

  void Shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  const Engine* engine_;
  std::atomic<int>* open_;
};

}  // namespace

struct MetricsServer::Impl {
  const Engine* engine;
  std::string bind;
  uint16_t port;
  std::atomic<int> open{0};  // before io: the sessions io frees count themselves out
  asio::io_context io{1};
  asio::ip::tcp::acceptor acceptor{io};
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;  // stopping
      if (!ec) {
        if (open.fetch_add(1) >= kMaxConnections) {
          open.fetch_sub(1);  // too many scrapers: this one is closed unanswered
        } else {
          std::make_shared<HttpSession>(std::move(socket), engine, &open)->Read();
        }
      }
      Accept();
    });
  }
};

MetricsServer::MetricsServer(const Engine* engine, std::string bind, uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->engine = engine;
  impl_->bind = std::move(bind);
  impl_->port = port;
}

MetricsServer::~MetricsServer() { Stop(); }

bool MetricsServer::Start(std::string* error) {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->bind, ec);
  asio::ip::tcp::endpoint endpoint(address, impl_->port);
  if (!ec) impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot serve metrics on " + impl_->bind + ":" + std::to_string(impl_->port) + ": " + ec.message();
    return false;
  }
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
  NameThread(impl_->thread, "parendb-metrics");
  return true;
}

uint16_t MetricsServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void MetricsServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();  // abandons the sessions' handlers; they are freed with the io_context
  impl_->thread.join();
}

}  // namespace parendb
