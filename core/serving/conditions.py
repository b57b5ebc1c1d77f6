"""Routing conditions: what a parsed condition means, compiled once into closures.

:mod:`core.serving.condition_syntax` holds the grammar and the parser; this module turns the
tree into plain closures over a request record (read only by ``Mapping.get``, never
``getattr``), fast enough to route hundreds of thousands of requests per second per core.

Semantics (three-valued, as SQL): a test is TRUE, FALSE or UNKNOWN. It is UNKNOWN when a field
it reads is missing from the request, or when the two sides do not compare: a number (int or
float or another ``numbers.Real``, never a boolean) compares only with a number, a string only
with a string (by code point), booleans only with ``==``/``!=``; NaN, a list or an object
compares with nothing. ``null`` is the exception: ``x == null`` is TRUE exactly when the field
is present and holds ``null``, ``x != null`` when it is present and holds anything else (so
``x != true`` is TRUE for a null ``x``). A bare field is TRUE or FALSE when it holds a boolean,
else UNKNOWN. ``x in [..]`` is TRUE if ``x`` equals a member, UNKNOWN if its type differs from
the members', else FALSE; ``not in`` is its negation. A dotted field ``customer.segment`` reads
``record["customer"]["segment"]``. ``not`` UNKNOWN is UNKNOWN; ``and`` is FALSE if any side is
FALSE; ``or`` is TRUE if any side is TRUE; otherwise UNKNOWN wins.

A rule matches only when its condition is TRUE, so a missing field or a type mismatch makes the
rule not match (``not (age > 40)`` does not match a request without ``age``), unless another
branch of an ``or`` decides it. Evaluation never raises.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .condition_syntax import (MAX_CONDITION_LENGTH, MAX_DEPTH, And, Compare, Field, In,
                               Literal, Not, Or, PolicyError, Truth, parse_tree, value_kind)

__all__ = ["MAX_CONDITION_LENGTH", "MAX_DEPTH", "MISSING", "Condition", "PolicyError",
           "field_getter", "parse_condition"]

_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()  # a field absent from the request (distinct from null)
_OTHER: Any = object()     # a value no test compares with (list, object, ...)


# ---------------------------------------------------------------------------- values
def _plain(v: Any) -> Any:
    """A record value as a plain JSON-like scalar; ``_OTHER`` if it compares with nothing."""
    t = type(v)
    if v is None or v is MISSING or t is str or t is int or t is float or t is bool:
        return v
    try:
        if isinstance(v, str):
            return str(v)
        if isinstance(v, numbers.Integral):  # numpy integers, IntEnum
            return int(v)
        if isinstance(v, numbers.Real):      # numpy floats, Fraction (Decimal is not a Real)
            return float(v)
    except (TypeError, ValueError, OverflowError):
        pass
    return _OTHER


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if a is MISSING or b is MISSING:
        return None
    if a is None or b is None:
        if op == "==":
            return a is None and b is None
        if op == "!=":
            return not (a is None and b is None)
        return None
    ka, kb = value_kind(a), value_kind(b)
    if not ka or ka != kb or (ka == "boolean" and op not in ("==", "!=")):
        return None
    return _COMPARE[op](a, b)


def field_getter(path: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    """A function reading ``path`` from a record; returns :data:`MISSING` if it is absent."""
    if len(path) == 1:
        name = path[0]
        return lambda record: record.get(name, MISSING)

    def get(record: Mapping[str, Any]) -> Any:
        value: Any = record
        for part in path:
            if type(value) is not dict and not isinstance(value, Mapping):
                return MISSING
            value = value.get(part, MISSING)
        return value
    return get


# ---------------------------------------------------------------------------- compiling
Evaluator = Callable[[Mapping[str, Any]], "bool | None"]


def _raw_fn(node: Field | Literal) -> Callable[[Mapping[str, Any]], Any]:
    if isinstance(node, Field):
        return field_getter(node.path)
    value = node.value
    return lambda record: value


def _operand_fn(node: Field | Literal) -> Callable[[Mapping[str, Any]], Any]:
    if isinstance(node, Field):
        get = field_getter(node.path)
        return lambda record: _plain(get(record))
    value = node.value
    return lambda record: value


def _junction(items: tuple[Evaluator, ...], decisive: bool) -> Evaluator:
    def junction(record: Mapping[str, Any]) -> bool | None:
        unknown = False
        for item in items:
            x = item(record)
            if x is decisive:
                return decisive
            if x is None:
                unknown = True
        return None if unknown else not decisive
    return junction


def _compile(node: Any) -> Evaluator:
    if isinstance(node, Or | And):
        # Three-valued: or stops at the first TRUE, and at the first FALSE; otherwise any
        # UNKNOWN makes the whole UNKNOWN.
        return _junction(tuple(_compile(n) for n in node.items), isinstance(node, Or))
    if isinstance(node, Not):
        inner = _compile(node.item)

        def not_(record: Mapping[str, Any]) -> bool | None:
            x = inner(record)
            return None if x is None else not x
        return not_
    if isinstance(node, Truth):
        get = _raw_fn(node.operand)
        return lambda record: v if (v := get(record)) is True or v is False else None
    if isinstance(node, In):
        return _compile_in(node)
    return _compile_compare(node)


def _compile_compare(node: Compare) -> Evaluator:
    op, left, right = node.op, node.left, node.right
    if isinstance(left, Literal) and isinstance(right, Field):
        op, left, right = _MIRROR[op], right, left
    if isinstance(left, Field) and isinstance(right, Literal) and value_kind(right.value) in (
            "number", "string"):
        # The common case (field against a number or a string), without the general path.
        get, const, fn = field_getter(left.path), right.value, _COMPARE[op]
        fast = (int, float) if value_kind(const) == "number" else (str, str)

        def compare_const(record: Mapping[str, Any]) -> bool | None:
            v = get(record)
            t = type(v)
            if (t is fast[0] or t is fast[1]) and v == v:
                return fn(v, const)
            return _compare(op, _plain(v), const)
        return compare_const
    if isinstance(left, Field) and isinstance(right, Literal) and op in ("==", "!=") and (
            right.value is None or isinstance(right.value, bool)):
        return _compile_equal_singleton(field_getter(left.path), right.value, op == "==")
    get_left, get_right = _operand_fn(left), _operand_fn(right)
    return lambda record: _compare(op, get_left(record), get_right(record))


def _compile_equal_singleton(get: Callable[[Mapping[str, Any]], Any], const: bool | None,
                             equal: bool) -> Evaluator:
    """``field == true/false/null`` (or ``!=``), the rules of :func:`_compare` inlined."""
    is_null = const is None

    def equal_singleton(record: Mapping[str, Any]) -> bool | None:
        v = get(record)
        if v is MISSING:
            return None
        if v is None or is_null:
            return (v is None and is_null) is equal
        if v is True or v is False:
            return (v is const) is equal
        return None  # a non-boolean against true/false does not compare
    return equal_singleton


class _Never:
    """A type no value has: the fast path of a test that has none."""


_FAST_TYPES: dict[str, tuple[type, type]] = {
    "number": (int, float), "string": (str, str), "boolean": (bool, bool), "": (_Never, _Never)}


def _compile_in(node: In) -> Evaluator:
    raw, plain = _raw_fn(node.operand), _operand_fn(node.operand)
    members = frozenset(v for v in node.values if v is not None)
    has_null = None in node.values
    kinds = {value_kind(v) for v in members}
    kind = kinds.pop() if kinds else ""
    fast0, fast1 = _FAST_TYPES[kind]
    negate = node.negate

    def in_(record: Mapping[str, Any]) -> bool | None:
        v = raw(record)
        t = type(v)
        if (t is fast0 or t is fast1) and v == v:  # the common case: same type as the list
            return (v not in members) if negate else (v in members)
        v = plain(record)
        if v is MISSING:
            return None
        if v is None:
            found: bool | None = has_null
        elif not members:
            found = False  # only nulls (or nothing) to compare with: all FALSE
        else:
            found = (v in members) if value_kind(v) == kind else None
        return found if found is None or not negate else not found
    return in_


# ---------------------------------------------------------------------------- public
@dataclass(frozen=True)
class Condition:
    """A parsed, compiled condition. ``evaluate`` is three-valued; ``matches`` is ``is True``."""

    text: str
    tree: Any = field(repr=False)
    fields: frozenset[str] = field(repr=False)
    evaluate: Evaluator = field(repr=False, compare=False)

    def matches(self, record: Mapping[str, Any]) -> bool:
        return self.evaluate(record) is True


def parse_condition(text: str) -> Condition:
    """Parse and compile one condition; raises :class:`PolicyError` saying what and where
    (``column N: ...``, with ``.column`` and ``.token`` set)."""
    tree, names = parse_tree(text)
    return Condition(text, tree, names, _compile(tree))
