// A blocking connection from a command-line tool (console, import, export,
// backup) to a ParenDB server, and the one interface those tools send their
// statements through, whether to a server or to a database opened in this
// process.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include <utility>  // before Boost 1.74's asio, whose awaitable.hpp forgets it

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>

#include <parendb/parendb.h>

namespace parendb {

// One socket to a server; statements out, response lines in. Not
// thread-safe: one tool thread owns it.
class ServerConnection {
 public:
  // HOST:PORT over TCP, or unix:PATH (or any address with a '/') over a
  // Unix-domain socket. False, with *error naming the address, on failure.
  bool Connect(const std::string& address, std::string* error);
  // Sends (auth "password") and reads its answer.
  bool Authenticate(const std::string& password, std::string* error);
  bool Send(std::string_view text);
  void ShutdownSend();
  // The next response line (without '\n'); false when the server closed.
  // Both carry on through a signal's interruption.
  bool ReadLine(std::string* line);
  // The socket, for a signal handler that writes to it (the console's
  // Ctrl-C sends "(cancel)\n" with write(2), which is async-signal-safe).
  int native_handle();

 private:
  boost::asio::io_context io_;
  boost::asio::generic::stream_protocol::socket socket_{io_};  // TCP or Unix-domain
  std::string buf_;
  size_t buf_pos_ = 0;  // consumed prefix of buf_
};

// Where a tool's statements go. Send passes statement text on (pipelined:
// no response needs to be read first); ReadResponse returns the responses
// in order, one line each.
class StatementChannel {
 public:
  virtual ~StatementChannel() = default;
  virtual bool Send(std::string_view statements) = 0;
  // False when no response will come (the server closed the connection).
  virtual bool ReadResponse(std::string* line) = 0;
};

// Statements to a server.
class ServerChannel : public StatementChannel {
 public:
  explicit ServerChannel(std::unique_ptr<ServerConnection> connection) : connection_(std::move(connection)) {}
  bool Send(std::string_view statements) override { return connection_->Send(statements); }
  bool ReadResponse(std::string* line) override { return connection_->ReadLine(line); }

 private:
  std::unique_ptr<ServerConnection> connection_;
};

// Statements to a session of a database in this process: Send runs them at
// once and keeps their responses for ReadResponse.
class SessionChannel : public StatementChannel {
 public:
  explicit SessionChannel(std::unique_ptr<Session> session) : session_(std::move(session)) {}
  bool Send(std::string_view statements) override;
  bool ReadResponse(std::string* line) override;

 private:
  std::unique_ptr<Session> session_;
  std::deque<std::string> responses_;
};

// How a tool reaches the database: --connect ADDRESS (with
// --password-file) or --data DIR.
struct ChannelOptions {
  std::string connect;   // HOST:PORT or unix:PATH; empty: open data_dir
  std::string password;  // with connect
  Options database;      // without connect: the database to open here
};

// Opens the channel options describe. With a data directory, *database
// receives the opened database (keep it alive while the channel is used).
// Null, with *error, on failure.
std::unique_ptr<StatementChannel> OpenChannel(const ChannelOptions& options, std::unique_ptr<Database>* database,
                                              std::string* error);

}  // namespace parendb
