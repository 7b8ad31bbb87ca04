// Integration tests: the real server on a loopback port, talked to through
// sockets.
#include <doctest/doctest.h>

#include <fcntl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "net/serializer.h"
#include "net/server.h"
#include "server_util.h"
#include "test_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

const char* kSession =
    "(mkcoll acc)(colls)(ping)\n"
    "(open t)(acquire t)(create a t (coll acc))\n{\"owner\": \"ada\",\n \"balance\": 10}\n"
    "(create b t (coll acc)) {\"owner\": \"bob\", \"balance\": 0}(commit t)\n"
    "(open t)(select a t wn (coll acc) (= (f _id) 1))(select b t wn (coll acc) (= (f _id) 2))(acquire t)"
    "(check a (>= (f balance) 5))(update a (f balance) (- (f balance) 5))(update b (f balance) (+ (f balance) 5))"
    "(commit t)\n"
    "(open q)(selects all q r (coll acc) true)(acquire q)(readall all)(read all (f owner))(close q)\n"
    "(open w)(select x w wb (coll acc) (= (f _id) 2))(acquire w 100)(updateall x) {\"owner\": \"bo\"}(delete x)"
    "(readall x)(close w)\n"
    "(frob)(open)(open 9)(readall nope)(open t)(commit t)\n"
    "(checkpoint)(rmcoll acc)(colls)\n";

}  // namespace

TEST_SUITE("server") {
  TEST_CASE("serializer: handlers from many threads run one at a time, in order, none lost") {
    Serializer serial(true);
    constexpr int kThreads = 4, kEach = 20000;
    std::atomic<bool> inside{false};
    std::atomic<int> overlaps{0};
    int total = 0;  // plain: a race here is what ThreadSanitizer would report
    std::vector<int> last(kThreads, -1);
    int out_of_order = 0;
    auto keep = std::make_shared<int>(0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          serial.Run(
              [&, t, i] {
                if (inside.exchange(true)) overlaps.fetch_add(1);
                ++total;
                if (i <= last[t]) ++out_of_order;
                last[t] = i;
                inside.store(false);
              },
              keep);
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(overlaps.load() == 0);
    CHECK(total == kThreads * kEach);
    CHECK(out_of_order == 0);
    CHECK(keep.use_count() == 1);  // every queued handler ran and let go

    // Not needed (one thread serves): the handler runs at once, in place.
    Serializer direct(false);
    int ran = 0;
    direct.Run([&] { ++ran; }, keep);
    CHECK(ran == 1);
  }

  TEST_CASE("every statement gives over the wire exactly what the embedded API gives") {
    // One thread runs handlers without a strand, two with one: both.
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      TestServer ts(OnThreads(threads));
      auto reference = MemoryDb();
      auto expected = Lines(*reference->NewSession(), kSession);
      REQUIRE(expected.size() > 30);
      Client c(ts.port());
      c.Send(kSession);
      CHECK(c.Lines(expected.size()) == expected);
    }
  }

  TEST_CASE("a transaction split one byte per packet") {
    TestServer ts;
    Client c(ts.port());
    std::string text = kSession;
    for (char ch : text) c.Send(std::string_view(&ch, 1));
    auto reference = MemoryDb();
    auto expected = Lines(*reference->NewSession(), kSession);
    CHECK(c.Lines(expected.size()) == expected);
  }

  TEST_CASE("500 statements in one packet are answered in order") {
    // One thread runs handlers without a strand, two with one: both.
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      TestServer ts(OnThreads(threads));
      Client c(ts.port());
      std::string batch = "(mkcoll c)";
      for (int i = 0; i < 123; ++i) {
        batch += "(open t)(acquire t)(create d t (coll c)) {\"i\": " + std::to_string(i) + "}(commit t)";
      }
      batch += "(open q)(selects all q r (coll c) (= (f i) 122))(acquire q)(readall all)(close q)(ping)(ping)";
      c.Send(batch);  // 1 + 123 * 4 + 7 = 500 statements in one write
      auto lines = c.Lines(500);
      CHECK(lines[0] == "(ok mkcoll)");
      for (int i = 0; i < 123; ++i) {
        CHECK(lines[1 + i * 4 + 2] == "(ok created)");
        CHECK(lines[1 + i * 4 + 3] == "(ok committed)");
      }
      CHECK(lines[496] == R"([{"_id":123,"i":122}])");
      CHECK(lines[499] == "(ok pong)");
    }
  }

  TEST_CASE("two hundred concurrent connections") {
    // One thread runs handlers without a strand, two with one: both.
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      TestServer ts(OnThreads(threads));
      Client setup(ts.port());
      setup.Send("(mkcoll c)");
      REQUIRE(setup.Line() == "(ok mkcoll)");
      std::vector<std::unique_ptr<Client>> clients;
      for (int i = 0; i < 200; ++i) clients.push_back(std::make_unique<Client>(ts.port()));
      for (int i = 0; i < 200; ++i) {
        clients[i]->Send("(open t)(acquire t)(create d t (coll c)) {\"from\": " + std::to_string(i) + "}(commit t)");
      }
      int committed = 0;
      for (auto& c : clients) committed += c->Lines(4).back() == "(ok committed)";
      CHECK(committed == 200);
      setup.Send("(stats)");
      std::string stats = setup.Line();
      CHECK(stats.find("\"documents\":200") != std::string::npos);
      CHECK(stats.find("\"connections\":201") != std::string::npos);
    }
  }

  TEST_CASE("a waiting acquire delays only its own connection") {
    // One thread runs handlers without a strand, two with one: both.
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      TestServer ts(OnThreads(threads));
      Client a(ts.port()), b(ts.port()), c(ts.port());
      a.Send("(mkcoll c)(open t)(acquire t)(create d t (coll c)) {}(commit t)"
             "(open t)(select x t wb (coll c) (= (f _id) 1))(acquire t)");
      REQUIRE(a.Lines(8).back() == "(ok acquired)");
      b.Send("(open u)(select x u r (coll c) (= (f _id) 1))(acquire u 10000)(read x)(close u)");
      REQUIRE(b.Lines(2).back() == "(ok selected)");
      CHECK_FALSE(b.HasData());  // waiting on a's wb lock
      c.Send("(ping)(open v)(acquire v)(create e v (coll c)) {}(commit v)");
      CHECK(c.Lines(5) == std::vector<std::string>{"(ok pong)", "(ok opened)", "(ok acquired)", "(ok created)",
                                                   "(ok committed)"});
      a.Send("(update x (f seen) true)(commit t)");
      CHECK(a.Lines(2).back() == "(ok committed)");
      CHECK(b.Lines(3) == std::vector<std::string>{"(ok acquired)", R"({"_id":1})", "(ok closed)"});
    }
  }

  TEST_CASE("indexes over the wire: mkindex beside other connections, key waits and a killed holder") {
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      TestServer ts(OnThreads(threads));
      Client a(ts.port()), b(ts.port());
      a.Send("(mkcoll u)(open t)(acquire t)");
      REQUIRE(a.Lines(3).back() == "(ok acquired)");
      std::string creates;
      for (int i = 0; i < 2000; ++i) creates += "(create d" + std::to_string(i) + " t (coll u)) {\"e\": \"u" + std::to_string(i) + "\", \"n\": " + std::to_string(i % 50) + "}";
      a.Send(creates + "(commit t)");
      REQUIRE(a.Lines(2001).back() == "(ok committed)");
      // The build runs off the connection's thread: b is answered meanwhile,
      // and a's answer comes once the index is there.
      a.Send("(mkindex u (f e) unique)(mkindex u (f n))(indexes u)");
      b.Send("(ping)");
      CHECK(b.Line() == "(ok pong)");
      CHECK(a.Lines(3) == std::vector<std::string>{"(ok mkindex)", "(ok mkindex)",
                                                   R"([{"path":["e"],"unique":true,"entries":2000},{"path":["n"],"unique":false,"entries":2000}])"});
      // a holds n = 7's key range; b's move of a document into it conflicts,
      // and b's acquire of the same key waits until a ends.
      a.Send("(open t)(selects x t wn (coll u) (= (f n) 7))(acquire t)(explain x)");
      auto got = a.Lines(4);
      CHECK(got[2] == "(ok acquired)");
      CHECK(got[3] == R"({"index":["n"],"access":"index","locks":"keys","ranges":1,"documents_locked":40,"documents":40})");
      b.Send("(open v)(select y v wn (coll u) (= (f e) \"u1\"))(acquire v)(update y (f n) 7)");
      auto moved = b.Lines(4);
      CHECK(moved[2] == "(ok acquired)");
      CHECK(IsError(moved[3], "conflict"));
      b.Send("(open v)(selects y v wn (coll u) (= (f n) 7))(acquire v 10000)(read y (f e))(close v)");
      REQUIRE(b.Lines(2).back() == "(ok selected)");
      CHECK_FALSE(b.HasData());  // waiting on a's key
      // Killing a ends its transaction: b's wait is granted.
      a.Kill();
      auto read = b.Lines(3);
      CHECK(read[0] == "(ok acquired)");
      CHECK(read[1].rfind(R"([{"_id":8,"e":"u7"},)", 0) == 0);
      CHECK(read[2] == "(ok closed)");
    }
  }

  TEST_CASE("a client killed mid-transaction releases its locks") {
    // One thread runs handlers without a strand, two with one: both.
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      TestServer ts(OnThreads(threads));
      Client setup(ts.port());
      setup.Send("(mkcoll c)(open t)(acquire t)(create d t (coll c)) {}(commit t)");
      REQUIRE(setup.Lines(5).back() == "(ok committed)");
      {
        Client doomed(ts.port());
        doomed.Send("(open t)(selects all t wb (coll c) true)(acquire t)(update all (f x) 1)");
        REQUIRE(doomed.Lines(4).back() == "(ok updated 1)");
        doomed.Kill();
      }
      Client next(ts.port());
      next.Send("(open u)(selects all u wb (coll c) true)(acquire u 5000)(read all (f x))(commit u)");
      CHECK(next.Lines(5) == std::vector<std::string>{"(ok opened)", "(ok selected)", "(ok acquired)",
                                                      R"([{"_id":1}])", "(ok committed)"});
    }
  }

  TEST_CASE("garbage, oversized and deeply nested input, then a working connection") {
    ServerOptions so;
    Options dbo;
    dbo.max_statement_bytes = 4096;
    TestServer ts(so, dbo);
    {
      Client c(ts.port());
      std::mt19937 rng(7);
      std::string junk;
      for (int i = 0; i < 3000; ++i) junk += static_cast<char>(rng() % 256);
      c.Send(junk + "\n)\n\"\n(ping)\n");
      // Whatever the junk caused, the connection goes on to the ping.
      std::string line;
      for (int i = 0; i < 5000 && (line = c.Line()) != "(ok pong)"; ++i) {
        REQUIRE(line != "<closed>");
        REQUIRE(line != "<timeout>");
        CHECK(line.rfind("(error ", 0) == 0);
      }
      CHECK(line == "(ok pong)");
    }
    // Crossing the size or the depth limit is answered, then the
    // connection is closed: the end is not looked for past the limit.
    for (std::string over : {"(ping " + std::string(5000, 'x') + ")\n(ping)\n",
                             std::string(300, '(') + std::string(300, ')') + "(ping)"}) {
      Client c(ts.port());
      c.Send(over);
      CHECK(IsError(c.Line(), "limit"));
      CHECK(c.Line() == "<closed>");
    }
    {
      // A statement whose end cannot be found within the limit: answered,
      // then the connection is closed.
      Client c(ts.port());
      c.Send("(ping \"" + std::string(8000, 'y'));
      CHECK(IsError(c.Line(), "limit"));
      CHECK(c.Line() == "<closed>");
    }
    Client fresh(ts.port());
    fresh.Send("(ping)");
    CHECK(fresh.Line() == "(ok pong)");
  }

  TEST_CASE("authentication on and off") {
    {
      TestServer open_server;
      Client c(open_server.port());
      c.Send("(ping)(auth \"x\")");
      CHECK(c.Lines(2) == std::vector<std::string>{"(ok pong)", "(ok auth)"});
    }
    ServerOptions so;
    so.password = "s3cret";
    TestServer ts(so);
    Client c(ts.port());
    c.Send("(ping)(mkcoll c) (create a t (coll c)) {\"x\": 1}(auth \"nope\")(auth \"s3cret\")(ping)");
    auto lines = c.Lines(6);
    CHECK(IsError(lines[0], "auth"));
    CHECK(IsError(lines[1], "auth"));
    CHECK(IsError(lines[2], "auth"));  // and its document was read and dropped
    CHECK(IsError(lines[3], "auth"));
    CHECK(lines[4] == "(ok auth)");
    CHECK(lines[5] == "(ok pong)");
    Client bad(ts.port());
    bad.Send("(auth \"a\")(auth \"b\")(auth \"c\")(ping)");
    auto out = bad.Lines(4);
    CHECK(IsError(out[2], "auth"));
    CHECK(out[3] == "<closed>");  // closed after repeated failures
  }

  TEST_CASE("parendb console --connect talks to the server, one line per response") {
    ServerOptions so;
    so.password = "pw";
    TestServer ts(so);
    char pw[] = "/tmp/parendb-pw-XXXXXX";
    int fd = mkstemp(pw);
    REQUIRE(write(fd, "pw\n", 3) == 3);
    close(fd);
    char in[] = "/tmp/parendb-in-XXXXXX";
    fd = mkstemp(in);
    std::string script =
        "(mkcoll c)\n(open t)(acquire t)\n(create d t (coll c))\n{\"v\":\n 1}\n(commit t)\n(frob)\n"
        "(open q)(selects a q r (coll c) true)(acquire q)(readall a)(close q)\n";
    REQUIRE(write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size()));
    close(fd);
    std::string cmd = std::string(PARENDB_BINARY) + " console --connect 127.0.0.1:" + std::to_string(ts.port()) +
                      " --password-file " + pw + " < " + in + " 2>&1";
    std::string out;
    CHECK(RunCommand(cmd, &out) == 0);
    unlink(pw);
    unlink(in);
    CHECK(out ==
          "(ok mkcoll)\n(ok opened)\n(ok acquired)\n(ok created)\n(ok committed)\n"
          "(error unknown-statement \"unknown statement frob\")\n"
          "(ok opened)\n(ok selected)\n(ok acquired)\n[{\"_id\":1,\"v\":1}]\n(ok closed)\n");
  }

  TEST_CASE("a Unix-domain socket beside TCP: same answers, stale files replaced, live ones and non-sockets kept") {
    char dir[] = "/tmp/parendb-sock-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/parendb.sock";
    // A file left by a killed server is a socket nobody answers on.
    {
      int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      path.copy(addr.sun_path, path.size());
      REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      close(fd);
    }
    {
      ServerOptions so;
      so.unix_socket = path;
      TestServer ts(so);
      Client local(path);
      Client tcp(ts.port());
      local.Send("(mkcoll acc)(open t)(acquire t)(create a t (coll acc)) {\"b\": 10}(commit t)");
      CHECK(local.Lines(5).back() == "(ok committed)");
      const std::string transfer = "(open t)(select a t wn (coll acc) (= (f _id) 1))(acquire t)"
                                   "(update a (f b) (- (f b) 1))(readall a)(commit t)";
      local.Send(transfer);
      tcp.Send(transfer);
      auto via_local = local.Lines(6);
      auto via_tcp = tcp.Lines(6);
      CHECK(via_local.back() == "(ok committed)");
      CHECK(via_tcp.back() == "(ok committed)");
      // Either order; each saw a whole transaction.
      CHECK(std::set<std::string>{via_local[4], via_tcp[4]} ==
            std::set<std::string>{"{\"_id\":1,\"b\":9}", "{\"_id\":1,\"b\":8}"});
      // The console connects there too.
      std::string cmd = "printf '(ping)(colls)' | " + std::string(PARENDB_BINARY) + " console --connect unix:" + path + " 2>&1";
      std::string out;
      CHECK(RunCommand(cmd, &out) == 0);
      CHECK(out == "(ok pong)\n[\"acc\"]\n");
      // A second server on the same path is refused: the first answers there.
      ServerOptions again;
      again.unix_socket = path;
      auto db2 = MemoryDb({});
      Server second(db2->engine(), again);
      std::string error;
      CHECK_FALSE(second.Start(&error));
      CHECK(error.find("another server is listening") != std::string::npos);
    }
    CHECK(access(path.c_str(), F_OK) != 0);  // removed at the end
    // A path holding something else is left alone.
    int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    close(fd);
    ServerOptions so;
    so.unix_socket = path;
    so.port = 0;
    auto db = MemoryDb({});
    Server refused(db->engine(), so);
    std::string error;
    CHECK_FALSE(refused.Start(&error));
    CHECK(error.find("not a socket") != std::string::npos);
    CHECK(access(path.c_str(), F_OK) == 0);
    unlink(path.c_str());
    rmdir(dir);
  }

  TEST_CASE("the connection limit refuses with an error") {
    ServerOptions so;
    so.max_connections = 2;
    TestServer ts(so);
    Client a(ts.port()), b(ts.port());
    a.Send("(ping)");
    b.Send("(ping)");
    REQUIRE(a.Line() == "(ok pong)");
    REQUIRE(b.Line() == "(ok pong)");
    Client c(ts.port());
    CHECK(IsError(c.Line(), "limit"));
    CHECK(c.Line() == "<closed>");
  }

  TEST_CASE("the idle timeout closes a silent connection, not a busy one or one waiting on locks") {
    using namespace std::chrono_literals;
    ServerOptions so;
    // Wide margins, so that a loaded host that stalls this thread for a
    // while does not make a talking client look idle: the busy client
    // talks every 40 ms (a 360 ms stall is tolerated), the holder every
    // 120 ms; the waiter's lock timeout (700 ms) comes 180 ms before the
    // holder (quiet after its last ping, at 480 ms) would be closed.
    so.idle_timeout = 400ms;
    TestServer ts(so);
    Client silent(ts.port()), busy(ts.port()), holder(ts.port()), waiter(ts.port());
    silent.Send("(ping)");
    REQUIRE(silent.Line() == "(ok pong)");
    holder.Send("(mkcoll c)(open h)(select x h wb (coll c) true)(acquire h)");
    REQUIRE(holder.Lines(4)[3] == "(ok acquired)");
    waiter.Send("(open w)(select y w r (coll c) true)(acquire w 700)");
    REQUIRE(waiter.Lines(2)[1] == "(ok selected)");
    // The busy client talks past the timeout in total; the holder keeps
    // its lock by talking too.
    for (int i = 0; i < 15; ++i) {
      busy.Send("(ping)");
      REQUIRE(busy.Line() == "(ok pong)");
      if (i % 3 == 0) {
        holder.Send("(ping)");
        REQUIRE(holder.Line() == "(ok pong)");
      }
      std::this_thread::sleep_for(40ms);
    }
    CHECK(silent.Line() == "<closed>");
    // The waiter was not idle while it waited: it gets its lock-timeout.
    CHECK(IsError(waiter.Line(), "lock-timeout"));
    waiter.Send("(ping)");
    CHECK(waiter.Line() == "(ok pong)");
  }

  TEST_CASE("a client that sends without reading is held back, not buffered without bound") {
    ServerOptions so;
    so.max_output_bytes = 64 << 10;
    TestServer ts(so);
    Client setup(ts.port());
    setup.Send("(mkcoll c)(open t)(acquire t)(create d t (coll c)) {\"pad\": \"" + std::string(2000, 'x') +
               "\"}(commit t)");
    REQUIRE(setup.Lines(5).back() == "(ok committed)");
    // 20 MB of reads would be ~500 MB of answers. Sent without reading, the
    // server must stop reading once its output is pending: sends stall
    // long before the end (kernel buffers hold a few MB at most).
    Client greedy(ts.port());
    std::string txn = "(open t)(select a t r (coll c) (= (f _id) 1))(acquire t)(readall a)(close t)\n";
    std::string batch;
    while (batch.size() < (1u << 20)) batch += txn;
    size_t sent = 0, total = 20u << 20;
    CHECK_FALSE(greedy.SendUntilStalled(batch, total, &sent));
    CHECK(sent < total);
    // What was answered is answered in order.
    for (int i = 0; i < 20; ++i) {
      auto lines = greedy.Lines(5);
      CHECK(lines[0] == "(ok opened)");
      CHECK(lines[4] == "(ok closed)");
    }
    greedy.Kill();
    Client next(ts.port());
    next.Send("(ping)");
    CHECK(next.Line() == "(ok pong)");
  }

  TEST_CASE("answers held back by the output limit all arrive, in order, once the client reads") {
    // One thread runs handlers without a strand, two with one: both.
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      ServerOptions so;
      so.max_output_bytes = 8 << 10;  // a few answers' worth: the limit is hit again and again
      TestServer ts(OnThreads(threads, so));
      Client setup(ts.port());
      const std::string pad(1000, 'x');
      setup.Send("(mkcoll c)(open t)(acquire t)(create d t (coll c)) {\"pad\": \"" + pad + "\"}(commit t)");
      REQUIRE(setup.Lines(5).back() == "(ok committed)");
      // ~20 MB of answers to a client with small socket buffers that reads
      // nothing until the server stops taking its statements (or has them
      // all): then the server's sends go through in part (the rest waiting
      // for the socket) and statements wait for the output to drain. Every
      // answer must still come, in order.
      constexpr int kTxns = 20000;
      std::string batch;
      for (int i = 0; i < kTxns; ++i) {
        std::string t = "t" + std::to_string(i);
        batch += "(open " + t + ")(select a " + t + " r (coll c) (= (f _id) 1))(acquire " + t + ")(readall a)(close " +
                 t + ")";
      }
      Client c(ts.port(), 16 << 10);
      std::promise<void> stalled_or_sent;
      std::atomic<bool> send_failed{false};
      std::thread sender([&] {
        // A failed REQUIRE throws; on this thread that must not end the run.
        bool told = false;
        try {
          size_t sent = 0;
          c.SendUntilStalled(batch, batch.size(), &sent);
          stalled_or_sent.set_value();
          told = true;
          c.Send(std::string_view(batch).substr(sent));
        } catch (...) {
          send_failed = true;
          if (!told) stalled_or_sent.set_value();
        }
      });
      // Usually the server stops reading first (its output cannot go); with
      // socket buffers tuned large it may take everything. Either way, read.
      stalled_or_sent.get_future().wait();
      int in_order = 0;
      for (int i = 0; i < kTxns && !send_failed; ++i) {
        auto lines = c.Lines(5);
        in_order += lines[0] == "(ok opened)" && lines[3].find(pad) != std::string::npos && lines[4] == "(ok closed)";
      }
      sender.join();
      CHECK_FALSE(send_failed);
      CHECK(in_order == kTxns);
      CHECK_FALSE(c.HasData(0));
    }
  }

  TEST_CASE("a durable transaction sent in one write is answered in one write") {
    // One thread runs handlers without a strand, two with one: both.
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      char tmpl[] = "/tmp/parendb-onewrite-XXXXXX";
      std::string dir = mkdtemp(tmpl);
      {
        Options dbo;
        dbo.data_dir = dir;
        TestServer ts(OnThreads(threads), dbo);
        Client c(ts.port());
        c.Send("(mkcoll c)");
        REQUIRE(c.Line() == "(ok mkcoll)");
        // The commit waits for its sync; the answers before it wait with it,
        // so the first thing to arrive is all four lines.
        for (int i = 0; i < 5; ++i) {
          c.Send("(open t)(acquire t)(create d t (coll c)) {\"n\": 1}(commit t)");
          CHECK(c.RecvOnce() == "(ok opened)\n(ok acquired)\n(ok created)\n(ok committed)\n");
        }
        // A wait for locks is different: what precedes it is answered at once.
        Client holder(ts.port()), waiter(ts.port());
        holder.Send("(open h)(select x h wb (coll c) true)(acquire h)");
        REQUIRE(holder.Lines(3)[2] == "(ok acquired)");
        waiter.Send("(ping)(open w)(select y w r (coll c) true)(acquire w 5000)");
        CHECK(waiter.Lines(3) == std::vector<std::string>{"(ok pong)", "(ok opened)", "(ok selected)"});
        holder.Send("(close h)");
        CHECK(holder.Line() == "(ok closed)");
        CHECK(waiter.Line() == "(ok acquired)");
      }
      std::filesystem::remove_all(dir);
    }
  }

  TEST_CASE("parendb serve: SIGTERM with transactions in flight shuts down cleanly and keeps every commit") {
    char tmpl[] = "/tmp/parendb-serve-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    // Settings from a config file (the command line adds the rest).
    std::string config = dir + ".conf";
    {
      FILE* f = fopen(config.c_str(), "w");
      fputs("# test settings\nmax-connections 77\nlock-timeout = 1234\n", f);
      fclose(f);
    }
    auto start = [&](int* out_fd) {
      int fds[2];
      REQUIRE(pipe(fds) == 0);
      pid_t pid = fork();
      if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execl(PARENDB_BINARY, PARENDB_BINARY, "serve", "--config", config.c_str(), "--data", dir.c_str(), "--port",
              "0", "--threads", "2", static_cast<char*>(nullptr));
        _exit(127);
      }
      close(fds[1]);
      *out_fd = fds[0];
      return pid;
    };
    auto port_of = [](int fd) -> uint16_t {
      std::string log;
      char buf[512];
      while (log.find("listening on") == std::string::npos || log.find("max-depth=") == std::string::npos) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return 0;
        log.append(buf, static_cast<size_t>(n));
      }
      CHECK(log.find("max-connections=77") != std::string::npos);  // from the config file
      CHECK(log.find("lock-timeout=1234ms") != std::string::npos);
      size_t p = log.find("127.0.0.1:");
      return static_cast<uint16_t>(std::stoi(log.substr(p + 10)));
    };
    int log_fd;
    pid_t pid = start(&log_fd);
    uint16_t port = port_of(log_fd);
    REQUIRE(port != 0);
    {
      Client a(port), b(port);
      a.Send("(mkcoll c)(open t)(acquire t)(create d t (coll c)) {\"v\": 1}(commit t)");
      REQUIRE(a.Lines(5).back() == "(ok committed)");
      a.Send("(open u)(selects all u wn (coll c) true)(acquire u)(update all (f v) 2)");  // never committed
      REQUIRE(a.Lines(4).back() == "(ok updated 1)");
      b.Send("(open w)(select x w wn (coll c) (= (f _id) 1))(acquire w 10000)");  // waits on a
      REQUIRE(b.Lines(2).back() == "(ok selected)");
      kill(pid, SIGTERM);
      CHECK(a.Line() == "<closed>");
      CHECK(b.Line() == "<closed>");
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    close(log_fd);
    pid = start(&log_fd);
    port = port_of(log_fd);
    REQUIRE(port != 0);
    {
      Client c(port);
      c.Send("(open q)(selects all q r (coll c) true)(acquire q)(readall all)(close q)");
      CHECK(c.Lines(5)[3] == R"([{"_id":1,"v":1}])");
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    CHECK(WEXITSTATUS(status) == 0);
    close(log_fd);
    std::filesystem::remove_all(dir);
    std::filesystem::remove(config);
  }
}
