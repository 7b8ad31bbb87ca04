"""The blocking client: Connection, its transactions, and retries."""
from __future__ import annotations

import itertools
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, TypeVar, cast

from . import _wire, errors
from ._tx import (Backoff, InteractiveBase, Pending, RETRYABLE, Selection, Stmt, TxBuilder, batch_text, has_commit,
                  has_error, settle)
from .expr import F

T = TypeVar("T")

DEFAULT_PORT = 7420


class Connection:
    """One connection to a ParenDB server.

    ``Connection(host, port, password=..., connect_timeout=..., timeout=...)``
    connects at once (and authenticates when given a password);
    ``unix_socket=PATH`` connects to a server's ``--socket`` instead of
    host and port (same host only, cheaper than loopback TCP). ``timeout``
    bounds each round trip in seconds (None: no bound; a lock wait counts).
    A connection may be shared by threads — each round trip holds its lock —
    but a transaction belongs to the thread that uses it. When the
    connection breaks it is closed and every call raises
    :class:`~parendb.errors.OperationalError`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        password: Optional[str] = None,
        connect_timeout: Optional[float] = 10.0,
        timeout: Optional[float] = None,
        unix_socket: Optional[str] = None,
    ) -> None:
        self.host = host
        self.port = port
        self.unix_socket = unix_socket
        self._lock = threading.Lock()
        self._reader = _wire.LineReader()
        self._lines: List[str] = []
        self._tx_numbers = itertools.count(1)  # next() on it is atomic: threads may share the connection
        self.live_transactions = 0  # interactive ones, begun and not ended
        self._count_lock = threading.Lock()
        self._closed_error: errors.ParenDBError = errors.InterfaceError("the connection is closed")
        self._sock: Optional[socket.socket] = None
        try:
            if unix_socket is not None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.settimeout(connect_timeout)
                self._sock.connect(unix_socket)
            else:
                self._sock = socket.create_connection((host, port), timeout=connect_timeout)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            if self._sock is not None:
                self._sock.close()
            raise errors.OperationalError(f"cannot connect to ParenDB at {self._where()}: {e}") from e
        self._sock.settimeout(timeout)
        if password is not None:
            try:
                self._round_trip([(f"(auth {_wire.string(password)})", "ok", None)])
            except BaseException:
                self.close()
                raise

    def _where(self) -> str:
        return f"unix:{self.unix_socket}" if self.unix_socket is not None else f"{self.host}:{self.port}"

    # ------------------------------------------------------------ lifecycle
    @property
    def closed(self) -> bool:
        return self._sock is None

    def close(self) -> None:
        """Closes the connection; the server closes its live transactions."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<parendb.Connection {self._where()}{' closed' if self.closed else ''}>"

    # ----------------------------------------------------------- round trips
    def _round_trip(self, stmts: Sequence[Stmt]) -> List[Any]:
        data = batch_text(stmts)  # before anything is sent: a bad value sends nothing
        try:
            with self._lock:
                replies = self._exchange(data, len(stmts), has_commit(stmts))
        except _Lost as lost:
            settle_lost(stmts, lost)
        return settle(stmts, replies)

    def _exchange(self, data: bytes, n: int, commit_sent: bool) -> List[Any]:
        sock = self._sock
        if sock is None:
            raise self._closed_error
        sent = False
        try:
            sock.sendall(data)
            sent = True
            while len(self._lines) < n:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("the server closed the connection")
                self._lines += self._reader.feed(chunk)
        except (OSError, UnicodeDecodeError) as e:
            self.close()
            what = f"connection to {self._where()} lost ({e})"
            self._closed_error = errors.OperationalError(what)  # what later calls say
            if commit_sent and (sent or not isinstance(e, ConnectionRefusedError)):
                err: errors.OperationalError = errors.OutcomeUnknownError(
                    what + " after a commit was sent: it may or may not have committed")
            else:
                err = errors.OperationalError(what)
            err.__cause__ = e
            raise _Lost(self._lines[:n], err) from None
        except BaseException:
            # Interrupted (KeyboardInterrupt, say) between sending and reading:
            # the answers still to come would be read as the next call's.
            self.close()
            self._closed_error = errors.OperationalError(
                f"connection to {self._where()} closed: a round trip was interrupted")
            raise
        lines, self._lines = self._lines[:n], self._lines[n:]
        return lines

    def execute_raw(self, text: str, responses: int = 1) -> List[Any]:
        """Sends statement text as written and returns its `responses`
        answers (an ``Ok`` tuple of words, a JSON value, or a ServerError
        instance — returned, not raised). Named raw because it is: never
        build ``text`` from user data; use the methods that take values."""
        try:
            with self._lock:
                lines = self._exchange(_wire.encode(text + "\n"), responses, "(commit" in text)
            return [_wire.parse_line(ln) for ln in lines]
        except _Lost as lost:
            raise lost.error from lost.error.__cause__

    def _count_live(self, delta: int) -> None:
        with self._count_lock:  # threads sharing the connection each have their own transactions
            self.live_transactions += delta

    def _next_name(self) -> str:
        return f"_t{next(self._tx_numbers)}"

    # ------------------------------------------------------------ statements
    def ping(self) -> None:
        self._round_trip([("(ping)", "ok", None)])

    def colls(self) -> List[str]:
        """The collections' names, sorted."""
        return cast(List[str], self._round_trip([("(colls)", "json", None)])[0])

    def mkcoll(self, name: str, exist_ok: bool = False) -> bool:
        """Makes a collection; with exist_ok, an existing one is fine.
        Returns whether it was made."""
        try:
            self._round_trip([(f"(mkcoll {_wire.check_name(name, 'collection')})", "ok", None)])
            return True
        except errors.CollectionExistsError:
            if exist_ok:
                return False
            raise

    def rmcoll(self, name: str, missing_ok: bool = False) -> bool:
        """Drops a collection (and its indexes). Returns whether it was there."""
        try:
            self._round_trip([(f"(rmcoll {_wire.check_name(name, 'collection')})", "ok", None)])
            return True
        except errors.UnknownCollectionError:
            if missing_ok:
                return False
            raise

    def stats(self) -> Dict[str, Any]:
        return cast(Dict[str, Any], self._round_trip([("(stats)", "json", None)])[0])

    def checkpoint(self) -> None:
        self._round_trip([("(checkpoint)", "ok", None)])

    def mkindex(self, coll: str, field: F, unique: bool = False) -> None:
        self._round_trip([(_wire.index("mkindex", coll, _as_path(field).text, unique), "ok", None)])

    def rmindex(self, coll: str, field: F) -> None:
        self._round_trip([(_wire.index("rmindex", coll, _as_path(field).text), "ok", None)])

    def indexes(self, coll: str) -> List[Dict[str, Any]]:
        return cast(List[Dict[str, Any]],
                    self._round_trip([(f"(indexes {_wire.check_name(coll, 'collection')})", "json", None)])[0])

    # ---------------------------------------------------------- transactions
    def transaction(self) -> "Transaction":
        """A transaction sent whole in one write when you call commit()
        (or close()): see :class:`Transaction`."""
        return Transaction(self)

    def begin(self) -> "InteractiveTransaction":
        """An interactive transaction, best used with ``with``: see
        :class:`InteractiveTransaction`."""
        return InteractiveTransaction(self)

    def run_transaction(
        self,
        fn: Callable[["Transaction"], T],
        *,
        retries: int = 10,
        backoff: float = 0.002,
        max_backoff: float = 0.2,
    ) -> T:
        """Calls fn(tx) with a fresh :class:`Transaction`, commits it unless
        fn did, and returns what fn returned. On deadlock, lock-timeout or
        conflict it waits (exponential backoff with jitter) and runs fn
        again, at most `retries` times. Any other error, and any outcome it
        cannot know (OutcomeUnknownError), is raised at once: never retried."""
        return _retry(lambda: _run_once(self, fn), Backoff(retries, backoff, max_backoff))


class _Lost(Exception):
    """The connection ended before every answer of a batch came."""

    def __init__(self, lines: List[str], error: errors.OperationalError) -> None:
        super().__init__(str(error))
        self.lines = lines
        self.error = error


def settle_lost(stmts: Sequence[Stmt], lost: _Lost) -> None:
    """The server may answer an error and then close (a limit it cannot
    recover from): that error is the outcome — it closed the transaction
    before any commit — so it is raised rather than 'connection lost'."""
    if has_error(lost.lines):
        settle(stmts[: len(lost.lines)], lost.lines)  # raises the first error
    raise lost.error from lost.error.__cause__


def _as_path(field: Any) -> F:
    if isinstance(field, F):
        return field
    if isinstance(field, tuple):
        return F(*field)
    if isinstance(field, str):
        return F(field)
    raise TypeError(f"expected a field path, F(...), not {field!r}")


def _run_once(conn: Connection, fn: Callable[["Transaction"], T]) -> T:
    tx = conn.transaction()
    result = fn(tx)
    if tx.live:
        tx.commit()
    return result


def _retry(attempt: Callable[[], T], policy: Backoff) -> T:
    for n in range(policy.retries + 1):
        try:
            return attempt()
        except RETRYABLE:
            if n == policy.retries:
                raise
        time.sleep(policy.delay(n))
    raise AssertionError("unreachable")


class _BatchBase(TxBuilder):
    """The statements of a transaction sent in one write (shared with aio)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._stmts: List[Stmt] = [self.open_stmt()]
        #: The staleness bound of the acquire that the first read implies
        #: (see :meth:`acquire`); ``ClusterClient.run_read(stale_ms=…)`` sets it.
        self.stale_ms: Optional[int] = None

    def _need_acquired(self) -> None:
        if not self.live:
            raise errors.InterfaceError("the transaction has run already")
        if not self.acquired:
            self._stmts.append(self.acquire_stmt(None, self.stale_ms))

    def _add(self, stmt: Stmt) -> Pending:
        """A statement of the read/write stage, after the implied acquire
        (built by the caller first: a bad value changes nothing)."""
        self._need_acquired()
        self._stmts.append(stmt)
        return cast(Pending, stmt[2])

    def _add_selection(self, stmt: Stmt) -> None:
        self._stmts.append(stmt)

    def acquire(self, timeout_ms: Optional[int] = None, *, stale_ms: Optional[int] = None) -> None:
        """Where the locks are taken; implied by the first statement that
        needs them. Call it yourself to give a timeout, or, for a read-only
        transaction on a cluster node, ``stale_ms``: it may then see the
        state of up to that many milliseconds ago, and skips the round trip
        to the leader that a current read pays (lang-docs/cluster.md)."""
        self._stmts.append(self.acquire_stmt(timeout_ms, stale_ms))

    def create(self, coll: str, doc: Dict[str, Any]) -> Selection:
        """Inserts doc (a dict); the result selects the new document."""
        stmt, sel = self.create_stmt(coll, doc)
        self._add(stmt)
        return sel

    def readall(self, sel: Selection) -> Pending:
        """The selection's documents (``.value`` after the transaction ran):
        a dict or None for select, a list for selects."""
        return self._add(self.readall_stmt(sel, Pending()))

    def read(self, sel: Selection, *fields: Any) -> Pending:
        """Like readall, with _id and only the named fields (F paths or names)."""
        return self._add(self.read_stmt(sel, fields, Pending()))

    def update(self, sel: Selection, changes: Optional[Dict[Any, Any]] = None, **fields: Any) -> Pending:
        """Sets fields: ``tx.update(a, {"balance": F("balance") - 5})`` or
        ``tx.update(a, balance=0)``. ``.value``: how many documents."""
        return self._add(self.update_stmt(sel, changes, fields, Pending()))

    def replace(self, sel: Selection, doc: Dict[str, Any]) -> Pending:
        """``(updateall …)``: replaces every field but _id."""
        return self._add(self.replace_stmt(sel, doc, Pending()))

    def delete(self, sel: Selection) -> Pending:
        return self._add(self.delete_stmt(sel, Pending()))

    def check(self, sel: Selection, condition: Any) -> None:
        """Fails the transaction (CheckFailedError) unless every document of
        sel satisfies the condition."""
        self._add(self.check_stmt(sel, condition))

    def explain(self, sel: Selection) -> Pending:
        return self._add(self.explain_stmt(sel, Pending()))

    def _finish(self, commit: bool) -> List[Stmt]:
        self._need_acquired()
        self._stmts.append(self.end_stmt(commit))
        return self._stmts


class Transaction(_BatchBase):
    """A transaction built in Python and sent in one write, one round trip::

        tx = conn.transaction()
        a = tx.select("acc", F("_id") == 1, "wn")
        b = tx.select("acc", F("_id") == 2, "wn")
        tx.check(a, F("balance") >= 5)
        tx.update(a, {"balance": F("balance") - 5})
        tx.update(b, {"balance": F("balance") + 5})
        tx.commit()

    Nothing is sent before commit() (or close(), which discards the writes
    — for a transaction that only reads). Methods that answer return a
    :class:`Pending` whose ``.value`` is there once it ran. The first error
    is raised as its exception class; the server closed the transaction.
    """

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn._next_name())
        self._conn = conn

    def commit(self) -> None:
        """Sends the transaction with ``(commit …)``; returns once it is durable."""
        self._conn._round_trip(self._finish(True))

    def close(self) -> None:
        """Sends the transaction with ``(close …)``: its reads are answered,
        its writes discarded."""
        self._conn._round_trip(self._finish(False))


class InteractiveTransaction(InteractiveBase):
    """A transaction driven step by step from application code::

        with conn.begin() as tx:
            a = tx.select("acc", F("_id") == 1, "wn")
            tx.acquire()
            if tx.readall(a)["balance"] >= 5:
                tx.update(a, {"balance": F("balance") - 5})
                tx.commit()
        # not committed by the end of the block (or an exception): closed

    ``open`` and the selections travel with ``acquire``; every later call
    is one round trip. An error from the server raises its exception class
    and the server has closed the transaction.
    """

    def __enter__(self) -> "InteractiveTransaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.live and not self._conn.closed:
            try:
                self.close()
            except errors.ParenDBError:
                if exc_type is None:
                    raise

    def _send(self, stmt: Stmt) -> Any:
        if not self.live:
            raise errors.InterfaceError(f"transaction {self.name} has ended")
        stmts, self._queued = self._queued + [stmt], []
        try:
            return self._conn._round_trip(stmts)[-1]
        except errors.ServerError as e:
            # An error naming the transaction closed it; one that could not
            # be parsed closes nothing (and the client never sends those).
            self._ended()
            raise e
        except errors.OperationalError:
            self._ended()
            raise

    def acquire(self, timeout_ms: Optional[int] = None, *, stale_ms: Optional[int] = None) -> None:
        """Sends open, the selections and ``(acquire …)``; returns once the
        locks are granted (or raises LockTimeoutError, DeadlockError …).
        ``stale_ms``: see :meth:`Transaction.acquire`."""
        self._send(self.acquire_stmt(timeout_ms, stale_ms))

    def create(self, coll: str, doc: Dict[str, Any]) -> Selection:
        self._acquired()
        stmt, sel = self.create_stmt(coll, doc)
        self._send(stmt)
        return sel

    def readall(self, sel: Selection) -> Any:
        self._acquired()
        return self._send(self.readall_stmt(sel, None))

    def read(self, sel: Selection, *fields: Any) -> Any:
        self._acquired()
        return self._send(self.read_stmt(sel, fields, None))

    def update(self, sel: Selection, changes: Optional[Dict[Any, Any]] = None, **fields: Any) -> int:
        self._acquired()
        return cast(int, self._send(self.update_stmt(sel, changes, fields, None)))

    def replace(self, sel: Selection, doc: Dict[str, Any]) -> int:
        self._acquired()
        return cast(int, self._send(self.replace_stmt(sel, doc, None)))

    def delete(self, sel: Selection) -> int:
        self._acquired()
        return cast(int, self._send(self.delete_stmt(sel, None)))

    def check(self, sel: Selection, condition: Any) -> None:
        self._acquired()
        self._send(self.check_stmt(sel, condition))

    def explain(self, sel: Selection) -> Dict[str, Any]:
        return cast(Dict[str, Any], self._send(self.explain_stmt(sel, None)))

    def commit(self) -> None:
        """``(commit …)``: returns once the commit is durable."""
        stmt = self._end(True)
        try:
            self._send(stmt)
        finally:
            self._ended()

    def close(self) -> None:
        """``(close …)``: ends the transaction, discarding its writes."""
        if not self.live or self._close_unsent():
            return
        stmt = self._end(False)
        try:
            self._send(stmt)
        finally:
            self._ended()
