// Section 11 in the session: (cluster), (cluster read-index), and the
// waits until this node has caught up: of a read-only acquire, and of a
// select of a collection this node does not have.
#include "doc/json.h"
#include "eval/evaluator.h"
#include "eval/evaluator_state.h"

namespace parendb {

void Evaluator::ReadBarrier(Transaction* t) {
  // The session waits like a lock wait; the barrier completes on the Raft
  // thread (a leader) or the read-index thread (a follower).
  auto p = std::make_shared<PendingWait>();
  p->wakeup = wakeup_;
  pending_ = p;
  pending_txn_ = t;
  pending_kind_ = WaitKind::kReadBarrier;
  engine_->cluster()->ReadBarrier(PendingWait::Completer(std::move(p)));
}

void Evaluator::CatchUpAndSelect(Transaction* t, bool multi) {
  // A node that has not applied a mkcoll yet would answer unknown-collection
  // for a collection created before the select was sent — a stale answer a
  // strictly serializable read must not give. So this node first catches up
  // as a read-only acquire does (only on this error path: a collection
  // already here needs no barrier, the acquire's own covers its contents),
  // then the select runs again and its answer holds as of the barrier. The
  // statement stays in stmt_ meanwhile: the session reads nothing else while
  // it waits.
  auto p = std::make_shared<PendingWait>();
  p->wakeup = wakeup_;
  pending_ = p;
  pending_txn_ = t;
  pending_kind_ = WaitKind::kSelectBarrier;
  pending_multi_ = multi;
  engine_->cluster()->ReadBarrier(PendingWait::Completer(std::move(p)));
}

void Evaluator::Cluster() {
  ClusterRole* cluster = engine_->cluster();
  if (stmt_->read_index) {
    if (cluster == nullptr) return RespondError(Error(ErrorCode::kNotLeader, "this server is not in a cluster"));
    auto p = std::make_shared<PendingWait>();
    p->wakeup = wakeup_;
    auto index = std::make_shared<uint64_t>(0);
    pending_ = p;
    pending_txn_ = nullptr;
    pending_kind_ = WaitKind::kReadIndex;
    pending_index_ = index;
    // The index is written before the completer publishes the outcome
    // under its mutex, and read after Resume saw it decided.
    cluster->ReadIndex([index, done = PendingWait::Completer(std::move(p))](Status st, uint64_t i) {
      *index = i;
      done(std::move(st));
    });
    return;
  }
  if (stmt_->cluster_op != 0) {
    if (cluster == nullptr) return RespondError(Error(ErrorCode::kNotLeader, "this server is not in a cluster"));
    ClusterRole::MembershipChange change;
    using Kind = ClusterRole::MembershipChange::Kind;
    change.kind = stmt_->cluster_op == 1 ? Kind::kAdd : stmt_->cluster_op == 2 ? Kind::kRemove : Kind::kTransferLeader;
    change.node = static_cast<uint64_t>(stmt_->node);
    change.address = stmt_->address;
    auto p = std::make_shared<PendingWait>();
    p->wakeup = wakeup_;
    pending_ = p;
    pending_txn_ = nullptr;
    pending_kind_ = WaitKind::kCatalog;
    pending_word_ = stmt_->cluster_op == 1 ? "cluster-add" : stmt_->cluster_op == 2 ? "cluster-remove" : "cluster-transfer-leader";
    cluster->ChangeMembership(std::move(change), PendingWait::Completer(std::move(p)));
    return;
  }
  if (cluster != nullptr) return RespondJson(cluster->DescribeJson());
  Object o;
  o.push_back({"node", Value()});
  o.push_back({"role", Value(std::string("standalone"))});
  o.push_back({"leader", Value()});
  o.push_back({"term", Value(int64_t{0})});
  o.push_back({"applied", Value(static_cast<int64_t>(engine_->AppliedLsn()))});
  o.push_back({"nodes", Value(Array{})});
  std::string json;
  AppendJson(Value(std::move(o)), &json);
  RespondJson(json);
}

}  // namespace parendb
