// `--metrics-port`: a small HTTP/1.1 server (Boost.Beast) answering
// GET /metrics with RenderPrometheus (prometheus.h), for Prometheus to
// scrape. It runs on a thread of its own, apart from the statement
// server's threads, so a scrape never queues behind statements (and a
// slow scraper never holds up a transaction); each scrape reads the
// counters once. Keep-alive is honoured; a connection idle for 30 s, or a
// request over 8 KiB, is closed; at most 64 scrapers at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace parendb {

class Engine;

class MetricsServer {
 public:
  MetricsServer(const Engine* engine, std::string bind, uint16_t port);  // port 0: any free one
  ~MetricsServer();  // Stop()s

  // Binds and starts serving; false, with *error naming the address, when it cannot.
  bool Start(std::string* error);
  uint16_t port() const;
  // Closes the listener and every connection, and joins the thread.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parendb
