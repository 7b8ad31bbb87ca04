// Embedding ParenDB: an in-memory database, one session, a transfer.
// Build: cmake --build build --target embed_example && build/embed_example
#include <cstdio>

#include <parendb/parendb.h>

int main() {
  std::string error;
  std::unique_ptr<parendb::Database> db = parendb::Database::Open(parendb::Options{}, &error);
  if (!db) {
    std::fprintf(stderr, "open failed: %s\n", error.c_str());
    return 1;
  }
  std::unique_ptr<parendb::Session> s = db->NewSession();
  const char* setup =
      "(mkcoll acc)"
      "(open t)(acquire t)"
      "(create a t (coll acc)) {\"owner\": \"ada\", \"balance\": 10}"
      "(create b t (coll acc)) {\"owner\": \"bob\", \"balance\": 0}"
      "(commit t)";
  const char* transfer =
      "(open t)(select a t wn (coll acc) (= (f _id) 1))(select b t wn (coll acc) (= (f _id) 2))(acquire t)"
      "(check a (>= (f balance) 5))(update a (f balance) (- (f balance) 5))"
      "(update b (f balance) (+ (f balance) 5))(commit t)"
      "(open q)(selects all q r (coll acc) true)(acquire q)(readall all)(close q)";
  for (const char* text : {setup, transfer}) {
    for (const parendb::Response& r : s->Execute(text)) {
      std::printf("%s%s\n", r.ok() ? "" : "ERROR ", r.text().c_str());
      if (!r.ok()) return 1;
    }
  }
  return 0;
}
