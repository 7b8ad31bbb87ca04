"""The wire format, in one place: Python values to statement text, and
response lines to Python values.

Everything the client sends is built here, from values it has checked:
strings are written as JSON strings (so a quote, a parenthesis, a ``;`` or a
newline inside one is data, never syntax), names are checked against the
contract's name rule, and field paths are always written in their quoted
form ``(f "a" "b" 0)``. Nothing here takes statement text from the caller.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, Iterable, List, Set, Tuple, Union

from . import errors

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")

#: Words that cannot name a transaction, selection or collection: the
#: contract's reserved words and every statement name (v1 and v1.1).
RESERVED = frozenset(
    """r wn wb coll f true false null open select selects acquire create
    readall read update updateall delete check commit close mkcoll rmcoll
    colls ping stats checkpoint auth mkindex rmindex indexes explain
    cluster""".split()
)

LOCK_MODES = ("r", "wn", "wb")

Scalar = Union[None, bool, int, float, str]


_GOOD_NAMES: Set[str] = set()  # names already checked (collections recur in every statement)


def check_name(name: str, what: str = "name") -> str:
    """Returns name if it is a valid name, else raises ValueError."""
    if type(name) is str and name in _GOOD_NAMES:
        return name
    if not isinstance(name, str):
        raise TypeError(f"a {what} must be a str, not {type(name).__name__}")
    if not _NAME.match(name) or name in RESERVED:
        raise ValueError(
            f"{what} {name!r} is not a valid name: names match "
            "[A-Za-z_][A-Za-z0-9_-]* and are not reserved words"
        )
    if len(_GOOD_NAMES) >= 4096:
        _GOOD_NAMES.clear()
    _GOOD_NAMES.add(name)
    return name


def check_int(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise OverflowError(
            f"integer {value} does not fit in a signed 64-bit integer; "
            "ParenDB would store it as a double (pass a float to mean that)"
        )
    return value


def _utf8_only(text: str) -> str:
    """Refuses a lone surrogate (a str can hold one; UTF-8 cannot carry it)
    where the value is given, not later when the statement is sent."""
    if not text.isascii():
        encode(text)
    return text


def string(value: str) -> str:
    """A JSON string literal."""
    return _utf8_only(json.dumps(value, ensure_ascii=False))


def literal(value: Scalar) -> str:
    """A literal of the language: null, true, false, a number or a string."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return string(value)
    if isinstance(value, int):
        return str(check_int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a number ParenDB can store (JSON has no NaN or infinity)")
        return repr(value)  # always with a fraction or an exponent: reads back as a double
    raise TypeError(
        f"a {type(value).__name__} is not a literal: expressions take None, bool, "
        "int, float or str (lists and dicts go in documents)"
    )


_ONE_STEP: Dict[str, str] = {}  # the text of recently used one-member paths: F("_id") is written often


def path(steps: Iterable[Union[str, int]]) -> str:
    """A field path in its quoted form: ``(f "a" "b" 0)``."""
    # Only an exact str step is cached: True == 1 and 1.0 == 1 as keys, but
    # they are not valid steps.
    if type(steps) is tuple and len(steps) == 1 and type(steps[0]) is str:
        text = _ONE_STEP.get(steps[0])
        if text is None:
            text = _path(steps)
            if len(steps[0]) <= 256:
                if len(_ONE_STEP) >= 4096:
                    _ONE_STEP.clear()
                _ONE_STEP[steps[0]] = text
        return text
    return _path(steps)


def _path(steps: Iterable[Union[str, int]]) -> str:
    parts = ["(f"]
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, (str, int)):
            raise TypeError(f"a path step is a str (member) or an int (array index), not {step!r}")
        if isinstance(step, int):
            if step < 0:
                raise ValueError(f"array index {step} in a path must not be negative")
            parts.append(str(check_int(step)))
        else:
            parts.append(string(step))
    if len(parts) == 1:
        raise ValueError("a field path needs at least one step")
    return " ".join(parts) + ")"


def _check_document_value(value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"document keys must be str, not {type(k).__name__} ({k!r})")
            _check_document_value(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_document_value(v)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        pass
    elif isinstance(value, int):
        check_int(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be stored (JSON has no NaN or infinity)")
    else:
        raise TypeError(f"a {type(value).__name__} cannot be stored in a document")


def document(doc: Dict[str, Any]) -> str:
    """A document as one line of JSON (an object; checked first)."""
    if not isinstance(doc, dict):
        raise TypeError(f"a document is a dict, not {type(doc).__name__}")
    try:
        _check_document_value(doc)
        return _utf8_only(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
    except RecursionError:
        raise ValueError("document nested too deeply for Python to write (the server's limit is 256 levels by default)") from None


def encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"a string holds a lone surrogate ({text[e.start:e.end]!r}), which UTF-8 "
            "cannot carry; nothing was sent"
        ) from None


# ---------------------------------------------------------------- responses


class Ok(Tuple[str, ...]):
    """An ``(ok WORD …)`` response, as its words: ``(ok updated 3)`` is
    ``Ok(("updated", "3"))``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Ok(" + " ".join(self) + ")"


def parse_line(line: str) -> Any:
    """One response line to a value: an Ok, a ServerError (returned, not
    raised, so a batch can read all its answers first), or the JSON value."""
    if line.startswith("(ok"):
        if not line.endswith(")"):
            raise errors.ProtocolError(f"malformed response line: {line[:200]!r}")
        return Ok(line[4:-1].split(" ") if len(line) > 4 else ())
    if line.startswith("(error "):
        space = line.find(" ", 7)
        if space < 0 or not line.endswith(")"):
            raise errors.ProtocolError(f"malformed error line: {line[:200]!r}")
        code = line[7:space]
        try:
            message = json.loads(line[space + 1 : -1])
        except ValueError:
            message = line[space + 1 : -1]
        return errors.from_response(code, message)
    try:
        return json.loads(line)
    except ValueError:
        raise errors.ProtocolError(f"response is neither (ok …), (error …) nor JSON: {line[:200]!r}") from None


def ok_count(reply: Ok) -> int:
    """N of ``(ok updated N)`` or ``(ok deleted N)``."""
    return int(reply[1])


class LineReader:
    """Splits a byte stream into response lines."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> List[str]:
        self._buf += data
        end = data.rfind(b"\n")
        if end < 0:
            return []
        end += len(self._buf) - len(data)
        # A character never straddles a newline: everything before the last
        # one decodes whole, in one call.
        text = self._buf[:end].decode("utf-8")
        del self._buf[: end + 1]
        return text.split("\n")


# --------------------------------------------------------------- statements
# Each takes names already checked (check_name) and condition/expression
# text already built (expr.py), and returns one statement.


def select(sel: str, tx: str, lock: str, coll: str, cond: str, many: bool, order: str = "", limit: int = -1) -> str:
    if lock not in LOCK_MODES:
        raise ValueError(f"lock must be one of r, wn, wb, not {lock!r}")
    s = f"({'selects' if many else 'select'} {sel} {tx} {lock} (coll {check_name(coll, 'collection')}) {cond}"
    if order:
        s += f" {order}"
    if limit >= 0:
        s += f" (limit {limit})"
    return s + ")"


def order(path_text: str, descending: bool) -> str:
    return f"(order {path_text} {'desc' if descending else 'asc'})"


def _millis(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is a non-negative int of milliseconds, not {value!r}")
    return value


def acquire(tx: str, timeout_ms: "int | None", stale_ms: "int | None" = None) -> str:
    """(acquire T [MILLIS] [(stale MS)]): stale_ms lets a read-only
    transaction on a cluster node see the state of up to that long ago."""
    text = f"(acquire {tx}"
    if timeout_ms is not None:
        text += f" {_millis(timeout_ms, 'an acquire timeout')}"
    if stale_ms is not None:
        text += f" (stale {_millis(stale_ms, 'a staleness bound')})"
    return text + ")"


def create(sel: str, tx: str, coll: str, doc: Dict[str, Any]) -> str:
    return f"(create {sel} {tx} (coll {check_name(coll, 'collection')})) {document(doc)}"


def read(sel: str, paths: List[str]) -> str:
    return f"(read {sel} {' '.join(paths)})" if paths else f"(read {sel})"


def update(sel: str, pairs: List[Tuple[str, str]]) -> str:
    if not pairs:
        raise ValueError("update needs at least one field to set")
    return f"(update {sel} " + " ".join(f"{p} {e}" for p, e in pairs) + ")"


def updateall(sel: str, doc: Dict[str, Any]) -> str:
    return f"(updateall {sel}) {document(doc)}"


def index(word: str, coll: str, path_text: str, unique: bool = False) -> str:
    return f"({word} {check_name(coll, 'collection')} {path_text}{' unique' if unique else ''})"
