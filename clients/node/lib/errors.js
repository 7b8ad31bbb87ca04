'use strict';
// Errors: one class per error code of the contract, plus the client's own.
// Every server error is a ServerError with `code` (the contract's code, such
// as 'deadlock'), `message` (the server's text) and `statement` (the
// statement that got it, when known). DeadlockError, LockTimeoutError and
// ConflictError are `retryable`.

class ParenDBError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

// The connection could not be made, broke, or timed out. It is closed; a
// transaction on it did not commit — unless this is an OutcomeUnknownError.
class OperationalError extends ParenDBError {}

// The connection broke after a commit was sent and before its answer came:
// the transaction may or may not have committed. Never retried.
class OutcomeUnknownError extends OperationalError {}

// The server sent something that is not a response of the contract.
class ProtocolError extends OperationalError {}

// No pooled connection became free in time.
class PoolTimeoutError extends OperationalError {}

// The client was used wrongly: a closed connection, an ended transaction, an
// answer read before its transaction ran.
class InterfaceError extends ParenDBError {}

class ServerError extends ParenDBError {
  constructor(message, code, statement) {
    super(message);
    this.code = code ?? this.constructor.code ?? '';
    this.statement = statement;
    this.retryable = Boolean(this.constructor.retryable);
  }
}

const byCode = new Map();
const classes = {};

function define(code, name, retryable = false, base = ServerError) {
  const cls = { [name]: class extends base {} }[name];
  cls.code = code;
  cls.retryable = retryable;
  byCode.set(code, cls);
  classes[name] = cls;
}

define('syntax', 'SyntaxError');
define('unknown-statement', 'UnknownStatementError');
define('arity', 'ArityError');
define('bad-name', 'BadNameError');
define('duplicate-name', 'DuplicateNameError');
define('unknown-transaction', 'UnknownTransactionError');
define('unknown-selection', 'UnknownSelectionError');
define('unknown-collection', 'UnknownCollectionError');
define('collection-exists', 'CollectionExistsError');
define('stage', 'StageError');
define('lock-mode', 'LockModeError');
define('type', 'TypeError');
define('bad-document', 'BadDocumentError');
define('duplicate-id', 'DuplicateIdError');
define('check-failed', 'CheckFailedError');
define('lock-timeout', 'LockTimeoutError', true);
define('deadlock', 'DeadlockError', true);
define('conflict', 'ConflictError', true);
define('limit', 'LimitError');
define('auth', 'AuthError');
define('io', 'IOError');
define('internal', 'InternalError');
define('index-exists', 'IndexExistsError');
define('unknown-index', 'UnknownIndexError');
define('duplicate-key', 'DuplicateKeyError');
define('not-leader', 'NotLeaderError');
// A cluster lost its majority while committing: the outcome is unknown.
define('unavailable', 'UnavailableError');

// The error for an (error CODE "message") line; a plain ServerError for a
// code this version does not know.
function fromResponse(code, message) {
  const cls = byCode.get(code);
  return cls ? new cls(message) : new ServerError(message, code);
}

// True for errors after which the outcome of a commit is unknown.
function outcomeUnknown(err) {
  return err instanceof OutcomeUnknownError || err instanceof classes.UnavailableError;
}

module.exports = {
  ParenDBError,
  OperationalError,
  OutcomeUnknownError,
  ProtocolError,
  PoolTimeoutError,
  InterfaceError,
  ServerError,
  ...classes,
  byCode,
  fromResponse,
  outcomeUnknown,
};
