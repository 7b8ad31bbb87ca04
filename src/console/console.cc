#include "console/console.h"

#include <functional>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <utility>  // before Boost 1.74's asio, whose awaitable.hpp forgets it

#include <boost/asio.hpp>
#include <editline/readline.h>

#include "doc/json.h"
#include "engine/engine.h"
#include "eval/evaluator.h"
#include "eval/statement.h"
#include "console/response_counter.h"

namespace parendb {
namespace {

void PrintLine(std::string_view line, bool pretty, std::FILE* out) {
  if (pretty && !line.empty() && line[0] != '(') {  // a JSON response
    Value v;
    if (ParseJson(line, 1 << 20, &v).ok()) {
      std::string text;
      AppendJsonPretty(v, &text);
      std::fprintf(out, "%s\n", text.c_str());
      return;
    }
  }
  std::fwrite(line.data(), 1, line.size(), out);
  std::fputc('\n', out);
}

void PrintResponses(Evaluator& e, bool pretty, std::FILE* out) {
  for (const ResponseMark& m : e.marks()) PrintLine(std::string_view(e.output().data() + m.begin, m.size), pretty, out);
  std::fflush(out);
  e.ClearOutput();
}

void PrintHelp() {
  std::printf("Statements (end each with its closing parenthesis; a JSON object follows create/updateall):\n");
  for (const StatementHelp& h : StatementHelpTable()) {
    std::printf("  %-11s %s\n  %-11s   %s\n", std::string(h.name).c_str(), std::string(h.summary).c_str(), "",
                std::string(h.example).c_str());
  }
  std::printf(
      "Conditions: true false (= A B) (!= A B) (< A B) (<= A B) (> A B) (>= A B)\n"
      "            (& C …) (| C …) (! C) (exists (f …)) (in A V …)\n"
      "Expressions: literals, (f name …), (+ A B …) (- A B) (- A) (* A B …) (/ A B) (%% A B)\n"
      "Console commands: :help  :pretty on|off  :quit  (Ctrl-D also quits)\n");
}

// Feeds one chunk and waits out any acquire that blocks.
void Feed(Evaluator& e, std::string_view text) {
  e.Feed(text);
  while (e.blocked()) e.WaitAndResume();
}

int RunScripted(Evaluator& e, bool pretty) {
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0) {
    Feed(e, std::string_view(buf, static_cast<size_t>(n)));
    PrintResponses(e, pretty, stdout);
    if (e.must_close()) return 1;
  }
  e.FinishInput();
  PrintResponses(e, pretty, stdout);
  return 0;
}

// The prompt loop, for either an embedded evaluator or a server: `feed`
// runs one line of input and prints what it completes; `needs_more` says
// whether a statement is unfinished; `restart_position` starts counting
// error positions afresh for a new entry.
int RunPrompt(const ConsoleOptions& options, const std::string& where, bool* pretty,
              const std::function<bool(const std::string&)>& feed, const std::function<bool()>& needs_more,
              const std::function<void()>& restart_position, const std::function<void()>& finish) {
  std::string history = options.history_file;
  if (history.empty()) {
    const char* home = std::getenv("HOME");
    history = std::string(home != nullptr ? home : ".") + "/.parendb_history";
  }
  using_history();
  read_history(history.c_str());
  std::printf("ParenDB %s console on %s. :help lists the statements; Ctrl-D quits.\n", PARENDB_VERSION, where.c_str());
  std::string entry;  // the statement being typed, for one history line
  while (true) {
    bool continuing = needs_more();
    char* raw = readline(continuing ? "     ...> " : "parendb> ");
    if (raw == nullptr) break;
    std::string line(raw);
    std::free(raw);
    if (!continuing && !line.empty() && line[0] == ':') {
      add_history(line.c_str());
      if (line == ":quit" || line == ":q") break;
      if (line == ":help" || line == ":h") {
        PrintHelp();
      } else if (line == ":pretty on" || line == ":pretty") {
        *pretty = true;
      } else if (line == ":pretty off") {
        *pretty = false;
      } else {
        std::printf("unknown console command %s (try :help)\n", line.c_str());
      }
      continue;
    }
    if (!continuing) restart_position();  // positions count from this entry
    entry += entry.empty() ? line : "\n" + line;
    if (!feed(line + "\n")) break;
    if (!needs_more()) {
      if (!entry.empty()) add_history(entry.c_str());
      entry.clear();
    }
  }
  finish();
  write_history(history.c_str());
  std::printf("\n");
  return 0;
}

int RunInteractive(Evaluator& e, const ConsoleOptions& options) {
  bool pretty = options.pretty;
  return RunPrompt(
      options, "an embedded database", &pretty,
      [&](const std::string& line) {
        Feed(e, line);
        PrintResponses(e, pretty, stdout);
        return true;
      },
      [&] { return e.NeedsMoreInput(); }, [&] { e.reader().ResetPosition(); },
      [&] {
        e.FinishInput();
        PrintResponses(e, pretty, stdout);
      });
}

// A blocking connection to a server, reading response lines.
class Remote {
 public:
  // HOST:PORT over TCP, or unix:PATH (or any address with a '/') over a
  // Unix-domain socket.
  bool Connect(const std::string& address, std::string* error) {
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
      *error = "--connect takes HOST:PORT or unix:PATH";
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
  bool Send(std::string_view text) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(text.data(), text.size()), ec);
    return !ec;
  }
  void ShutdownSend() {
    boost::system::error_code ec;
    socket_.shutdown(boost::asio::socket_base::shutdown_send, ec);
  }
  // The next response line (without '\n'); false when the server closed.
  bool ReadLine(std::string* line) {
    while (true) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        line->assign(buf_, 0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      char chunk[65536];
      boost::system::error_code ec;
      size_t n = socket_.read_some(boost::asio::buffer(chunk), ec);
      if (ec) return false;
      buf_.append(chunk, n);
    }
  }

 private:
  boost::asio::io_context io_;
  boost::asio::generic::stream_protocol::socket socket_{io_};  // TCP or Unix-domain
  std::string buf_;
};

}  // namespace

int RunRemoteConsole(const std::string& address, const std::string& password, const ConsoleOptions& options) {
  Remote remote;
  std::string error;
  if (!remote.Connect(address, &error)) {
    std::fprintf(stderr, "parendb: %s\n", error.c_str());
    return 1;
  }
  std::string line;
  if (!password.empty()) {
    std::string auth;
    AppendJson(Value(password), &auth);
    if (!remote.Send("(auth " + auth + ")\n") || !remote.ReadLine(&line) || line != "(ok auth)") {
      std::fprintf(stderr, "parendb: authentication failed: %s\n", line.c_str());
      return 1;
    }
  }
  ResponseCounter counter;
  bool pretty = options.pretty;
  // Sends text and prints the responses it completes; false once the
  // server has closed the connection.
  auto exchange = [&](std::string_view text) {
    size_t expect = counter.Feed(text);
    if (!remote.Send(text)) return false;
    for (size_t i = 0; i < expect; ++i) {
      if (!remote.ReadLine(&line)) {
        std::fprintf(stderr, "parendb: the server closed the connection\n");
        return false;
      }
      PrintLine(line, pretty, stdout);
    }
    std::fflush(stdout);
    return !counter.fatal();
  };
  if (!isatty(STDIN_FILENO)) {
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0) {
      if (!exchange(std::string_view(buf, static_cast<size_t>(n)))) return 1;
    }
    remote.ShutdownSend();
    return 0;
  }
  return RunPrompt(
      options, address, &pretty, [&](const std::string& l) { return exchange(l); },
      [&] { return counter.NeedsMore(); }, [] {}, [&] { remote.ShutdownSend(); });
}

namespace {
}  // namespace

int RunConsole(Database* db, const ConsoleOptions& options) {
  Evaluator e(db->engine());
  if (!isatty(STDIN_FILENO)) return RunScripted(e, options.pretty);
  return RunInteractive(e, options);
}

}  // namespace parendb
