#include "raft/replicated_log.h"

#include <cstring>
#include <random>

#include "datadir/checkpoint_encoder.h"
#include "datadir/data_dir.h"
#include "raft/entry.h"
#include "wal/log_format.h"

namespace parendb {

// One raft_apply: the commits Drain took together.
struct ReplicatedLog::Proposal {
  struct raft_apply req {};
  ReplicatedLog* self = nullptr;
  std::vector<uint64_t> seqs;
};

struct ReplicatedLog::Barrier {
  struct raft_barrier req {};
  ReplicatedLog* self = nullptr;
  std::vector<std::function<void(Status, uint64_t)>> waiting;
};

// A snapshot being taken: the engine's snapshot (held by the encoder
// until it is done) and the bytes made from it.
//
//   snapshot := "PDBRSN1\n" count:u32 (node:u64 len:u32 address)* checkpoint
//
// The announced client addresses come first (a node that starts from a
// snapshot has no log entries to learn the leader's from), then the
// checkpoint file's bytes (wal/log_format.h).
constexpr std::string_view kSnapshotMagic = "PDBRSN1\n";

struct ReplicatedLog::SnapshotWork {
  std::unique_ptr<CheckpointEncoder> encoder;
  std::map<uint64_t, std::string> addresses;
  std::string bytes;
  struct raft_buffer buf {};
  void Encode() {
    bytes.append(kSnapshotMagic);
    auto put32 = [&](uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
    put32(static_cast<uint32_t>(addresses.size()));
    for (const auto& [node, address] : addresses) {
      bytes.append(reinterpret_cast<const char*>(&node), 8);
      put32(static_cast<uint32_t>(address.size()));
      bytes.append(address);
    }
    while (encoder->Next(1u << 20, &bytes)) {
    }
    encoder.reset();  // the engine's snapshot goes now, not when raft is done
    buf.base = bytes.data();
    buf.len = bytes.size();
  }
};

namespace {

Status Unavailable(const std::string& what) { return Status(ErrorCode::kUnavailable, what); }

// Takes the snapshot header (see SnapshotWork) off the front of *data.
bool ParseSnapshotHeader(std::string_view* data, std::map<uint64_t, std::string>* addresses) {
  std::string_view d = *data;
  if (d.substr(0, kSnapshotMagic.size()) != kSnapshotMagic || d.size() < kSnapshotMagic.size() + 4) return false;
  d.remove_prefix(kSnapshotMagic.size());
  uint32_t n;
  std::memcpy(&n, d.data(), 4);
  d.remove_prefix(4);
  for (uint32_t i = 0; i < n; ++i) {
    if (d.size() < 12) return false;
    uint64_t node;
    uint32_t len;
    std::memcpy(&node, d.data(), 8);
    std::memcpy(&len, d.data() + 8, 4);
    d.remove_prefix(12);
    if (d.size() < len) return false;
    (*addresses)[node] = std::string(d.substr(0, len));
    d.remove_prefix(len);
  }
  *data = d;
  return true;
}

// An entry's bytes as raft_apply takes them: libraft's disk format pads
// every entry to 8 bytes and writes (and checksums) the padded length
// straight from the buffer, so the buffer must hold that many bytes, the
// padding zeroed — else it writes whatever memory follows, and a neighbour
// changing it between the checksum and the write corrupts the segment.
struct raft_buffer EntryBuffer(std::string_view bytes) {
  struct raft_buffer buf;
  buf.len = (bytes.size() + 7) & ~size_t{7};
  buf.base = raft_malloc(buf.len);
  std::memcpy(buf.base, bytes.data(), bytes.size());
  std::memset(static_cast<char*>(buf.base) + bytes.size(), 0, buf.len - bytes.size());
  return buf;
}

// How often a leader repeats its announcement (raft/entry.h).
constexpr std::chrono::seconds kReannounce{5};

uint64_t RandomOrigin() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ 1;
}

}  // namespace

ReplicatedLog::ReplicatedLog(Engine* engine, struct raft* raft, std::string client_address, std::function<void()> wake)
    : engine_(engine), raft_(raft), client_address_(std::move(client_address)), wake_(std::move(wake)),
      origin_(RandomOrigin()) {
  fsm_.version = 3;
  fsm_.data = this;
  fsm_.apply = &Apply;
  fsm_.snapshot = &Snapshot;
  fsm_.restore = &Restore;
  fsm_.snapshot_finalize = &SnapshotFinalize;
  fsm_.snapshot_async = nullptr;
}

ReplicatedLog::~ReplicatedLog() { FailAll(Unavailable("the server is shutting down")); }

void ReplicatedLog::AppendIn(uint64_t epoch, const std::vector<LogRecord>& records, Done done) {
  // The entry is made here, on the committer's thread and not the Raft
  // loop's, in the memory Raft takes over as it is: one copy of the
  // records, and Drain only writes the header's seq.
  thread_local std::string entry;
  entry.assign(raft_entry::kCommitHeader, '\0');
  EncodeRecords(records, &entry);
  Queued q;
  q.buf = EntryBuffer(entry);
  q.payload = entry.size() - raft_entry::kCommitHeader;
  q.done = std::move(done);
  q.epoch = epoch;
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(std::move(q));
  }
  wake_();
}

void ReplicatedLog::ReadIndex(std::function<void(Status, uint64_t)> done) {
  {
    std::lock_guard lock(queue_mu_);
    read_queue_.push_back(std::move(done));
  }
  wake_();
}

void ReplicatedLog::ChangeMembership(ClusterRole::MembershipChange change, std::function<void(Status)> done) {
  {
    std::lock_guard lock(queue_mu_);
    change_queue_.push_back(Change{std::move(change), std::move(done)});
  }
  wake_();
}

void ReplicatedLog::WhenApplied(uint64_t index, std::chrono::steady_clock::time_point deadline,
                                std::function<void(Status)> done) {
  {
    std::lock_guard lock(role_mu_);
    if (applied() < index) {
      applied_waiters_.emplace(index, Waiter{deadline, std::move(done)});
      return;
    }
  }
  done(Status::Ok());
}

namespace {

Status NotLeaderNaming(const std::string& leader) {
  if (leader.empty()) {
    return Status(ErrorCode::kNotLeader, "no leader is known (an election is under way); update transactions run only on the leader");
  }
  return Status(ErrorCode::kNotLeader, leader + " is the leader; update transactions run only there");
}

}  // namespace

Status ReplicatedLog::NotLeader() const { return NotLeaderNaming(LeaderAddress()); }

Status ReplicatedLog::AcceptsUpdates(uint64_t* epoch) const {
  std::lock_guard lock(role_mu_);
  if (role_.state == RAFT_LEADER && ready_term_.load(std::memory_order_acquire) == role_.term) {
    if (epoch != nullptr) *epoch = role_.term;
    return Status::Ok();
  }
  if (role_.state == RAFT_LEADER) {
    return Status(ErrorCode::kNotLeader, client_address_ + " was just elected and is applying the earlier terms' commits; try again");
  }
  return NotLeaderNaming(role_.leader_address);
}

std::string ReplicatedLog::LeaderAddress() const {
  std::lock_guard lock(role_mu_);
  return role_.leader_address;
}

ReplicatedLog::Role ReplicatedLog::role() const {
  std::lock_guard lock(role_mu_);
  return role_;
}

void ReplicatedLog::Drain() {
  std::vector<Queued> batch;
  std::vector<std::function<void(Status, uint64_t)>> reads;
  std::vector<Change> changes;
  {
    std::lock_guard lock(queue_mu_);
    batch.swap(queue_);
    reads.swap(read_queue_);
    changes.swap(change_queue_);
  }
  for (Change& c : changes) StartChange(std::move(c));
  // A commit whose transaction acquired under an earlier leadership of
  // this node is refused: other leaders may have committed to its
  // documents in between (ClusterRole::AcceptsUpdates).
  uint64_t term = raft_->current_term;
  std::erase_if(batch, [&](Queued& q) {
    if (q.epoch == 0 || q.epoch == term) return false;
    q.Fail(Status(ErrorCode::kNotLeader, "the leadership changed since this transaction acquired its locks; nothing "
                                         "was applied: run it again"));
    return true;
  });
  if (!batch.empty()) {
    if (raft_state(raft_) != RAFT_LEADER) {
      Status st = NotLeader();
      for (Queued& q : batch) q.Fail(st);
    } else {
      auto* p = new Proposal;
      p->self = this;
      p->req.data = p;
      std::vector<struct raft_buffer> bufs(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) {
        uint64_t seq = next_seq_++;
        raft_entry::CommitHeader(origin_, seq, static_cast<uint32_t>(batch[i].payload), static_cast<char*>(batch[i].buf.base));
        bufs[i] = batch[i].buf;
        p->seqs.push_back(seq);
        waiting_.emplace(seq, std::move(batch[i].done));
        stats_.bytes.fetch_add(bufs[i].len, std::memory_order_relaxed);
      }
      int rv = raft_apply(raft_, &p->req, bufs.data(), static_cast<unsigned>(bufs.size()), &ApplyDone);
      if (rv != 0) {
        for (auto& b : bufs) raft_free(b.base);
        FailProposal(p, rv == RAFT_NOTLEADER ? NotLeader() : Unavailable(std::string("the commit could not be proposed: ") + raft_strerror(rv)));
        delete p;
      } else {
        in_flight_.push_back(p);
        stats_.syncs.fetch_add(1, std::memory_order_relaxed);
        stats_.group_commits.Observe(batch.size());
        std::lock_guard lock(role_mu_);
        role_.commits_proposed += batch.size();
      }
    }
  }
  for (auto& r : reads) reads_next_.push_back(std::move(r));
  StartBarrier();
}

void ReplicatedLog::StartBarrier() {
  // One barrier out at a time; requests that arrive meanwhile wait for the
  // next, which starts when this one is done (its index could precede them).
  if (barrier_ != nullptr || reads_next_.empty()) return;
  auto* b = new Barrier;
  b->self = this;
  b->req.data = b;
  b->waiting.swap(reads_next_);
  int rv = raft_state(raft_) == RAFT_LEADER ? raft_barrier(raft_, &b->req, &BarrierDone) : RAFT_NOTLEADER;
  if (rv != 0) {
    Status st = rv == RAFT_NOTLEADER ? NotLeader() : Unavailable(std::string("read barrier: ") + raft_strerror(rv));
    for (auto& w : b->waiting) w(st, 0);
    delete b;
    return;
  }
  barrier_ = b;
}

namespace {

// One membership change in flight: raft_add is followed by raft_assign
// (the new node votes once it has caught up), the others are one call.
struct ChangeReq {
  struct raft_change req {};
  struct raft_transfer transfer {};
  struct raft* raft = nullptr;
  ClusterRole::MembershipChange change;
  std::function<void(Status)> done;
  std::function<void(const std::string&)> event;
  bool assigning = false;
};

Status ChangeError(int rv, const ClusterRole::MembershipChange& c, struct raft* r) {
  std::string node = "node " + std::to_string(c.node);
  switch (rv) {
    case RAFT_DUPLICATEID: return Status(ErrorCode::kConflict, node + " is already a member");
    case RAFT_BADID:
    case RAFT_NOTFOUND: return Status(ErrorCode::kConflict, node + " is not a member (or not one that can lead)");
    case RAFT_CANTCHANGE: return Status(ErrorCode::kConflict, "another membership change is in progress; try again");
    case RAFT_NOTLEADER:
    case RAFT_LEADERSHIPLOST: return Status(ErrorCode::kUnavailable, "the leadership changed during the membership change; check (cluster) and retry");
    default: return Status(ErrorCode::kUnavailable, std::string("membership change failed: ") + raft_strerror(rv) + " (" + raft_errmsg(r) + ")");
  }
}

void ChangeDone(struct raft_change* req, int status) {
  auto* c = static_cast<ChangeReq*>(req->data);
  if (status == 0 && c->change.kind == ClusterRole::MembershipChange::Kind::kAdd && !c->assigning) {
    // Added as a spare; now promote it. raft waits for it to catch up
    // before the configuration that makes it vote is committed.
    c->assigning = true;
    int rv = raft_assign(c->raft, &c->req, c->change.node, RAFT_VOTER, &ChangeDone);
    if (rv == 0) return;
    status = rv;
  }
  if (status == 0) {
    const char* what = c->change.kind == ClusterRole::MembershipChange::Kind::kAdd ? "added node " : "removed node ";
    c->event(what + std::to_string(c->change.node) +
             (c->change.address.empty() ? std::string() : " at " + c->change.address));
    c->done(Status::Ok());
  } else {
    c->done(ChangeError(status, c->change, c->raft));
  }
  delete c;
}

void TransferDone(struct raft_transfer* req) {
  auto* c = static_cast<ChangeReq*>(req->data);
  raft_id id = 0;
  const char* address = nullptr;
  raft_leader(c->raft, &id, &address);
  if (id != 0 && id != c->raft->id && (c->change.node == 0 || id == c->change.node)) {
    c->event("leadership transferred to node " + std::to_string(id));
    c->done(Status::Ok());
  } else {
    c->done(Status(ErrorCode::kUnavailable, "the leadership did not move within the election timeout; check (cluster)"));
  }
  delete c;
}

}  // namespace

void ReplicatedLog::StartChange(Change ch) {
  if (raft_state(raft_) != RAFT_LEADER) return ch.done(NotLeader());
  auto* c = new ChangeReq;
  c->raft = raft_;
  c->change = std::move(ch.change);
  c->done = std::move(ch.done);
  c->event = [this](const std::string& line) { Event(line); };
  c->req.data = c;
  c->transfer.data = c;
  int rv = 0;
  switch (c->change.kind) {
    case ClusterRole::MembershipChange::Kind::kAdd:
      rv = raft_add(raft_, &c->req, c->change.node, c->change.address.c_str(), &ChangeDone);
      break;
    case ClusterRole::MembershipChange::Kind::kRemove:
      rv = raft_remove(raft_, &c->req, c->change.node, &ChangeDone);
      break;
    case ClusterRole::MembershipChange::Kind::kTransferLeader:
      rv = raft_transfer(raft_, &c->transfer, c->change.node, &TransferDone);
      break;
  }
  if (rv != 0) {
    c->done(rv == RAFT_NOTLEADER ? NotLeader() : ChangeError(rv, c->change, raft_));
    delete c;
  }
}

void ReplicatedLog::BarrierDone(struct raft_barrier* req, int status) {
  auto* b = static_cast<Barrier*>(req->data);
  ReplicatedLog* self = b->self;
  if (self->barrier_ == b) self->barrier_ = nullptr;
  uint64_t index = req->index;
  Status st = status == 0 ? Status::Ok()
              : status == RAFT_NOTLEADER ? self->NotLeader()
                                         : Unavailable(std::string("the leadership could not be confirmed: ") + raft_strerror(status));
  for (auto& w : b->waiting) w(st, index);
  delete b;
  if (status == 0) {
    self->StartBarrier();
  } else {
    // libraft fails a barrier from inside its step-down, while raft_state
    // still says leader but the leader's state is already freed: a
    // raft_barrier now would use it (and crashed the node). The next Drain
    // starts the next barrier — or fails its reads, if no longer leader.
    self->wake_();
  }
}

void ReplicatedLog::FailProposal(Proposal* p, const Status& why) {
  for (uint64_t seq : p->seqs) {
    auto it = waiting_.find(seq);
    if (it == waiting_.end()) continue;  // applied already
    Done done = std::move(it->second);
    waiting_.erase(it);
    done(why, 0);
  }
}

void ReplicatedLog::ApplyDone(struct raft_apply* req, int status, void* result) {
  auto* p = static_cast<Proposal*>(req->data);
  ReplicatedLog* self = p->self;
  std::erase(self->in_flight_, p);
  if (status != 0) {
    self->FailProposal(p, status == RAFT_NOTLEADER
                              ? self->NotLeader()
                              : Unavailable(std::string("the leadership was lost while the commit was being replicated (") +
                                            raft_strerror(status) + "); it may or may not have been applied"));
  }
  delete p;
}

int ReplicatedLog::Apply(struct raft_fsm* fsm, const struct raft_buffer* buf, void** result) {
  auto* self = static_cast<ReplicatedLog*>(fsm->data);
  *result = nullptr;
  // raft applies entries in order and raises last_applied after each one:
  // the entry being applied is the next.
  uint64_t index = self->raft_->last_applied + 1;
  int rv = self->ApplyEntry(std::string_view(static_cast<const char*>(buf->base), buf->len), index);
  self->Applied(index);
  return rv;
}

int ReplicatedLog::ApplyEntry(std::string_view bytes, uint64_t index) {
  raft_entry::Parsed e;
  if (!raft_entry::Parse(bytes, &e)) {
    char head[64];
    std::snprintf(head, sizeof head, " (%zu bytes, kind %d)", bytes.size(), bytes.empty() ? -1 : static_cast<int>(static_cast<uint8_t>(bytes[0])));
    Event("raft entry " + std::to_string(index) + " is malformed" + head + "; skipped");
    return 0;
  }
  if (e.kind == raft_entry::kAnnounce) {
    std::lock_guard lock(role_mu_);
    client_addresses_[e.node] = std::string(e.address);
    addresses_changed_ = true;
    // Its own announcement of this term: every entry of earlier terms
    // comes before it, so all are applied now.
    if (e.node == raft_->id && e.term == raft_->current_term && raft_state(raft_) == RAFT_LEADER) {
      ready_term_.store(raft_->current_term, std::memory_order_release);
    }
    return 0;
  }
  if (e.origin == origin_) {
    auto it = waiting_.find(e.seq);
    if (it != waiting_.end()) {
      // Proposed here: the engine installs the writes it kept (and lets
      // the transaction's locks go).
      Done done = std::move(it->second);
      waiting_.erase(it);
      done(Status::Ok(), index);
      return 0;
    }
  }
  thread_local std::vector<DecodedRecord> records;
  Status st = DecodeRecords(e.payload, &records);
  if (st.ok()) st = engine_->ApplyReplicated(records, index);
  if (!st.ok()) Event("raft entry " + std::to_string(index) + " could not be applied: " + st.message());
  return 0;
}

void ReplicatedLog::Applied(uint64_t index) {
  if (index <= applied()) return;
  std::vector<std::function<void(Status)>> ready;
  {
    std::lock_guard lock(role_mu_);
    applied_.store(index, std::memory_order_release);
    auto end = applied_waiters_.upper_bound(index);
    for (auto it = applied_waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second.done));
    applied_waiters_.erase(applied_waiters_.begin(), end);
  }
  for (auto& d : ready) d(Status::Ok());
}

void ReplicatedLog::ExpireWaiters() {
  std::vector<std::function<void(Status)>> late;
  {
    std::lock_guard lock(role_mu_);
    if (applied_waiters_.empty()) return;
    auto now = std::chrono::steady_clock::now();
    for (auto it = applied_waiters_.begin(); it != applied_waiters_.end();) {
      if (it->second.deadline <= now) {
        late.push_back(std::move(it->second.done));
        it = applied_waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& d : late) {
    d(Unavailable("this node did not catch up with the leader in time (it may be cut off from it); the read cannot be made current"));
  }
}

void ReplicatedLog::Announce() {
  struct Req {
    struct raft_apply req {};
  };
  std::string bytes = raft_entry::Announce(raft_->id, raft_->current_term, client_address_);
  struct raft_buffer buf = EntryBuffer(bytes);
  auto* r = new Req;
  int rv = raft_apply(raft_, &r->req, &buf, 1, [](struct raft_apply* req, int, void*) {
    delete reinterpret_cast<Req*>(req);
  });
  if (rv != 0) {
    raft_free(buf.base);
    delete r;
  }
}

void ReplicatedLog::Refresh() {
  Applied(raft_->last_applied);  // barriers and configuration entries count too
  ExpireWaiters();
  int state = raft_state(raft_);
  uint64_t term = raft_->current_term;
  raft_id leader_id = 0;
  const char* leader_raft_address = nullptr;
  raft_leader(raft_, &leader_id, &leader_raft_address);
  auto now = std::chrono::steady_clock::now();
  if (state == RAFT_LEADER && announced_term_ == term && now - announced_at_ > kReannounce) {
    announced_at_ = now;
    Announce();
  }
  if (state == RAFT_LEADER && announced_term_ != term) {
    announced_term_ = term;
    announced_at_ = now;
    Announce();
    Event("elected leader in term " + std::to_string(term));
    std::lock_guard lock(role_mu_);
    ++role_.elections_won;
  }
  // This runs after every loop iteration: it touches the role only when
  // something changed, and allocates nothing otherwise.
  std::lock_guard lock(role_mu_);
  bool changed = state != role_.state || leader_id != role_.leader_id || term != role_.term;
  if (changed) {
    if (role_.state == RAFT_LEADER && state != RAFT_LEADER) Event("no longer the leader (term " + std::to_string(term) + ")");
    if (leader_id != role_.leader_id && leader_id != 0 && leader_id != raft_->id) {
      Event("node " + std::to_string(leader_id) + " is the leader (term " + std::to_string(term) + ")");
    }
    role_.state = state;
    role_.term = term;
    role_.leader_id = leader_id;
    is_leader_.store(state == RAFT_LEADER, std::memory_order_release);
    if (state != RAFT_LEADER) ready_term_.store(0, std::memory_order_release);
  }
  if (changed || addresses_changed_) {
    addresses_changed_ = false;
    auto it = client_addresses_.find(leader_id);
    role_.leader_address = leader_id == 0 || it == client_addresses_.end() ? std::string() : it->second;
    if (leader_id == raft_->id && state == RAFT_LEADER) role_.leader_address = client_address_;
  }
  std::pair<uint64_t, uint64_t> stamp{raft_->configuration_index, raft_->configuration_uncommitted_index};
  if (stamp != members_stamp_ || role_.members.size() != raft_->configuration.n) {
    members_stamp_ = stamp;
    role_.members.clear();
    for (unsigned i = 0; i < raft_->configuration.n; ++i) {
      role_.members.emplace_back(raft_->configuration.servers[i].id, raft_->configuration.servers[i].address);
    }
  }
}

void ReplicatedLog::FailAll(const Status& why) {
  std::vector<Queued> batch;
  std::vector<std::function<void(Status, uint64_t)>> reads;
  {
    std::lock_guard lock(queue_mu_);
    batch.swap(queue_);
    reads.swap(read_queue_);
  }
  for (Queued& q : batch) q.Fail(why);
  for (auto& r : reads) r(why, 0);
  for (auto& r : reads_next_) r(why, 0);
  reads_next_.clear();
  for (auto& [seq, done] : waiting_) done(why, 0);
  waiting_.clear();
  std::multimap<uint64_t, Waiter> waiters;
  {
    std::lock_guard lock(role_mu_);
    waiters.swap(applied_waiters_);
  }
  for (auto& [index, w] : waiters) w.done(why);
}

int ReplicatedLog::Snapshot(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs) {
  auto* self = static_cast<ReplicatedLog*>(fsm->data);
  // Taken here, on the loop thread, so it holds exactly the entries
  // applied so far — the snapshot's index.
  self->snapshot_ = std::make_unique<SnapshotWork>();
  self->snapshot_->encoder = std::make_unique<CheckpointEncoder>(self->engine_);
  {
    std::lock_guard lock(self->role_mu_);
    self->snapshot_->addresses = self->client_addresses_;
  }
  *bufs = nullptr;
  *n_bufs = 0;
  if (fsm->snapshot_async == nullptr) return SnapshotAsync(fsm, bufs, n_bufs);
  return 0;
}

int ReplicatedLog::SnapshotAsync(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs) {
  auto* self = static_cast<ReplicatedLog*>(fsm->data);
  self->snapshot_->Encode();
  *bufs = &self->snapshot_->buf;
  *n_bufs = 1;
  return 0;
}

int ReplicatedLog::SnapshotFinalize(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs) {
  auto* self = static_cast<ReplicatedLog*>(fsm->data);
  if (self->snapshot_ != nullptr) {
    self->Event("snapshot taken (" + std::to_string(self->snapshot_->bytes.size()) + " bytes)");
    std::lock_guard lock(self->role_mu_);
    ++self->role_.snapshots_taken;
  }
  self->snapshot_.reset();
  *bufs = nullptr;
  *n_bufs = 0;
  return 0;
}

int ReplicatedLog::Restore(struct raft_fsm* fsm, struct raft_buffer* buf) {
  auto* self = static_cast<ReplicatedLog*>(fsm->data);
  std::string_view data(static_cast<const char*>(buf->base), buf->len);
  std::map<uint64_t, std::string> addresses;
  if (!ParseSnapshotHeader(&data, &addresses)) {
    raft_free(buf->base);
    self->Event("the Raft snapshot could not be installed: its header is malformed");
    return RAFT_MALFORMED;
  }
  {
    std::lock_guard lock(self->role_mu_);
    for (auto& [node, address] : addresses) self->client_addresses_[node] = std::move(address);
    self->addresses_changed_ = true;
  }
  // Loaded and indexed aside, then swapped in whole: readers on this node
  // go on meanwhile and never see a collection half loaded.
  Engine scratch(EngineOptions{}, std::make_unique<NoLog>());
  uint64_t documents = 0;
  Status st = LoadCheckpointData(data, "the Raft snapshot", &scratch, &documents);
  raft_free(buf->base);
  if (!st.ok()) {
    self->Event("the Raft snapshot could not be installed: " + st.message());
    return RAFT_MALFORMED;
  }
  scratch.BuildRecoveredIndexes();
  self->engine_->ReplaceCollections(&scratch, scratch.AppliedLsn());
  self->Event("installed a snapshot of " + std::to_string(documents) + " documents");
  std::lock_guard lock(self->role_mu_);
  ++self->role_.snapshots_installed;
  return 0;
}

}  // namespace parendb
