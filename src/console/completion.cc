#include "console/completion.h"

#include <algorithm>

#include "eval/statement.h"

namespace parendb {
namespace {

constexpr std::string_view kConsoleCommands[] = {":help", ":pretty on", ":pretty off", ":timing on", ":timing off", ":quit"};

bool WordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == ':' || c == '!' || c == '<' || c == '>' || c == '=';
}

// The statement name and the number of complete arguments before the
// cursor in the innermost list that starts with a statement name, or empty.
struct Context {
  std::string_view head;   // the list's first word ("select", "coll", ...)
  int position = 0;        // the index of the word being typed (1 = first argument)
  std::string_view outer;  // the enclosing list's head (for (coll …) inside select)
};

Context ContextOf(std::string_view line, size_t word_start) {
  struct Level {
    std::string_view head;
    int words = 0;
  };
  std::vector<Level> stack;
  bool in_string = false;
  size_t i = 0;
  while (i < word_start) {
    char c = line[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      if (!stack.empty()) ++stack.back().words;
      ++i;
    } else if (c == '(') {
      if (!stack.empty()) ++stack.back().words;
      stack.push_back(Level{});
      ++i;
    } else if (c == ')') {
      if (!stack.empty()) stack.pop_back();
      ++i;
    } else if (WordChar(c)) {
      size_t start = i;
      while (i < word_start && WordChar(line[i])) ++i;
      if (!stack.empty()) {
        if (stack.back().words == 0) stack.back().head = line.substr(start, i - start);
        ++stack.back().words;
      }
    } else {
      ++i;
    }
  }
  Context ctx;
  if (stack.empty()) return ctx;
  ctx.head = stack.back().head;
  ctx.position = stack.back().words;
  if (stack.size() >= 2) ctx.outer = stack[stack.size() - 2].head;
  return ctx;
}

void AddMatching(std::string_view prefix, std::string_view word, std::vector<std::string>* out) {
  if (word.substr(0, prefix.size()) == prefix) out->emplace_back(word);
}

}  // namespace

Completions Complete(std::string_view line, const std::vector<std::string>& collections) {
  Completions c;
  size_t start = line.size();
  while (start > 0 && WordChar(line[start - 1])) --start;
  c.word_start = start;
  std::string_view prefix = line.substr(start);
  // Console commands: a line that starts with ':' (spaces are part of them).
  size_t first = line.find_first_not_of(" \t");
  if (first != std::string_view::npos && line[first] == ':') {
    c.word_start = first;
    for (std::string_view cmd : kConsoleCommands) AddMatching(line.substr(first), cmd, &c.words);
    std::sort(c.words.begin(), c.words.end());
    return c;
  }
  Context ctx = ContextOf(line, start);
  if (ctx.position == 0 && start > 0 && line[start - 1] == '(') {
    c.space_after = true;
    if (ctx.outer.empty()) {
      for (const StatementHelp& h : StatementHelpTable()) AddMatching(prefix, h.name, &c.words);
    } else if (ctx.outer == "select" || ctx.outer == "selects" || ctx.outer == "create") {
      AddMatching(prefix, "coll", &c.words);
    } else if (ctx.outer == "read" || ctx.outer == "update" || ctx.outer == "mkindex" || ctx.outer == "rmindex") {
      AddMatching(prefix, "f", &c.words);
    }
  } else if (ctx.head == "coll" && ctx.position == 1) {
    for (const std::string& name : collections) AddMatching(prefix, name, &c.words);
  } else if ((ctx.head == "mkcoll" || ctx.head == "rmcoll" || ctx.head == "indexes" || ctx.head == "mkindex" ||
              ctx.head == "rmindex") &&
             ctx.position == 1) {
    if (ctx.head != "mkcoll") {
      for (const std::string& name : collections) AddMatching(prefix, name, &c.words);
    }
  } else if ((ctx.head == "select" || ctx.head == "selects") && ctx.position == 3) {
    c.space_after = true;
    for (std::string_view mode : {"r", "wn", "wb"}) AddMatching(prefix, mode, &c.words);
  } else if (ctx.head == "mkindex" && ctx.position == 3) {
    AddMatching(prefix, "unique", &c.words);
  } else if (ctx.head == "backup" && ctx.position == 1) {
    for (std::string_view step : {"begin", "next", "end"}) AddMatching(prefix, step, &c.words);
  }
  std::sort(c.words.begin(), c.words.end());
  c.words.erase(std::unique(c.words.begin(), c.words.end()), c.words.end());
  return c;
}

std::string CommonPrefix(const std::vector<std::string>& words) {
  if (words.empty()) return "";
  std::string prefix = words[0];
  for (const std::string& w : words) {
    size_t n = 0;
    while (n < prefix.size() && n < w.size() && prefix[n] == w[n]) ++n;
    prefix.resize(n);
  }
  return prefix;
}

}  // namespace parendb
