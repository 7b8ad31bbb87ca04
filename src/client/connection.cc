#include "client/connection.h"

#include <boost/asio.hpp>

#include "doc/json.h"
#include "doc/value.h"

namespace parendb {

bool ServerConnection::Connect(const std::string& address, std::string* error) {
  boost::system::error_code ec;
  if (address.rfind("unix:", 0) == 0 || address.find('/') != std::string::npos) {
    std::string path = address.rfind("unix:", 0) == 0 ? address.substr(5) : address;
    boost::asio::local::stream_protocol::socket local(io_);
    local.connect(boost::asio::local::stream_protocol::endpoint(path), ec);
    if (ec) {
      *error = "cannot connect to " + path + ": " + ec.message();
      return false;
    }
    socket_ = std::move(local);
    return true;
  }
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "--connect takes HOST:PORT or unix:PATH, not " + address;
    return false;
  }
  boost::asio::ip::tcp::resolver resolver(io_);
  boost::asio::ip::tcp::socket tcp(io_);
  auto endpoints = resolver.resolve(address.substr(0, colon), address.substr(colon + 1), ec);
  if (!ec) boost::asio::connect(tcp, endpoints, ec);
  if (ec) {
    *error = "cannot connect to " + address + ": " + ec.message();
    return false;
  }
  tcp.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  socket_ = std::move(tcp);
  return true;
}

bool ServerConnection::Authenticate(const std::string& password, std::string* error) {
  std::string auth = "(auth ";
  AppendJson(Value(password), &auth);
  auth += ")\n";
  std::string line;
  if (!Send(auth) || !ReadLine(&line)) {
    *error = "authentication failed: the server closed the connection";
    return false;
  }
  if (line != "(ok auth)") {
    *error = "authentication failed: " + line;
    return false;
  }
  return true;
}

bool ServerConnection::Send(std::string_view text) {
  while (!text.empty()) {
    boost::system::error_code ec;
    size_t n = boost::asio::write(socket_, boost::asio::buffer(text.data(), text.size()), ec);
    text.remove_prefix(n);
    if (ec == boost::asio::error::interrupted) continue;  // a signal (the console's Ctrl-C)
    if (ec) return false;
  }
  return true;
}

int ServerConnection::native_handle() { return socket_.native_handle(); }

void ServerConnection::ShutdownSend() {
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::socket_base::shutdown_send, ec);
}

bool ServerConnection::ReadLine(std::string* line) {
  size_t scanned = buf_pos_;
  while (true) {
    size_t nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      line->assign(buf_, buf_pos_, nl - buf_pos_);
      buf_pos_ = nl + 1;
      return true;
    }
    scanned = buf_.size();
    if (buf_pos_ > 0) {  // keep only the unfinished line
      buf_.erase(0, buf_pos_);
      scanned -= buf_pos_;
      buf_pos_ = 0;
    }
    size_t old = buf_.size();
    buf_.resize(old + 65536);
    boost::system::error_code ec;
    size_t n = socket_.read_some(boost::asio::buffer(buf_.data() + old, 65536), ec);
    buf_.resize(old + n);
    if (ec == boost::asio::error::interrupted) continue;  // a signal (the console's Ctrl-C)
    if (ec) return false;
  }
}

bool SessionChannel::Send(std::string_view statements) {
  for (Response& r : session_->Execute(statements)) responses_.push_back(r.text());
  return true;
}

bool SessionChannel::ReadResponse(std::string* line) {
  if (responses_.empty()) return false;
  *line = std::move(responses_.front());
  responses_.pop_front();
  return true;
}

std::unique_ptr<StatementChannel> OpenChannel(const ChannelOptions& options, std::unique_ptr<Database>* database,
                                              std::string* error) {
  if (!options.connect.empty()) {
    auto connection = std::make_unique<ServerConnection>();
    if (!connection->Connect(options.connect, error)) return nullptr;
    if (!options.password.empty() && !connection->Authenticate(options.password, error)) return nullptr;
    return std::make_unique<ServerChannel>(std::move(connection));
  }
  *database = Database::Open(options.database, error);
  if (*database == nullptr) return nullptr;
  return std::make_unique<SessionChannel>((*database)->NewSession());
}

}  // namespace parendb
