"""ParenDB's Python client.

    import parendb
    from parendb import F

    conn = parendb.connect("127.0.0.1", 7420)
    conn.mkcoll("acc", exist_ok=True)
    tx = conn.transaction()
    a = tx.select("acc", F("_id") == 1, "wn")
    tx.update(a, {"balance": F("balance") - 5})
    tx.commit()

The blocking client is :class:`Connection` (and :class:`ConnectionPool`);
the asyncio client is in :mod:`parendb.aio`; exceptions, one class per
error code of the contract, are in :mod:`parendb.errors`.
"""
from typing import Any

from . import errors
from ._tx import Pending, Selection
from ._wire import Ok
from .client import Connection, InteractiveTransaction, Transaction
from .errors import OperationalError, OutcomeUnknownError, ParenDBError, ServerError
from .expr import FALSE, TRUE, Cond, Expr, F, all_of, any_of, raw_cond
from .pool import ConnectionPool, PoolTimeout

__version__ = "0.1.0"

__all__ = [
    "connect", "Connection", "ConnectionPool", "PoolTimeout", "Transaction", "InteractiveTransaction",
    "Selection", "Pending", "Ok", "F", "Expr", "Cond", "TRUE", "FALSE", "all_of", "any_of", "raw_cond",
    "errors", "ParenDBError", "ServerError", "OperationalError", "OutcomeUnknownError",
]


def connect(host: str = "127.0.0.1", port: int = 7420, **kwargs: Any) -> Connection:
    """``Connection(host, port, **kwargs)``: password, connect_timeout, timeout."""
    return Connection(host, port, **kwargs)
