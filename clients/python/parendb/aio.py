"""The asyncio client. Same API as the blocking one, with ``await``; one
connection carries many transactions at once (pipelining): each sends its
statements in one write and their answers come back in order.

    import asyncio, parendb.aio
    from parendb import F

    async def main():
        conn = await parendb.aio.connect("127.0.0.1", 7420)
        tx = conn.transaction()
        a = tx.select("acc", F("_id") == 1, "wn")
        tx.update(a, {"balance": F("balance") + 5})
        await tx.commit()
        await conn.close()

Transactions in flight on one connection are run by the server one after
another, in the order sent; a lock wait holds up the ones behind it, and a
transaction that would wait for another of the same connection gets
DeadlockError at once. Use an AsyncConnectionPool for work that contends.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
from typing import Any, AsyncIterator, Awaitable, Callable, Deque, Dict, List, Optional, Sequence, TypeVar, cast

from . import _wire, errors
from ._tx import Backoff, InteractiveBase, RETRYABLE, Selection, Stmt, batch_text, has_commit, settle
from .client import DEFAULT_PORT, _as_path, _BatchBase, _Lost, settle_lost
from .expr import F

T = TypeVar("T")


class _Waiter:
    __slots__ = ("n", "lines", "future", "commit")

    def __init__(self, n: int, future: "asyncio.Future[List[str]]", commit: bool) -> None:
        self.n = n
        self.lines: List[str] = []
        self.future = future
        self.commit = commit


async def connect(host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, password: Optional[str] = None,
                  connect_timeout: Optional[float] = 10.0, timeout: Optional[float] = None,
                  unix_socket: Optional[str] = None) -> "AsyncConnection":
    """Connects (and authenticates when given a password); ``unix_socket``
    instead of host and port for a server's ``--socket``."""
    conn = AsyncConnection(host, port, timeout, unix_socket)
    loop = asyncio.get_running_loop()
    try:
        if unix_socket is not None:
            made = loop.create_unix_connection(lambda: _Protocol(conn), unix_socket)
        else:
            made = loop.create_connection(lambda: _Protocol(conn), host, port)
        await asyncio.wait_for(made, connect_timeout)
    except (OSError, asyncio.TimeoutError) as e:
        where = f"unix:{unix_socket}" if unix_socket is not None else f"{host}:{port}"
        raise errors.OperationalError(f"cannot connect to ParenDB at {where}: {e!r}") from e
    if password is not None:
        try:
            await conn._round_trip([(f"(auth {_wire.string(password)})", "ok", None)])
        except BaseException:
            await conn.close()
            raise
    return conn


class _Protocol(asyncio.Protocol):
    """Hands the connection's bytes to it as they arrive: answers are
    dispatched from data_received, with no task or await per line."""

    def __init__(self, conn: "AsyncConnection") -> None:
        self.conn = conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.conn._made(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.conn._on_data(data)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.conn._on_lost(exc)


class AsyncConnection:
    """One connection; make it with :func:`connect`."""

    def __init__(self, host: str, port: int, timeout: Optional[float], unix_socket: Optional[str] = None) -> None:
        self.host = host
        self.port = port
        self.unix_socket = unix_socket
        self._where = f"unix:{unix_socket}" if unix_socket is not None else f"{host}:{port}"
        self.timeout = timeout
        self._transport: Optional[asyncio.Transport] = None
        self._lost = asyncio.get_running_loop().create_future()
        self._lines = _wire.LineReader()
        self._waiting: Deque[_Waiter] = collections.deque()
        self._closed_error: Exception = errors.InterfaceError("the connection is closed")
        self._tx_count = 0
        self.live_transactions = 0

    def _made(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def closed(self) -> bool:
        return self._transport is None

    async def close(self) -> None:
        transport = self._transport
        self._fail(errors.InterfaceError("the connection was closed"), errors.InterfaceError("the connection was closed"))
        if transport is not None:
            await self._lost

    async def __aenter__(self) -> "AsyncConnection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _fail(self, error: Exception, commit_error: Exception) -> None:
        if self._transport is not None:
            self._closed_error = error  # what later calls say: closed, or lost
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        while self._waiting:
            w = self._waiting.popleft()
            if not w.future.done():
                w.future.set_exception(commit_error if w.commit else error)

    def _lost_connection(self, why: str) -> None:
        what = f"connection to {self._where} lost ({why})"
        self._fail(errors.OperationalError(what),
                   errors.OutcomeUnknownError(what + " after a commit was sent: it may or may not have committed"))

    def _on_lost(self, exc: Optional[Exception]) -> None:
        self._lost_connection(repr(exc) if exc else "the server closed the connection")
        if not self._lost.done():
            self._lost.set_result(None)

    def _on_data(self, data: bytes) -> None:
        try:
            lines = self._lines.feed(data)
        except UnicodeDecodeError as e:
            return self._lost_connection(repr(e))
        waiting = self._waiting
        for line in lines:
            if not waiting:
                return self._lost_connection(f"an answer nobody asked for: {line[:200]!r}")
            w = waiting[0]
            w.lines.append(line)
            if len(w.lines) == w.n:
                waiting.popleft()
                if not w.future.done():
                    w.future.set_result(w.lines)

    async def _exchange(self, data: bytes, n: int, commit: bool) -> List[Any]:
        if self._transport is None:
            raise self._closed_error
        w = _Waiter(n, asyncio.get_running_loop().create_future(), commit)
        self._waiting.append(w)
        self._transport.write(data)  # with the append, atomic: answers come in this order
        try:
            if self.timeout is None:
                lines = await w.future
            else:
                try:
                    lines = await asyncio.wait_for(asyncio.shield(w.future), self.timeout)
                except asyncio.TimeoutError:
                    # The stream is out of step with the answers now: end it.
                    what = f"no answer from {self._where} within {self.timeout} s"
                    self._fail(errors.OperationalError(what),
                               errors.OutcomeUnknownError(what + " to a commit: it may or may not have committed"))
                    lines = await w.future  # raises what _fail set
        except errors.OperationalError as e:
            raise _Lost(w.lines, e) from None
        return lines

    async def _round_trip(self, stmts: Sequence[Stmt]) -> List[Any]:
        data = batch_text(stmts)
        try:
            replies = await self._exchange(data, len(stmts), has_commit(stmts))
        except _Lost as lost:
            settle_lost(stmts, lost)
        return settle(stmts, replies)

    async def execute_raw(self, text: str, responses: int = 1) -> List[Any]:
        """As :meth:`parendb.Connection.execute_raw`: never with user data."""
        try:
            lines = await self._exchange(_wire.encode(text + "\n"), responses, "(commit" in text)
            return [_wire.parse_line(ln) for ln in lines]
        except _Lost as lost:
            raise lost.error from None

    def _count_live(self, delta: int) -> None:
        self.live_transactions += delta

    def _next_name(self) -> str:
        self._tx_count += 1
        return f"_t{self._tx_count}"

    async def ping(self) -> None:
        await self._round_trip([("(ping)", "ok", None)])

    async def colls(self) -> List[str]:
        return cast(List[str], (await self._round_trip([("(colls)", "json", None)]))[0])

    async def mkcoll(self, name: str, exist_ok: bool = False) -> bool:
        try:
            await self._round_trip([(f"(mkcoll {_wire.check_name(name, 'collection')})", "ok", None)])
            return True
        except errors.CollectionExistsError:
            if exist_ok:
                return False
            raise

    async def rmcoll(self, name: str, missing_ok: bool = False) -> bool:
        try:
            await self._round_trip([(f"(rmcoll {_wire.check_name(name, 'collection')})", "ok", None)])
            return True
        except errors.UnknownCollectionError:
            if missing_ok:
                return False
            raise

    async def stats(self) -> Dict[str, Any]:
        return cast(Dict[str, Any], (await self._round_trip([("(stats)", "json", None)]))[0])

    async def checkpoint(self) -> None:
        await self._round_trip([("(checkpoint)", "ok", None)])

    async def mkindex(self, coll: str, field: F, unique: bool = False) -> None:
        await self._round_trip([(_wire.index("mkindex", coll, _as_path(field).text, unique), "ok", None)])

    async def rmindex(self, coll: str, field: F) -> None:
        await self._round_trip([(_wire.index("rmindex", coll, _as_path(field).text), "ok", None)])

    async def indexes(self, coll: str) -> List[Dict[str, Any]]:
        return cast(List[Dict[str, Any]],
                    (await self._round_trip([(f"(indexes {_wire.check_name(coll, 'collection')})", "json", None)]))[0])

    def transaction(self) -> "AsyncTransaction":
        return AsyncTransaction(self)

    def begin(self) -> "AsyncInteractiveTransaction":
        return AsyncInteractiveTransaction(self)

    async def run_transaction(self, fn: Callable[["AsyncTransaction"], Awaitable[T]], *, retries: int = 10,
                              backoff: float = 0.002, max_backoff: float = 0.2) -> T:
        """As :meth:`parendb.Connection.run_transaction`, with an async fn."""
        async def attempt() -> T:
            tx = self.transaction()
            result = await fn(tx)
            if tx.live:
                await tx.commit()
            return result

        return await _retry(attempt, Backoff(retries, backoff, max_backoff))


async def _retry(attempt: Callable[[], Awaitable[T]], policy: Backoff) -> T:
    for n in range(policy.retries + 1):
        try:
            return await attempt()
        except RETRYABLE:
            if n == policy.retries:
                raise
        await asyncio.sleep(policy.delay(n))
    raise AssertionError("unreachable")


class AsyncTransaction(_BatchBase):
    """As :class:`parendb.Transaction`: built without I/O, sent whole by
    ``await tx.commit()`` or ``await tx.close()``."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn._next_name())
        self._conn = conn

    async def commit(self) -> None:
        await self._conn._round_trip(self._finish(True))

    async def close(self) -> None:
        await self._conn._round_trip(self._finish(False))


class AsyncInteractiveTransaction(InteractiveBase):
    """As :class:`parendb.InteractiveTransaction`, with ``async with`` and
    ``await`` on every call that answers."""

    async def __aenter__(self) -> "AsyncInteractiveTransaction":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.live and not self._conn.closed:
            try:
                await self.close()
            except errors.ParenDBError:
                if exc_type is None:
                    raise

    async def _send(self, stmt: Stmt) -> Any:
        if not self.live:
            raise errors.InterfaceError(f"transaction {self.name} has ended")
        stmts, self._queued = self._queued + [stmt], []
        try:
            return (await self._conn._round_trip(stmts))[-1]
        except (errors.ServerError, errors.OperationalError):
            self._ended()
            raise

    async def acquire(self, timeout_ms: Optional[int] = None, *, stale_ms: Optional[int] = None) -> None:
        await self._send(self.acquire_stmt(timeout_ms, stale_ms))

    async def create(self, coll: str, doc: Dict[str, Any]) -> Selection:
        self._acquired()
        stmt, sel = self.create_stmt(coll, doc)
        await self._send(stmt)
        return sel

    async def readall(self, sel: Selection) -> Any:
        self._acquired()
        return await self._send(self.readall_stmt(sel, None))

    async def read(self, sel: Selection, *fields: Any) -> Any:
        self._acquired()
        return await self._send(self.read_stmt(sel, fields, None))

    async def update(self, sel: Selection, changes: Optional[Dict[Any, Any]] = None, **fields: Any) -> int:
        self._acquired()
        return cast(int, await self._send(self.update_stmt(sel, changes, fields, None)))

    async def replace(self, sel: Selection, doc: Dict[str, Any]) -> int:
        self._acquired()
        return cast(int, await self._send(self.replace_stmt(sel, doc, None)))

    async def delete(self, sel: Selection) -> int:
        self._acquired()
        return cast(int, await self._send(self.delete_stmt(sel, None)))

    async def check(self, sel: Selection, condition: Any) -> None:
        self._acquired()
        await self._send(self.check_stmt(sel, condition))

    async def commit(self) -> None:
        stmt = self._end(True)
        try:
            await self._send(stmt)
        finally:
            self._ended()

    async def close(self) -> None:
        if not self.live or self._close_unsent():
            return
        stmt = self._end(False)
        try:
            await self._send(stmt)
        finally:
            self._ended()


class AsyncConnectionPool:
    """Up to `max_size` AsyncConnections shared by tasks; as
    :class:`parendb.ConnectionPool`, with ``async with pool.connection()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, max_size: int = 10,
                 wait_timeout: Optional[float] = 30.0, **connect_kwargs: Any) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._connect: Callable[[], Awaitable[AsyncConnection]] = lambda: connect(host, port, **connect_kwargs)
        self.max_size = max_size
        self.wait_timeout = wait_timeout
        self._idle: List[AsyncConnection] = []
        self._free = asyncio.Semaphore(max_size)
        self._closed = False

    async def _get(self) -> AsyncConnection:
        if self._closed:
            raise errors.InterfaceError("the pool is closed")
        if self._free.locked():  # wait_for costs a task: only when there is a wait
            try:
                await asyncio.wait_for(self._free.acquire(), self.wait_timeout)
            except asyncio.TimeoutError:
                from .pool import PoolTimeout

                raise PoolTimeout(f"no connection free within {self.wait_timeout} s (max_size {self.max_size})") from None
        else:
            await self._free.acquire()
        try:
            return self._idle.pop() if self._idle else await self._connect()
        except BaseException:
            self._free.release()
            raise

    async def _put(self, conn: AsyncConnection) -> None:
        try:
            if conn.closed or conn.live_transactions or self._closed:
                await conn.close()
            else:
                self._idle.append(conn)
        finally:
            self._free.release()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """Lends a connection for the ``async with`` block."""
        conn = await self._get()
        try:
            yield conn
        finally:
            await self._put(conn)

    async def run_transaction(self, fn: Callable[[AsyncTransaction], Awaitable[T]], *, retries: int = 10,
                              backoff: float = 0.002, max_backoff: float = 0.2) -> T:
        """AsyncConnection.run_transaction on a lent connection (a fresh
        lending per attempt)."""
        async def attempt() -> T:
            conn = await self._get()
            try:
                tx = conn.transaction()
                result = await fn(tx)
                if tx.live:
                    await tx.commit()
                return result
            finally:
                await self._put(conn)

        return await _retry(attempt, Backoff(retries, backoff, max_backoff))

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for c in idle:
            await c.close()

    async def __aenter__(self) -> "AsyncConnectionPool":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
