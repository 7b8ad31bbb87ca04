// What the console and the backup tool parse: base64 (a backup's pieces)
// must round-trip, and decode only its one canonical form; Tab completion
// must take any line; and the console's statement splitter
// (ResponseCounter with pieces) must cut any text into pieces each answered
// in full once sent — what --stop-on-error and one-statement-at-a-time
// sending rest on (a piece whose answer needed the next piece's first byte
// would hang the console).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/base64.h"
#include "console/completion.h"
#include "console/response_counter.h"

using namespace parendb;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  std::string text, back;
  AppendBase64(in, &text);
  if (!DecodeBase64(text, &back) || back != in) std::abort();
  std::string decoded;
  if (DecodeBase64(in, &decoded)) {  // valid: encoding it again gives the same text
    std::string again;
    AppendBase64(decoded, &again);
    if (again != in) std::abort();
  }

  static const std::vector<std::string> kCollections = {"people", "pets", "accounts"};
  Completions c = Complete(in, kCollections);
  if (c.word_start > in.size()) std::abort();
  for (const std::string& w : c.words) {
    std::string_view typed = in.substr(c.word_start);
    if (w.compare(0, typed.size(), typed) != 0) std::abort();
  }

  // A counter fed the pieces one at a time, as a server's session is fed by
  // a console that waits for each piece's answers, completes each piece's
  // answers with that piece (else the console would wait forever), and in
  // all as many as the whole text gives (unless a limit ended the stream).
  ResponseCounter whole;
  size_t answers = whole.Feed(in);
  ResponseCounter session;
  size_t from = 0, total = 0;
  for (const ResponseCounter::Piece& p : SplitIntoPieces(in)) {
    if (p.end <= from || p.end > in.size() || p.answers == 0) std::abort();
    if (session.Feed(in.substr(from, p.end - from)) != p.answers) std::abort();
    total += p.answers;
    from = p.end;
  }
  if (total > answers || (!whole.fatal() && session.Feed(in.substr(from)) != answers - total)) std::abort();
  return 0;
}
