"""A thread-safe pool of blocking connections."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Iterator, List, Optional, TypeVar

from . import errors
from ._tx import Backoff
from .client import Connection, Transaction, _retry, _run_once

T = TypeVar("T")


class ConnectionPool:
    """Up to `max_size` connections shared by threads::

        pool = ConnectionPool("127.0.0.1", 7420, max_size=16)
        with pool.connection() as conn:
            conn.ping()
        pool.run_transaction(lambda tx: ...)

    A connection comes back to the pool when its ``with`` block ends —
    unless it broke or still has a live interactive transaction, in which
    case it is closed (the server then closes that transaction) and a new
    one is made when needed. `wait_timeout` bounds the wait for a free
    connection (PoolTimeout, an OperationalError). Other keyword arguments
    go to :class:`Connection`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 7420, *, max_size: int = 10,
                 wait_timeout: Optional[float] = 30.0, **connect_kwargs: Any) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._connect: Callable[[], Connection] = lambda: Connection(host, port, **connect_kwargs)
        self.max_size = max_size
        self.wait_timeout = wait_timeout
        self._idle: List[Connection] = []
        self._size = 0  # idle + lent + being made
        self._cond = threading.Condition()
        self._closed = False

    def _get(self) -> Connection:
        deadline = None if self.wait_timeout is None else time.monotonic() + self.wait_timeout
        with self._cond:
            while True:
                if self._closed:
                    raise errors.InterfaceError("the pool is closed")
                if self._idle:
                    return self._idle.pop()
                if self._size < self.max_size:
                    self._size += 1
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise PoolTimeout(f"no connection free within {self.wait_timeout} s (max_size {self.max_size})")
                self._cond.wait(left)
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._size -= 1
                self._cond.notify()
            raise

    def _put(self, conn: Connection) -> None:
        keep = not conn.closed and conn.live_transactions == 0
        with self._cond:
            if keep and not self._closed:
                self._idle.append(conn)
            else:
                self._size -= 1
            self._cond.notify()
        if not keep or self._closed:
            conn.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """Lends a connection for the ``with`` block."""
        conn = self._get()
        try:
            yield conn
        finally:
            self._put(conn)

    def run_transaction(self, fn: Callable[[Transaction], T], *, retries: int = 10, backoff: float = 0.002,
                        max_backoff: float = 0.2) -> T:
        """Connection.run_transaction on a lent connection (a fresh one per
        attempt, so a broken connection is not reused)."""
        def attempt() -> T:
            with self.connection() as conn:
                return _run_once(conn, fn)

        return _retry(attempt, Backoff(retries, backoff, max_backoff))

    def close(self) -> None:
        """Closes the idle connections now and the lent ones when they return."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
            self._cond.notify_all()
        for c in idle:
            c.close()

    def __enter__(self) -> "ConnectionPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class PoolTimeout(errors.OperationalError):
    """No connection of the pool became free in time."""
