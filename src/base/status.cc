#include "base/status.h"

namespace parendb {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kSyntax: return "syntax";
    case ErrorCode::kUnknownStatement: return "unknown-statement";
    case ErrorCode::kArity: return "arity";
    case ErrorCode::kBadName: return "bad-name";
    case ErrorCode::kDuplicateName: return "duplicate-name";
    case ErrorCode::kUnknownTransaction: return "unknown-transaction";
    case ErrorCode::kUnknownSelection: return "unknown-selection";
    case ErrorCode::kUnknownCollection: return "unknown-collection";
    case ErrorCode::kCollectionExists: return "collection-exists";
    case ErrorCode::kStage: return "stage";
    case ErrorCode::kLockMode: return "lock-mode";
    case ErrorCode::kType: return "type";
    case ErrorCode::kBadDocument: return "bad-document";
    case ErrorCode::kDuplicateId: return "duplicate-id";
    case ErrorCode::kCheckFailed: return "check-failed";
    case ErrorCode::kLockTimeout: return "lock-timeout";
    case ErrorCode::kDeadlock: return "deadlock";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kLimit: return "limit";
    case ErrorCode::kAuth: return "auth";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kIndexExists: return "index-exists";
    case ErrorCode::kUnknownIndex: return "unknown-index";
    case ErrorCode::kDuplicateKey: return "duplicate-key";
    case ErrorCode::kNotLeader: return "not-leader";
    case ErrorCode::kUnavailable: return "unavailable";
  }
  return "internal";
}

}  // namespace parendb
