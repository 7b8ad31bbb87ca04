// Metrics: the histogram on its own, then /metrics scraped over real HTTP
// from a server under load, checked by Prometheus's own promtool (parser
// and linter) and against the work done.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>  // before Boost 1.74's asio, whose awaitable.hpp forgets it

#include <boost/asio.hpp>

#include "base/histogram.h"
#include "engine/engine.h"
#include "metrics/http_server.h"
#include "server_util.h"

using namespace parendb;
using namespace parendb::test;

namespace {

// Sends `request` on a fresh connection (or `socket`, when given) and reads
// one whole response: headers, then Content-Length bytes.
std::string Http(boost::asio::ip::tcp::socket& socket, const std::string& request) {
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string in;
  char buf[65536];
  size_t header_end = std::string::npos, want = std::string::npos;
  boost::system::error_code ec;
  while (want == std::string::npos || in.size() < want) {
    size_t n = socket.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    in.append(buf, n);
    if (header_end == std::string::npos && (header_end = in.find("\r\n\r\n")) != std::string::npos) {
      auto cl = in.find("Content-Length: ");
      size_t length = cl < header_end ? std::stoul(in.substr(cl + 16)) : 0;
      want = request.rfind("HEAD", 0) == 0 ? header_end + 4 : header_end + 4 + length;
    }
  }
  return in;
}

std::string Get(uint16_t port, const std::string& target, const std::string& method = "GET") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  return Http(socket, method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

std::string Body(const std::string& response) { return response.substr(response.find("\r\n\r\n") + 4); }

// The value of the sample line that starts with `series` followed by a space.
double Sample(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  REQUIRE_MESSAGE(at != std::string::npos, series);
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_SUITE("metrics") {
  TEST_CASE("a histogram counts each value in the first bucket it fits, and sums them") {
    Histogram h({10, 100});
    for (uint64_t v : {0, 10, 11, 100, 101, 5000}) h.Observe(v);
    std::thread([&] { h.Observe(7); }).join();  // another thread's stripe
    Histogram::Snapshot s = h.Collect();
    CHECK(s.cumulative == std::vector<uint64_t>{3, 5, 7});
    CHECK(s.count() == 7);
    CHECK(s.sum == 0 + 10 + 11 + 100 + 101 + 5000 + 7);
  }

  TEST_CASE("/metrics under load: Prometheus's parser accepts it, and it counts what was done") {
    REQUIRE_MESSAGE(system("command -v promtool >/dev/null") == 0, "promtool is missing: run scripts/setup");
    std::string data = "/tmp/parendb-metrics-data-" + std::to_string(getpid());
    std::filesystem::remove_all(data);
    Options dbo;
    dbo.data_dir = data;  // a real log: its syncs are measured too
    auto server = std::make_unique<TestServer>(ServerOptions{}, dbo);
    TestServer& ts = *server;
    ts.db->engine()->EnableMetrics();
    MetricsServer metrics(ts.db->engine(), "127.0.0.1", 0);
    std::string error;
    REQUIRE_MESSAGE(metrics.Start(&error), error);
    auto setup = ts.db->NewSession();
    REQUIRE(Lines(*setup, "(mkcoll acc)(open t)(acquire t)(create a t (coll acc)) {\"n\": 0}\n(commit t)").back() ==
            "(ok committed)");
    // Writers over real sockets, all on one document: they commit and wait for each other's locks.
    constexpr int kWriters = 4, kEach = 150;
    std::atomic<int> committed{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&] {
        Client c(ts.port());
        for (int i = 0; i < kEach; ++i) {
          c.Send("(open t)(select a t wn (coll acc) (= (f _id) 1))(acquire t 10000)"
                 "(update a (f n) (+ (f n) 1))(commit t)\n");
          auto r = c.Lines(5);
          if (r.back() == "(ok committed)") ++committed;
        }
      });
    }
    // Scrapes while they work; every one must parse.
    std::string dir = "/tmp/parendb-metrics-" + std::to_string(getpid());
    for (int i = 0; i < 5; ++i) {
      std::string res = Get(metrics.port(), "/metrics");
      CHECK(res.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
      CHECK(res.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
      std::ofstream(dir) << Body(res);
      std::string lint;
      int code = RunCommand("promtool check metrics < " + dir + " 2>&1", &lint);
      INFO(lint);
      CHECK(code == 0);
    }
    for (auto& t : writers) t.join();
    CHECK(committed == kWriters * kEach);
    std::string text = Body(Get(metrics.port(), "/metrics"));
    std::ofstream(dir) << text;
    std::string lint;
    CHECK_MESSAGE(RunCommand("promtool check metrics < " + dir + " 2>&1", &lint) == 0, lint);
    std::remove(dir.c_str());
    double commits = 1 + kWriters * kEach;  // the embedded session's counts too: metrics are the engine's
    CHECK(Sample(text, "parendb_commits_total") == commits);
    CHECK(Sample(text, "parendb_commit_duration_seconds_count") == commits);
    CHECK(Sample(text, "parendb_statement_duration_seconds_count{statement=\"update\"}") == kWriters * kEach);
    CHECK(Sample(text, "parendb_statement_duration_seconds_count{statement=\"acquire\"}") == commits);
    CHECK(Sample(text, "parendb_statement_duration_seconds_bucket{statement=\"acquire\",le=\"+Inf\"}") == commits);
    CHECK(Sample(text, "parendb_lock_wait_duration_seconds_count") == Sample(text, "parendb_lock_waits_total"));
    CHECK(Sample(text, "parendb_lock_waits_total") > 0);
    CHECK(Sample(text, "parendb_wal_group_commits_sum") >= commits);  // every commit (and the mkcoll) was logged
    CHECK(Sample(text, "parendb_wal_syncs_total") > 0);
    CHECK(Sample(text, "parendb_wal_sync_duration_seconds_count") == Sample(text, "parendb_wal_syncs_total"));
    CHECK(Sample(text, "parendb_received_bytes_total") > kWriters * kEach * 100);
    CHECK(Sample(text, "parendb_sent_bytes_total") > kWriters * kEach * 60);
    CHECK(Sample(text, "parendb_documents") == 1);
    CHECK(Sample(text, "process_resident_memory_bytes") > 0);
    metrics.Stop();
    setup.reset();
    server.reset();  // closes the data directory
    std::filesystem::remove_all(data);
  }

  TEST_CASE("the metrics endpoint: keep-alive, HEAD, 404, 405, and oversized requests closed") {
    TestServer ts;
    MetricsServer metrics(ts.db->engine(), "127.0.0.1", 0);
    std::string error;
    REQUIRE(metrics.Start(&error));
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), metrics.port()});
    for (int i = 0; i < 3; ++i) {  // one connection, several scrapes
      std::string res = Http(socket, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
      CHECK(res.rfind("HTTP/1.1 200 OK", 0) == 0);
      CHECK(Body(res).find("# TYPE parendb_commits_total counter\n") != std::string::npos);
    }
    // Without EnableMetrics, the per-statement histograms are not there; the rest is.
    CHECK(Body(Get(metrics.port(), "/metrics")).find("parendb_statement_duration_seconds") == std::string::npos);
    std::string head = Get(metrics.port(), "/metrics", "HEAD");
    CHECK(head.rfind("HTTP/1.1 200 OK", 0) == 0);
    CHECK(Body(head).empty());
    CHECK(Get(metrics.port(), "/nope").rfind("HTTP/1.1 404 Not Found", 0) == 0);
    std::string post = Get(metrics.port(), "/metrics", "POST");
    CHECK(post.rfind("HTTP/1.1 405 Method Not Allowed", 0) == 0);
    CHECK(post.find("Allow: GET, HEAD") != std::string::npos);
    // A request past 8 KiB of headers is dropped, and the server goes on.
    boost::asio::ip::tcp::socket big(io);
    big.connect({boost::asio::ip::make_address("127.0.0.1"), metrics.port()});
    std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
    boost::system::error_code ec;
    boost::asio::write(big, boost::asio::buffer(huge), ec);
    char c;
    big.read_some(boost::asio::buffer(&c, 1), ec);
    CHECK(ec);  // closed without an answer
    CHECK(Get(metrics.port(), "/metrics").rfind("HTTP/1.1 200 OK", 0) == 0);
    metrics.Stop();
  }
}
