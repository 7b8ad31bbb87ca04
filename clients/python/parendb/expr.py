"""Conditions and expressions over fields, written with Python operators.

    F("balance") >= 5                      (>= (f "balance") 5)
    (F("age") > 60) & ~F("retired").exists()
    F("address", "city").isin("Oslo", "Bergen")
    F("balance") - 5                        (- (f "balance") 5)

``F(step, …)`` is a field path (str steps name members, int steps index
arrays). Comparisons make a :class:`Cond`; ``&``, ``|`` and ``~`` combine
conditions (Python's ``and``/``or``/``not`` cannot be overloaded, so using a
condition as a bool raises TypeError). Arithmetic makes an :class:`Expr`.
Plain Python values (None, bool, int, float, str) become literals.
"""
from __future__ import annotations

from typing import Any, Union

from . import _wire


class Cond:
    """A condition, as statement text (made only by this module)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __and__(self, other: "Cond") -> "Cond":
        return all_of(self, other)

    def __or__(self, other: "Cond") -> "Cond":
        return any_of(self, other)

    def __invert__(self) -> "Cond":
        return Cond(f"(! {self.text})")

    def __bool__(self) -> bool:
        raise TypeError("a condition has no truth value: combine conditions with &, | and ~, not and/or/not")

    def __repr__(self) -> str:
        return f"Cond({self.text})"


class Expr:
    """An expression: a field path, arithmetic, or a literal."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    # comparisons
    def __eq__(self, other: Any) -> Cond:  # type: ignore[override]
        return Cond(f"(= {self.text} {expr(other)})")

    def __ne__(self, other: Any) -> Cond:  # type: ignore[override]
        return Cond(f"(!= {self.text} {expr(other)})")

    def __lt__(self, other: Any) -> Cond:
        return Cond(f"(< {self.text} {expr(other)})")

    def __le__(self, other: Any) -> Cond:
        return Cond(f"(<= {self.text} {expr(other)})")

    def __gt__(self, other: Any) -> Cond:
        return Cond(f"(> {self.text} {expr(other)})")

    def __ge__(self, other: Any) -> Cond:
        return Cond(f"(>= {self.text} {expr(other)})")

    __hash__ = None  # type: ignore[assignment]

    def isin(self, *values: Any) -> Cond:
        """``(in A V1 V2 …)``: equal to one of the values."""
        if len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset)):
            values = tuple(values[0])
        if not values:
            return FALSE
        return Cond("(in " + self.text + " " + " ".join(expr(v) for v in values) + ")")

    # arithmetic
    def __add__(self, other: Any) -> "Expr":
        return Expr(f"(+ {self.text} {expr(other)})")

    def __radd__(self, other: Any) -> "Expr":
        return Expr(f"(+ {expr(other)} {self.text})")

    def __sub__(self, other: Any) -> "Expr":
        return Expr(f"(- {self.text} {expr(other)})")

    def __rsub__(self, other: Any) -> "Expr":
        return Expr(f"(- {expr(other)} {self.text})")

    def __mul__(self, other: Any) -> "Expr":
        return Expr(f"(* {self.text} {expr(other)})")

    def __rmul__(self, other: Any) -> "Expr":
        return Expr(f"(* {expr(other)} {self.text})")

    def __truediv__(self, other: Any) -> "Expr":
        return Expr(f"(/ {self.text} {expr(other)})")

    def __rtruediv__(self, other: Any) -> "Expr":
        return Expr(f"(/ {expr(other)} {self.text})")

    def __mod__(self, other: Any) -> "Expr":
        return Expr(f"(% {self.text} {expr(other)})")

    def __rmod__(self, other: Any) -> "Expr":
        return Expr(f"(% {expr(other)} {self.text})")

    def __neg__(self) -> "Expr":
        return Expr(f"(- {self.text})")

    def __repr__(self) -> str:
        return f"Expr({self.text})"


class F(Expr):
    """A field path: ``F("address", "city")``, ``F("tags", 0)``."""

    __slots__ = ("steps",)

    # Usable as a key of an update's dict (== builds a condition, so a
    # path is hashed by identity, like any object).
    __hash__ = object.__hash__

    def __init__(self, *steps: Union[str, int]) -> None:
        if len(steps) == 1 and isinstance(steps[0], (list, tuple)):
            steps = tuple(steps[0])
        super().__init__(_wire.path(steps))
        self.steps = steps

    def exists(self) -> Cond:
        """``(exists (f …))``: the path resolves (possibly to null)."""
        return Cond(f"(exists {self.text})")


def expr(value: Any) -> str:
    """The text of an Expr, or of a plain value as a literal."""
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, Cond):
        raise TypeError("a condition is not an expression (conditions go in select, check and &/|/~)")
    return _wire.literal(value)


def cond(value: Any) -> str:
    """The text of a condition; True and False are the conditions true/false."""
    if isinstance(value, Cond):
        return value.text
    if value is True:
        return "true"
    if value is False:
        return "false"
    raise TypeError(f"expected a condition (such as F('x') == 1), got {value!r}")


def all_of(*conds: Cond) -> Cond:
    """``(& C1 C2 …)``"""
    return Cond("(& " + " ".join(cond(c) for c in conds) + ")") if conds else TRUE


def any_of(*conds: Cond) -> Cond:
    """``(| C1 C2 …)``"""
    return Cond("(| " + " ".join(cond(c) for c in conds) + ")") if conds else FALSE


def raw_cond(text: str) -> Cond:
    """A condition from statement text, as written. Named raw because it is:
    never pass user data through it."""
    return Cond(text)


TRUE = Cond("true")
FALSE = Cond("false")
