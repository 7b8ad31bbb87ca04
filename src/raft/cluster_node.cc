#include "raft/cluster_node.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/host_port.h"
#include "base/thread_name.h"
#include "datadir/backup_source.h"
#include "doc/json.h"
#include "raft/segment_allocation.h"
#include "raft/segment_overlap.h"

namespace parendb {

Status ParseClusterMembers(const std::string& spec, std::map<uint64_t, std::string>* out) {
  out->clear();
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string::npos) end = spec.size();
    std::string item = spec.substr(pos, end - pos);
    size_t eq = item.find('=');
    char* stop = nullptr;
    unsigned long long id = eq == std::string::npos ? 0 : std::strtoull(item.c_str(), &stop, 10);
    std::string address = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    if (id == 0 || stop != item.c_str() + eq || address.rfind(':') == std::string::npos || address.rfind(':') == 0) {
      return Status(ErrorCode::kType, "bad --cluster entry \"" + item + "\": expected ID=HOST:PORT with ID a positive integer");
    }
    if (!out->emplace(id, address).second) return Status(ErrorCode::kType, "--cluster names node " + std::to_string(id) + " twice");
    pos = end + 1;
  }
  if (out->empty()) return Status(ErrorCode::kType, "--cluster names no node");
  return Status::Ok();
}

namespace {

// libraft's TCP transport leaves Nagle's algorithm on. A follower's small
// AppendEntries answer then waits for the leader's delayed ACK (40 ms on
// Linux) whenever it follows another unacknowledged segment: commits
// stalled 44 ms at the 99th percentile and the cluster ran at a sixth of a
// single node. The transport's connect and listen are wrapped so that every
// stream it makes or accepts has TCP_NODELAY. One transport per process.
struct NoDelay {
  int (*listen)(struct raft_uv_transport*, raft_uv_accept_cb) = nullptr;
  int (*connect)(struct raft_uv_transport*, struct raft_uv_connect*, raft_id, const char*, raft_uv_connect_cb) = nullptr;
  raft_uv_accept_cb accept = nullptr;
};
NoDelay no_delay;

struct ConnectReq {
  struct raft_uv_connect inner {};
  struct raft_uv_connect* outer = nullptr;
};

const char* RoleName(int state) {
  return state == RAFT_LEADER ? "leader" : state == RAFT_CANDIDATE ? "candidate" : "follower";
}

void SetNoDelay(struct uv_stream_s* stream) {
  if (stream != nullptr && stream->type == UV_TCP) uv_tcp_nodelay(reinterpret_cast<uv_tcp_t*>(stream), 1);
}

void UseNoDelay(struct raft_uv_transport* t) {
  no_delay.listen = t->listen;
  no_delay.connect = t->connect;
  t->listen = [](struct raft_uv_transport* t, raft_uv_accept_cb cb) {
    no_delay.accept = cb;
    return no_delay.listen(t, [](struct raft_uv_transport* t, raft_id id, const char* address, struct uv_stream_s* stream) {
      SetNoDelay(stream);
      no_delay.accept(t, id, address, stream);
    });
  };
  t->connect = [](struct raft_uv_transport* t, struct raft_uv_connect* req, raft_id id, const char* address,
                  raft_uv_connect_cb cb) {
    auto* wrap = new ConnectReq;
    wrap->outer = req;
    req->cb = cb;
    int rv = no_delay.connect(t, &wrap->inner, id, address, [](struct raft_uv_connect* inner, struct uv_stream_s* stream, int status) {
      auto* w = reinterpret_cast<ConnectReq*>(inner);
      if (status == 0) SetNoDelay(stream);
      struct raft_uv_connect* outer = w->outer;
      delete w;
      outer->cb(outer, stream, status);
    });
    if (rv != 0) delete wrap;
    return rv;
  };
}

// Why this node could not listen on its Raft address, or "" if it can.
std::string CannotListen(const std::string& address) {
  std::string host, port;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* ai = nullptr;
  if (!SplitHostPort(address, &host, &port) || getaddrinfo(host.c_str(), port.c_str(), &hints, &ai) != 0) {
    return "cannot resolve the Raft address " + address;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as libuv binds
  int err = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
  if (fd >= 0) close(fd);
  freeaddrinfo(ai);
  if (err == 0) return "";
  return "cannot listen on the Raft address " + address + " (this node's --cluster entry): " + std::strerror(err) +
         (err == EADDRINUSE ? " — another process listens there" : "");
}

}  // namespace

Status ClusterNode::Open(ClusterOptions options, std::unique_ptr<ClusterNode>* out) {
  if (options.members.count(options.node_id) == 0) {
    return Status(ErrorCode::kType, "--node-id " + std::to_string(options.node_id) + " is not one of the --cluster entries");
  }
  std::unique_ptr<ClusterNode> node(new ClusterNode(std::move(options)));
  Status st = node->Start();
  if (!st.ok()) return st;
  *out = std::move(node);
  return Status::Ok();
}

Status ClusterNode::Start() {
  const ClusterOptions& o = options_;
  std::string raft_dir = o.dir + "/raft";
  std::error_code ec;
  std::filesystem::create_directories(raft_dir, ec);
  if (ec) return Status(ErrorCode::kIo, "cannot create " + raft_dir + ": " + ec.message());
  Status st = DirLock::Acquire(o.dir, &lock_);
  if (!st.ok()) return st;
  // A node that had not caught up when it stopped holds back as before.
  st = vote_guard_.Open(raft_dir);
  if (!st.ok()) return st;
  if (vote_guard_.armed()) {
    Event(std::string("has not caught up with a leader since it ") +
          (vote_guard_.HoldsCandidacy() ? "lost the end of its Raft log" : "started from an empty directory") + " (" +
          raft_dir + "/" + VoteGuard::kRecordName + "): holds back its vote until it has");
  }
  // Segments libraft 0.15 can leave overlapping, which its loader refuses.
  raft_segments::Repair repair;
  st = raft_segments::RepairOverlappingSegments(raft_dir, &repair,
                                                [this] { return vote_guard_.Arm(VoteHold::kLostEntries); });
  if (!st.ok()) return st;
  if (repair.cut_from != 0) {
    std::string names;
    for (const std::string& name : repair.set_aside) names += (names.empty() ? "" : ", ") + name;
    Event("cut the Raft log back to before index " + std::to_string(repair.cut_from) +
          ": two segments start there (an interrupted truncation) and nothing tells which is newer; set aside " + names +
          " (as overlap-NAME). Until it has caught up with a leader this node neither votes nor stands as a candidate: "
          "it may have acknowledged entries it no longer has");
  } else {
    for (const std::string& name : repair.set_aside) {
      Event("set aside Raft log segment " + name + " as overlap-" + name +
            ": it overlaps a newer segment and lies behind the newest snapshot (an interrupted truncation)");
    }
  }
  for (const auto& t : repair.trimmed) {
    Event("cut Raft log segment " + t.from + " back to " + t.to + " (" + std::to_string(t.dropped) +
          " entries a newer segment overwrites: an interrupted truncation); the original is kept as overlap-" + t.from);
  }
  // libuv writes to peers' sockets without MSG_NOSIGNAL: a peer that died
  // mid-message must not kill this process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);

  engine_ = std::make_unique<Engine>(o.engine, nullptr);
  auto log = std::make_unique<ReplicatedLog>(engine_.get(), &raft_, o.advertise, [this] { uv_async_send(&wake_); });
  log_ = log.get();
  log_->SetEventLog([this](const std::string& line) { Event(line); });
  engine_->AttachLog(std::move(log));
  engine_->SetCluster(this);
  // A backup of a node: a standalone data directory holding one checkpoint
  // of the state this node has applied (as for a database in memory).
  Engine* engine = engine_.get();
  engine_->SetBackupHook([engine](std::unique_ptr<BackupStream>* out) {
    *out = MakeBackupStream(engine, nullptr, "", nullptr);
    return Status::Ok();
  });

  auto fail = [&](const char* what, int rv, const char* msg) {
    return Status(ErrorCode::kIo, std::string(what) + ": " + (msg != nullptr && *msg != '\0' ? msg : raft_strerror(rv)));
  };
  int rv = uv_loop_init(&loop_);
  if (rv != 0) return Status(ErrorCode::kIo, std::string("uv_loop_init: ") + uv_strerror(rv));
  loop_ready_ = true;
  loop_.data = this;
  uv_async_init(&loop_, &wake_, [](uv_async_t* a) {
    auto* self = static_cast<ClusterNode*>(a->loop->data);
    if (!self->stopping_.load(std::memory_order_acquire)) {
      self->log_->Drain();
      return;
    }
    // Leaving: raft fails what it holds (unavailable), then every handle
    // closes and uv_run returns.
    self->log_->FailAll(Status(ErrorCode::kUnavailable, "the server is shutting down"));
    if (self->raft_ready_) raft_close(&self->raft_, nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->wake_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->check_), nullptr);
  });
  uv_check_init(&loop_, &check_);
  uv_check_start(&check_, [](uv_check_t* c) {
    auto* self = static_cast<ClusterNode*>(c->loop->data);
    if (self->raft_ready_ && !self->stopping_.load(std::memory_order_acquire)) {
      self->log_->Refresh();
      self->incoming_.Poll();
      if (self->vote_guard_.armed()) self->CheckCaughtUp();
    }
  });

  rv = raft_uv_tcp_init(&transport_, &loop_);
  if (rv != 0) return fail("raft transport", rv, nullptr);
  UseNoDelay(&transport_);
  raft_segments::ZeroFillNewFiles();  // before raft_uv_init: it prepares segments
  struct raft_io* io = incoming_.io();
  rv = raft_uv_init(io, &loop_, raft_dir.c_str(), &transport_);
  if (rv != 0) return fail(("raft storage in " + raft_dir).c_str(), rv, io->errmsg);
  // A peer that went away is tried again a heartbeat later, not libraft's
  // default second: a restarted node hears from its leader that much sooner.
  raft_uv_set_connect_retry_delay(io, o.heartbeat_ms);
  incoming_.Install(&raft_, &vote_guard_);
  vote_guard_.SetEventLog([this](const std::string& line) { Event(line); });
  incoming_.SetEventLog([this](const std::string& line) { Event(line); });
  const std::string& self_address = o.members.at(o.node_id);
  rv = raft_init(&raft_, io, log_->fsm(), o.node_id, self_address.c_str());
  if (rv != 0) return fail("raft_init", rv, raft_.errmsg);
  raft_ready_ = true;
  log_->SetAsyncSnapshots(io->version >= 2 && io->async_work != nullptr);

  if (!o.join) {
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    for (const auto& [id, address] : o.members) raft_configuration_add(&conf, id, address.c_str(), RAFT_VOTER);
    rv = raft_bootstrap(&raft_, &conf);
    raft_configuration_close(&conf);
    if (rv == 0) {
      // A new cluster — or a member that lost its directory (vote_guard.h).
      st = vote_guard_.Arm(VoteHold::kStartedEmpty);
      if (!st.ok()) return st;
      Event("bootstrapped a new cluster of " + std::to_string(o.members.size()) + " nodes in " + raft_dir +
            "; votes only for candidates as empty as this node until it has caught up with a leader");
    } else if (rv != RAFT_CANTBOOTSTRAP) {
      return fail("raft bootstrap", rv, raft_.errmsg);
    }
  }
  raft_set_election_timeout(&raft_, o.election_timeout_ms);
  raft_set_heartbeat_timeout(&raft_, o.heartbeat_ms);
  raft_set_snapshot_threshold(&raft_, o.snapshot_threshold);
  raft_set_snapshot_trailing(&raft_, o.snapshot_trailing);
  raft_set_install_snapshot_timeout(&raft_, o.install_snapshot_timeout_ms);
  raft_set_pre_vote(&raft_, true);  // a node cut off and back does not depose a healthy leader
  rv = raft_start(&raft_);  // loads the snapshot and the log; applies once the commit index is known
  if (rv != 0) {
    // libraft says only "I/O error" when its transport cannot listen.
    std::string why = *raft_.errmsg != '\0' ? raft_.errmsg : CannotListen(self_address);
    return fail("raft_start", rv, why.empty() ? nullptr : why.c_str());
  }

  read_index_ = std::make_unique<ReadIndexClient>([this] { return log_->LeaderAddress(); }, o.password, o.read_timeout);
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  NameThread(thread_, "parendb-raft");
  Event("node " + std::to_string(o.node_id) + " started: Raft at " + self_address + ", clients at " + o.advertise);
  return Status::Ok();
}

ClusterNode::~ClusterNode() {
  // The loop goes first: a read barrier it fails may still hand its read
  // to the read-index client, which then fails it (unavailable) as it stops.
  if (thread_.joinable()) {
    stopping_.store(true, std::memory_order_release);
    uv_async_send(&wake_);
    thread_.join();
  } else if (loop_ready_) {
    // Start failed part way: close what was opened and let the loop finish.
    if (raft_ready_) raft_close(&raft_, nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  read_index_.reset();
  if (loop_ready_) {
    raft_uv_close(incoming_.io());
    raft_uv_tcp_close(&transport_);
    uv_loop_close(&loop_);
  }
  engine_.reset();
}

void ClusterNode::ReadBarrier(std::function<void(Status)> user_done) {
  read_barriers_.fetch_add(1, std::memory_order_relaxed);
  // Whatever answers, leader or follower, a success covers every commit
  // acknowledged before now: what bounded-staleness reads go by, and what
  // a node that started empty waits for before it votes again.
  auto asked = ReadFreshness::Clock::now();
  std::function<void(Status)> done = [this, asked, user_done = std::move(user_done)](Status st) {
    if (st.ok()) {
      freshness_.Confirmed(asked);
      if (vote_guard_.armed() && vote_guard_.Disarm()) Event("caught up with a leader: votes (and stands) again");
    }
    user_done(std::move(st));
  };
  if (log_->is_leader()) {
    // A leader that finds it is no longer one (it was cut off, or stopped,
    // and does not know yet) asks the new leader like any follower.
    log_->ReadIndex([this, done = std::move(done)](Status st, uint64_t) mutable {
      if (st.code() == ErrorCode::kNotLeader) return AskLeader(std::move(done));
      done(std::move(st));
    });
    return;
  }
  AskLeader(std::move(done));
}

void ClusterNode::CheckCaughtUp() {
  // This node voted, in this term, for the leader of this term: a node
  // that holds back votes grants one only to a candidate whose log is the
  // bootstrap entry alone, and a candidate that won with such a log had a
  // majority holding nothing committed past it — unless two nodes had lost
  // (or never had) the data, two failures, more than three nodes survive.
  // That is a new cluster's first election: vote normally from now on.
  // Not for a node that lost the end of its log: it may have voted for
  // this leader before it lost entries it then acknowledged.
  raft_id leader = 0;
  const char* address = nullptr;
  raft_leader(&raft_, &leader, &address);
  if (leader != 0 && raft_.voted_for == leader && !vote_guard_.HoldsCandidacy()) {
    if (vote_guard_.Disarm()) {
      Event("voted for the leader of term " + std::to_string(raft_.current_term) + ": votes for any candidate again");
    }
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - probe_at_ < std::chrono::milliseconds(20)) return;
  probe_at_ = now;
  BackgroundBarrier();
}

void ClusterNode::BackgroundBarrier() {
  if (background_barrier_.exchange(true, std::memory_order_acq_rel)) return;
  ReadBarrier([this](const Status&) { background_barrier_.store(false, std::memory_order_release); });
}

bool ClusterNode::CurrentWithin(std::chrono::milliseconds bound) {
  auto now = ReadFreshness::Clock::now();
  if (!freshness_.Within(now, bound)) return false;
  stale_reads_.fetch_add(1, std::memory_order_relaxed);
  // Half the bound gone: a barrier in the background, so that a steady
  // stream of stale reads seldom has to wait for one.
  if (!freshness_.Within(now, bound / 2)) BackgroundBarrier();
  return true;
}

void ClusterNode::AskLeader(std::function<void(Status)> done) {
  auto deadline = std::chrono::steady_clock::now() + options_.read_timeout;
  read_index_->Ask([this, deadline, done = std::move(done)](Status st, uint64_t index) mutable {
    if (!st.ok()) {
      if (st.code() == ErrorCode::kNotLeader) st = Status(ErrorCode::kUnavailable, st.message());
      return done(std::move(st));
    }
    log_->WhenApplied(index, deadline, std::move(done));
  });
}

ClusterRole::Metrics ClusterNode::GetMetrics() {
  ReplicatedLog::Role r = log_->role();
  Metrics m;
  FillMetrics(r, &m);
  return m;
}

void ClusterNode::FillMetrics(const ReplicatedLog::Role& r, Metrics* m) {
  m->role = RoleName(r.state);
  m->node = static_cast<int64_t>(options_.node_id);
  m->term = static_cast<int64_t>(r.term);
  m->applied = static_cast<int64_t>(log_->applied());
  m->leader_id = static_cast<int64_t>(r.leader_id);
  m->members = static_cast<int64_t>(r.members.size());
  m->elections_won = static_cast<int64_t>(r.elections_won);
  m->commits_proposed = static_cast<int64_t>(r.commits_proposed);
  m->snapshots_taken = static_cast<int64_t>(r.snapshots_taken);
  m->snapshots_installed = static_cast<int64_t>(r.snapshots_installed);
  m->snapshots_held = static_cast<int64_t>(incoming_.snapshots_held());
  m->read_barriers = read_barriers_.load(std::memory_order_relaxed);
  m->stale_reads = stale_reads_.load(std::memory_order_relaxed);
  m->follower_logs_lost = static_cast<int64_t>(incoming_.matches_forgotten());
  m->votes_refused = static_cast<int64_t>(vote_guard_.refused());
}

std::string ClusterNode::DescribeJson() {
  ReplicatedLog::Role r = log_->role();
  Metrics m;
  FillMetrics(r, &m);
  Object o;
  o.push_back({"node", Value(m.node)});
  o.push_back({"role", Value(m.role)});
  o.push_back({"leader", r.leader_address.empty() ? Value() : Value(r.leader_address)});
  o.push_back({"leader_id", r.leader_id == 0 ? Value() : Value(m.leader_id)});
  o.push_back({"term", Value(m.term)});
  o.push_back({"applied", Value(m.applied)});
  o.push_back({"client_address", Value(options_.advertise)});
  Array nodes;
  for (const auto& [id, address] : r.members) {
    Object n;
    n.push_back({"id", Value(static_cast<int64_t>(id))});
    n.push_back({"address", Value(address)});
    nodes.emplace_back(std::move(n));
  }
  o.push_back({"nodes", Value(std::move(nodes))});
  for (const Metrics::Counter& c : Metrics::kCounters) o.push_back({std::string(c.name), Value(m.*c.field)});
  o.push_back({"holding_votes", Value(vote_guard_.armed())});
  o.push_back({"holding_candidacy", Value(vote_guard_.HoldsCandidacy())});
  std::string json;
  AppendJson(Value(std::move(o)), &json);
  return json;
}

}  // namespace parendb
