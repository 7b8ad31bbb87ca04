#include "console/console.h"

#include <functional>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>


#include <editline/readline.h>

#include "client/connection.h"
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

}  // namespace

int RunRemoteConsole(const std::string& address, const std::string& password, const ConsoleOptions& options) {
  ServerConnection remote;
  std::string error;
  if (!remote.Connect(address, &error) || (!password.empty() && !remote.Authenticate(password, &error))) {
    std::fprintf(stderr, "parendb: %s\n", error.c_str());
    return 1;
  }
  std::string line;
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

int RunConsole(Database* db, const ConsoleOptions& options) {
  Evaluator e(db->engine());
  if (!isatty(STDIN_FILENO)) return RunScripted(e, options.pretty);
  return RunInteractive(e, options);
}

}  // namespace parendb
