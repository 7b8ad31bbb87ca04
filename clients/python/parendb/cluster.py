"""A client for a ParenDB cluster (lang-docs/cluster.md): many nodes, one leader.

    from parendb.cluster import ClusterClient
    cluster = ClusterClient([("127.0.0.1", 7431), ("127.0.0.1", 7432), ("127.0.0.1", 7433)])
    cluster.run_transaction(lambda tx: tx.update(tx.select("acc", F("_id") == 1, "wn"), balance=5))
    total = cluster.run_read(lambda tx: tx.readall(tx.selects("acc", TRUE, "r")))

``run_transaction`` runs on the leader: it follows ``not-leader`` answers to
the node they name (nothing was applied, so that is always safe) and rides
out an election by trying again. ``run_read`` spreads read-only
transactions over every node in turn (followers answer them, strictly
serializable). An ``unavailable`` answer is retried only when it is safe —
when it came to the ``acquire`` (nothing was read or written); on a
``commit`` the outcome is unknown and it is raised, as is a connection lost
after the commit was sent (:class:`~parendb.errors.OutcomeUnknownError`).
"""
from __future__ import annotations

import re
import select
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from . import _wire, errors
from .client import Connection, Transaction

T = TypeVar("T")
Address = Tuple[str, int]

_LEADER = re.compile(r"^(\S+):(\d+) is the leader")


class ClusterClient:
    """Connections to the nodes of one cluster, made as needed and kept.

    `nodes`: (host, port) of every node (any subset the client may use).
    `wait` bounds how long one call rides out elections and unreachable
    nodes, in seconds. Other keyword arguments go to :class:`Connection`
    (password, timeout, …). A ClusterClient may be shared by threads.
    """

    def __init__(self, nodes: Sequence[Address], *, wait: float = 10.0, **connect_kwargs: Any) -> None:
        if not nodes:
            raise ValueError("a cluster client needs at least one node")
        self.nodes: List[Address] = [(h, int(p)) for h, p in nodes]
        self.wait = wait
        self._kwargs = connect_kwargs
        self._conns: Dict[Address, Connection] = {}
        self._lock = threading.Lock()
        self._leader: Optional[Address] = None
        self._next_read = 0

    @property
    def leader(self) -> Optional[Address]:
        """The node this client last found leading (None before the first update)."""
        return self._leader

    def close(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for c in conns:
            c.close()

    def __enter__(self) -> "ClusterClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _conn(self, node: Address) -> Connection:
        with self._lock:
            c = self._conns.get(node)
        if c is not None and not c.closed and _alive(c):
            return c
        if c is not None:
            self._drop(node)
        c = Connection(node[0], node[1], **self._kwargs)
        with self._lock:
            self._conns[node] = c
        return c

    def _drop(self, node: Address) -> None:
        with self._lock:
            c = self._conns.pop(node, None)
        if c is not None:
            c.close()

    def run_transaction(self, fn: Callable[[Transaction], T], **retry: Any) -> T:
        """``Connection.run_transaction`` on the leader (`retry`: its retries,
        backoff, max_backoff), wherever the leader is now."""
        deadline = time.monotonic() + self.wait
        node = self._leader or self.nodes[0]
        delay = 0.01
        while True:
            try:
                result = self._conn(node).run_transaction(fn, **retry)
                self._leader = node
                return result
            except errors.NotLeaderError as e:
                named = _LEADER.match(e.message)
                node = (named.group(1), int(named.group(2))) if named else self._after(node)
                self._leader = node if named else None
                if named:
                    continue  # straight there: no need to wait
            except errors.OutcomeUnknownError as e:
                if not _before_commit(e):
                    raise
                self._drop(node)
                node = self._after(node)
            except errors.OperationalError:
                self._drop(node)  # could not connect, or lost before the commit was sent
                node = self._after(node)
            if time.monotonic() + delay > deadline:
                raise errors.OperationalError(f"no leader found within {self.wait} s among {self.nodes}")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def run_read(self, fn: Callable[[Transaction], T], *, stale_ms: Optional[int] = None) -> T:
        """Runs a read-only transaction (fn must select with ``r`` only) on
        the next node in turn, moving on when a node cannot answer.
        ``stale_ms``: the read may see a state up to that many milliseconds
        old, and a follower then answers without asking the leader first
        (``(acquire T (stale MS))``, lang-docs/cluster.md)."""
        if stale_ms is not None:
            _wire.acquire("t", None, stale_ms)  # a bad bound is refused here, not on every node
            fn = _with_staleness(fn, stale_ms)
        deadline = time.monotonic() + self.wait
        with self._lock:
            start = self._next_read
            self._next_read = (self._next_read + 1) % len(self.nodes)
        k = 0
        delay = 0.01
        while True:
            node = self.nodes[(start + k) % len(self.nodes)]
            k += 1
            try:
                return self._conn(node).run_transaction(fn)
            except errors.OutcomeUnknownError as e:
                if not _before_commit(e):
                    raise
                self._drop(node)
            except errors.OperationalError:
                self._drop(node)
            if time.monotonic() + delay > deadline:
                raise errors.OperationalError(f"no node could answer the read within {self.wait} s")
            if k % len(self.nodes) == 0:
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def _after(self, node: Address) -> Address:
        i = self.nodes.index(node) if node in self.nodes else -1
        return self.nodes[(i + 1) % len(self.nodes)]


def _with_staleness(fn: Callable[[Transaction], T], stale_ms: int) -> Callable[[Transaction], T]:
    def run(tx: Transaction) -> T:
        tx.stale_ms = stale_ms  # for the acquire its first read implies
        return fn(tx)
    return run


def _alive(c: Connection) -> bool:
    """Whether a kept connection's server is still there: a node that died
    since its last use has closed it, which shows as end-of-file now —
    better found before a commit is sent on it than after (when the
    outcome would be unknown)."""
    sock: Optional[socket.socket] = getattr(c, "_sock", None)
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return True
        return sock.recv(1, socket.MSG_PEEK) != b""
    except (OSError, ValueError):
        return False


def _before_commit(e: errors.OutcomeUnknownError) -> bool:
    """Whether an unavailable answer came before the commit (to the acquire:
    a read that could not be made current), so nothing happened."""
    stmt = getattr(e, "statement", None) or ""
    return isinstance(e, errors.UnavailableError) and stmt.lstrip().startswith("(acquire")
