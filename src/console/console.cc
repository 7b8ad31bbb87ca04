#include "console/console.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <editline/readline.h>

#include "doc/json.h"
#include "engine/engine.h"
#include "eval/evaluator.h"
#include "eval/statement.h"

namespace parendb {
namespace {

void PrintResponses(Evaluator& e, bool pretty, std::FILE* out) {
  for (const ResponseMark& m : e.marks()) {
    std::string_view line(e.output().data() + m.begin, m.size);
    if (pretty && m.kind == ResponseKind::kJson) {
      Value v;
      if (ParseJson(line, 1 << 20, &v).ok()) {
        std::string text;
        AppendJsonPretty(v, &text);
        std::fprintf(out, "%s\n", text.c_str());
        continue;
      }
    }
    std::fwrite(line.data(), 1, line.size(), out);
    std::fputc('\n', out);
  }
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

int RunInteractive(Evaluator& e, const ConsoleOptions& options) {
  std::string history = options.history_file;
  if (history.empty()) {
    const char* home = std::getenv("HOME");
    history = std::string(home != nullptr ? home : ".") + "/.parendb_history";
  }
  using_history();
  read_history(history.c_str());
  bool pretty = options.pretty;
  std::printf("ParenDB %s console. :help lists the statements; Ctrl-D quits.\n", PARENDB_VERSION);
  std::string entry;  // the statement being typed, for one history line
  while (true) {
    bool continuing = e.NeedsMoreInput();
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
        pretty = true;
      } else if (line == ":pretty off") {
        pretty = false;
      } else {
        std::printf("unknown console command %s (try :help)\n", line.c_str());
      }
      continue;
    }
    if (!continuing) e.reader().ResetPosition();  // positions count from this entry
    entry += entry.empty() ? line : "\n" + line;
    line += '\n';
    Feed(e, line);
    if (!e.NeedsMoreInput()) {
      if (!entry.empty()) add_history(entry.c_str());
      entry.clear();
    }
    PrintResponses(e, pretty, stdout);
  }
  e.FinishInput();
  PrintResponses(e, pretty, stdout);
  write_history(history.c_str());
  std::printf("\n");
  return 0;
}

}  // namespace

int RunConsole(Database* db, const ConsoleOptions& options) {
  Evaluator e(db->engine());
  if (!isatty(STDIN_FILENO)) return RunScripted(e, options.pretty);
  return RunInteractive(e, options);
}

}  // namespace parendb
