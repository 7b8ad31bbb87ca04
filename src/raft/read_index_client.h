// A follower's question to the leader before a read-only acquire: "up to
// which index must I have applied?" — asked over the leader's client port
// as (cluster read-index), one question for every read waiting meanwhile,
// on a thread of its own with one connection kept to the leader.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"

namespace parendb {

class ReadIndexClient {
 public:
  // leader(): the leader's client address now, or empty. password: sent
  // with (auth …) when not empty. timeout bounds each question.
  ReadIndexClient(std::function<std::string()> leader, std::string password, std::chrono::milliseconds timeout);
  ~ReadIndexClient();

  // done(ok, index), or unavailable, from the client's thread.
  void Ask(std::function<void(Status, uint64_t)> done);

 private:
  void Loop();
  Status AskOnce(const std::string& leader, uint64_t* index);
  Status Connect(const std::string& leader);
  Status SendLine(const std::string& line);
  Status ReadLine(std::string* line);
  void Disconnect();

  const std::function<std::string()> leader_;
  const std::string password_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void(Status, uint64_t)>> waiting_;
  bool stop_ = false;
  int fd_ = -1;
  std::string connected_to_;
  std::string buf_;
  std::thread thread_;
};

}  // namespace parendb
