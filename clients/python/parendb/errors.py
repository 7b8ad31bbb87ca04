"""Exceptions: one class per error code of the contract, plus the client's own.

Every server error is a :class:`ServerError` with ``code`` (the contract's
code, such as ``"deadlock"``) and ``message`` (the server's text). Catch a
specific one by class::

    try:
        tx.commit()
    except parendb.errors.CheckFailedError as e:
        print(e.code, e.message)

``DeadlockError``, ``LockTimeoutError`` and ``ConflictError`` are
``retryable``: the transaction did not happen and running it again may
succeed (:meth:`parendb.Connection.run_transaction` does that).

The class names follow the codes (``duplicate-id`` is ``DuplicateIdError``);
three of them — ``SyntaxError``, ``TypeError`` and ``IOError`` — share a
name with a Python builtin, so use them qualified (``errors.TypeError``).
"""
from __future__ import annotations

import builtins
from typing import Dict, Optional, Type


class ParenDBError(Exception):
    """Base class of every exception this package raises on purpose."""


class OperationalError(ParenDBError):
    """The connection could not be made, broke, or timed out. The
    connection is closed; a transaction on it did not commit — unless this
    is an :class:`OutcomeUnknownError`."""


class OutcomeUnknownError(OperationalError):
    """The connection broke after a commit was sent and before its answer
    came: the transaction may or may not have committed. Never retried."""


class ProtocolError(OperationalError):
    """The server sent something that is not a response of the contract."""


class InterfaceError(ParenDBError, builtins.RuntimeError):
    """The client was used wrongly: a closed connection, a finished
    transaction, a handle read before its transaction ran."""


class ServerError(ParenDBError):
    """An ``(error CODE "message")`` response."""

    code: str = ""
    retryable: bool = False

    def __init__(self, message: str, code: Optional[str] = None, statement: Optional[str] = None):
        if code is not None:
            self.code = code
        self.message = message
        #: the statement that got this answer (truncated), when known
        self.statement = statement
        super().__init__(message)

    def __str__(self) -> str:
        s = f"({self.code}) {self.message}"
        if self.statement:
            s += f"\n  in: {self.statement}"
        return s


_BY_CODE: Dict[str, Type[ServerError]] = {}


def _define(code: str, name: str, doc: str, base: Type[ServerError] = ServerError,
            retryable: bool = False) -> Type[ServerError]:
    cls = type(name, (base,), {"code": code, "retryable": retryable, "__doc__": doc, "__module__": __name__})
    _BY_CODE[code] = cls
    return cls


SyntaxError = _define("syntax", "SyntaxError", "The statement could not be read.")  # noqa: A001
UnknownStatementError = _define("unknown-statement", "UnknownStatementError", "No such statement.")
ArityError = _define("arity", "ArityError", "Wrong number of arguments.")
BadNameError = _define("bad-name", "BadNameError", "Not a valid name.")
DuplicateNameError = _define("duplicate-name", "DuplicateNameError", "The name is already live.")
UnknownTransactionError = _define("unknown-transaction", "UnknownTransactionError", "No live transaction of that name.")
UnknownSelectionError = _define("unknown-selection", "UnknownSelectionError", "No live selection of that name.")
UnknownCollectionError = _define("unknown-collection", "UnknownCollectionError", "No such collection.")
CollectionExistsError = _define("collection-exists", "CollectionExistsError", "The collection exists already.")
StageError = _define("stage", "StageError", "The statement is not allowed in the transaction's stage.")
LockModeError = _define("lock-mode", "LockModeError", "The selection's lock does not allow this.")
TypeError = _define("type", "TypeError", "Arithmetic on a non-number, overflow or division by zero.")  # noqa: A001
BadDocumentError = _define("bad-document", "BadDocumentError", "Not a valid document, or a write to _id.")
DuplicateIdError = _define("duplicate-id", "DuplicateIdError", "A document with that _id exists.")
CheckFailedError = _define("check-failed", "CheckFailedError", "A check found a document that fails it.")
LockTimeoutError = _define("lock-timeout", "LockTimeoutError", "The locks were not granted in time.", retryable=True)
DeadlockError = _define("deadlock", "DeadlockError", "Waiting would have formed a cycle.", retryable=True)
ConflictError = _define("conflict", "ConflictError", "A concurrent writer conflicts.", retryable=True)
LimitError = _define("limit", "LimitError", "A configured limit was exceeded.")
AuthError = _define("auth", "AuthError", "Authentication is required or failed.")
IOError = _define("io", "IOError", "The server could not write its log.")  # noqa: A001
InternalError = _define("internal", "InternalError", "A bug in the server.")
IndexExistsError = _define("index-exists", "IndexExistsError", "The index exists already.")
UnknownIndexError = _define("unknown-index", "UnknownIndexError", "No such index.")
DuplicateKeyError = _define("duplicate-key", "DuplicateKeyError", "A unique index already holds that value.")
NotLeaderError = _define("not-leader", "NotLeaderError", "Update transactions run on the cluster's leader.")


class UnavailableError(ServerError, OutcomeUnknownError):
    """The cluster lost its majority while committing: the commit may or may
    not have happened."""

    code = "unavailable"

    def __init__(self, message: str, code: Optional[str] = None, statement: Optional[str] = None):
        ServerError.__init__(self, message, code, statement)


_BY_CODE["unavailable"] = UnavailableError


def from_response(code: str, message: str) -> ServerError:
    """The exception for an ``(error CODE "message")`` line (a plain
    ServerError for a code this version does not know)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return ServerError(message, code=code)
    return cls(message)


#: every code this client knows, with its class
CLASSES: Dict[str, Type[ServerError]] = dict(_BY_CODE)
