"""What the blocking and the asyncio clients share: how a transaction's
statements are built, and how a batch's answers are settled. No I/O here."""
from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _wire, errors
from .expr import Expr, F, cond, expr

# A statement to send: its text, what its answer must be ("ok", "count",
# "json"), and where the answer goes.
Stmt = Tuple[str, str, Optional["Pending"]]

RETRYABLE = (errors.DeadlockError, errors.LockTimeoutError, errors.ConflictError)


class Selection:
    """A selection of a transaction; pass it to read, update, check, …"""

    __slots__ = ("name", "many", "_tx")

    def __init__(self, name: str, many: bool, tx: "TxBuilder") -> None:
        self.name = name
        self.many = many
        self._tx = tx

    def __repr__(self) -> str:
        return f"Selection({self.name}{', many' if self.many else ''})"


class Pending:
    """The answer to one statement of a batched transaction, once it ran."""

    __slots__ = ("_value", "_done")

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None

    def _set(self, value: Any) -> None:
        self._value = value
        self._done = True

    @property
    def value(self) -> Any:
        if not self._done:
            raise errors.InterfaceError("this answer is not there: the transaction has not run (or failed before it)")
        return self._value

    def __repr__(self) -> str:
        return f"Pending({self._value!r})" if self._done else "Pending(<not run>)"


FieldKey = Union[str, Tuple[Union[str, int], ...], F]


def changes_text(changes: Optional[Dict[FieldKey, Any]], kwargs: Dict[str, Any]) -> List[Tuple[str, str]]:
    """The (path, expression) pairs of an update: keys are F paths, tuples
    of steps or member names; values are expressions or plain values."""
    pairs = []
    items = changes.items() if changes else ()
    if kwargs:
        items = list(items) + list(kwargs.items())
    for key, value in items:
        if isinstance(key, F):
            p = key.text
        elif isinstance(key, tuple):
            p = _wire.path(key)
        elif isinstance(key, str):
            p = _wire.path((key,))
        else:
            raise TypeError(f"an update key is a field name, a tuple of steps or an F path, not {key!r}")
        pairs.append((p, expr(value)))
    return pairs


class TxBuilder:
    """A transaction's statements, built without I/O."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._selections = 0
        self.acquired = False
        self.live = True

    def _own(self, sel: Selection) -> str:
        if not isinstance(sel, Selection) or sel._tx is not self:
            raise errors.InterfaceError(f"{sel!r} is not a selection of this transaction")
        return sel.name

    def open_stmt(self) -> Stmt:
        return (f"(open {self.name})", "ok", None)

    def select_stmt(
        self,
        coll: str,
        where: Any = True,
        lock: str = "r",
        many: bool = False,
        order: Optional[Expr] = None,
        descending: bool = False,
        limit: Optional[int] = None,
    ) -> Tuple[Stmt, Selection]:
        if self.acquired:
            raise errors.InterfaceError("select comes before acquire")
        sel = Selection(f"{self.name}s{self._selections}", many, self)
        self._selections += 1
        order_text = ""
        if order is not None:
            if not isinstance(order, F):
                raise TypeError("order takes a field path, F(...)")
            order_text = _wire.order(order.text, descending)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit is a non-negative int, not {limit!r}")
        text = _wire.select(sel.name, self.name, lock, coll, cond(where), many, order_text,
                            -1 if limit is None else limit)
        return (text, "ok", None), sel

    def acquire_stmt(self, timeout_ms: Optional[int] = None, stale_ms: Optional[int] = None) -> Stmt:
        if self.acquired:
            raise errors.InterfaceError("the transaction has acquired its locks already")
        stmt = (_wire.acquire(self.name, timeout_ms, stale_ms), "ok", None)  # a bad value changes nothing
        self.acquired = True
        return stmt

    def create_stmt(self, coll: str, doc: Dict[str, Any]) -> Tuple[Stmt, Selection]:
        sel = Selection(f"{self.name}s{self._selections}", False, self)
        self._selections += 1
        return (_wire.create(sel.name, self.name, coll, doc), "ok", None), sel

    def readall_stmt(self, sel: Selection, pending: Optional[Pending]) -> Stmt:
        return (f"(readall {self._own(sel)})", "json", pending)

    def read_stmt(self, sel: Selection, fields: Sequence[Any], pending: Optional[Pending]) -> Stmt:
        paths = [f.text if isinstance(f, F) else _wire.path(f if isinstance(f, tuple) else (f,)) for f in fields]
        return (_wire.read(self._own(sel), paths), "json", pending)

    def update_stmt(self, sel: Selection, changes: Any, kwargs: Dict[str, Any], pending: Optional[Pending]) -> Stmt:
        return (_wire.update(self._own(sel), changes_text(changes, kwargs)), "count", pending)

    def replace_stmt(self, sel: Selection, doc: Dict[str, Any], pending: Optional[Pending]) -> Stmt:
        return (_wire.updateall(self._own(sel), doc), "count", pending)

    def delete_stmt(self, sel: Selection, pending: Optional[Pending]) -> Stmt:
        return (f"(delete {self._own(sel)})", "count", pending)

    def check_stmt(self, sel: Selection, condition: Any) -> Stmt:
        return (f"(check {self._own(sel)} {cond(condition)})", "ok", None)

    def explain_stmt(self, sel: Selection, pending: Optional[Pending]) -> Stmt:
        return (f"(explain {self._own(sel)})", "json", pending)

    def _add_selection(self, stmt: Stmt) -> None:
        raise NotImplementedError

    def select(self, coll: str, where: Any = True, lock: str = "r", *, order: Optional[F] = None,
               descending: bool = False, limit: Optional[int] = None) -> Selection:
        """``(select …)``: at most one document, the first matching (by _id,
        or by `order`). `where` is a condition such as ``F("_id") == 1``."""
        stmt, sel = self.select_stmt(coll, where, lock, False, order, descending, limit)
        self._add_selection(stmt)
        return sel

    def selects(self, coll: str, where: Any = True, lock: str = "r", *, order: Optional[F] = None,
                descending: bool = False, limit: Optional[int] = None) -> Selection:
        """``(selects …)``: every matching document (or the first `limit`)."""
        stmt, sel = self.select_stmt(coll, where, lock, True, order, descending, limit)
        self._add_selection(stmt)
        return sel

    def end_stmt(self, commit: bool) -> Stmt:
        self.live = False
        return (f"({'commit' if commit else 'close'} {self.name})", "commit" if commit else "ok", None)


class InteractiveBase(TxBuilder):
    """What the blocking and asyncio interactive transactions share: open
    and the selections wait in a queue and travel with acquire."""

    def __init__(self, conn: Any) -> None:
        super().__init__(conn._next_name())
        self._conn = conn
        self._queued: List[Stmt] = [self.open_stmt()]
        conn._count_live(1)

    def _ended(self) -> None:
        if self.live:
            self.live = False
            self._conn._count_live(-1)

    def _acquired(self) -> None:
        if not self.acquired:
            raise errors.InterfaceError("call acquire() first: the locks are taken there")

    def _end(self, commit: bool) -> Stmt:
        """``(commit …)`` or ``(close …)``, to send; the transaction ends
        whatever the answer (the caller calls _ended)."""
        self._acquired()
        return (f"({'commit' if commit else 'close'} {self.name})", "commit" if commit else "ok", None)

    def _close_unsent(self) -> bool:
        """Ends a transaction that never acquired: its open and selections
        were never sent, so there is nothing to tell the server."""
        if self.acquired:
            return False
        self._queued = []
        self._ended()
        return True

    def _add_selection(self, stmt: Stmt) -> None:
        self._queued.append(stmt)  # sent with acquire()


def batch_text(stmts: Sequence[Stmt]) -> bytes:
    """One write for a batch: a statement per line, so that should one ever
    be unreadable, the server's discard-to-end-of-line takes nothing else."""
    return _wire.encode("\n".join(s[0] for s in stmts) + "\n")


def settle(stmts: Sequence[Stmt], lines: Sequence[str]) -> List[Any]:
    """Gives each statement its answer (from its response line); raises the
    first error (the ones after it are its consequences: the error closed
    the transaction)."""
    first: Optional[errors.ServerError] = None
    values: List[Any] = []
    for (text, kind, pending), line in zip(stmts, lines):
        if kind != "json" and line.startswith("(ok ") and line.endswith(")"):
            # The common answer, read without building an Ok.
            value: Any = int(line[line.rindex(" ") + 1 : -1]) if kind == "count" else None
        else:
            reply = _wire.parse_line(line)
            if isinstance(reply, errors.ServerError):
                if first is None:
                    reply.statement = text if len(text) <= 200 else text[:200] + "…"
                    first = reply
                values.append(reply)
                continue
            if kind != "json" or isinstance(reply, _wire.Ok):
                raise errors.ProtocolError(f"unexpected answer to {text[:80]!r}: {line[:200]!r}")
            value = reply
        if pending is not None:
            pending._set(value)
        values.append(value)
    if first is not None:
        raise first
    return values


def has_error(lines: Sequence[str]) -> bool:
    return any(line.startswith("(error ") for line in lines)


def has_commit(stmts: Sequence[Stmt]) -> bool:
    return any(kind == "commit" for _, kind, _ in stmts)


class Backoff:
    """Exponential backoff with full jitter, for retried transactions."""

    def __init__(self, retries: int, base: float, cap: float) -> None:
        self.retries = retries
        self.base = base
        self.cap = cap

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * (2**attempt)))
