// A result type for the hot paths: no exceptions, just a code from the
// contract's error list (section 6) and a message for the client.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace parendb {

enum class ErrorCode : unsigned char {
  kOk,
  kSyntax,
  kUnknownStatement,
  kArity,
  kBadName,
  kDuplicateName,
  kUnknownTransaction,
  kUnknownSelection,
  kUnknownCollection,
  kCollectionExists,
  kStage,
  kLockMode,
  kType,
  kBadDocument,
  kDuplicateId,
  kCheckFailed,
  kLockTimeout,
  kDeadlock,
  kConflict,
  kLimit,
  kAuth,
  kIo,
  kInternal,
  // v1.1 (section 10)
  kIndexExists,
  kUnknownIndex,
  kDuplicateKey,
  // v1.1 (section 11)
  kNotLeader,
  kUnavailable,
};
// The last code above: what walks every code stops here.
constexpr ErrorCode kLastErrorCode = ErrorCode::kUnavailable;

// The wire spelling of a code, e.g. "unknown-collection".
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string_view code_name() const { return ErrorCodeName(code_); }

  // Appends to the message (used to say "transaction t closed").
  void AppendMessage(std::string_view more) { message_.append(more); }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

}  // namespace parendb
