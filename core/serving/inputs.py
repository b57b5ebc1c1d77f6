"""Request bodies for the agent: bounded JSON, and records checked against a version's schema.

Everything a caller sends is untrusted. :func:`parse_json` bounds the body's size (before
reading it as JSON) and its nesting depth, and refuses the non-finite numbers JSON does not
have (``NaN``, ``Infinity``); a literal too large for a float is refused by the schema check. :func:`records_from_predict`
reads ``POST /predict`` bodies (``{"records": [{...}, ...]}``, a list of records, or one
record); :func:`records_from_v2` reads Open Inference Protocol v2 ``infer`` bodies (one tensor
per input named after the feature, or one ``[rows, features]`` tensor in schema order).
:meth:`InputSchema.check` then holds every record to the version's input schema.

Each refusal is an :class:`InputError` with the HTTP status to answer (400 malformed, 413 too
large, 422 not what the model takes), the field it concerns, and a message naming the field and
the record, e.g. ``record 2: field 'age' must be a number; got the string "forty"``.

Schema entries are ``{"name", "kind", "categories"?}`` as the registry stores them. Kinds:
``number`` (int or float, never a boolean), ``integer`` (a whole number), ``boolean``,
``category`` (text, or a number or boolean compared as its text, within ``categories`` when the
schema lists them), ``text`` and ``datetime`` (ISO-8601 text). A null is refused for every kind:
the agent never guesses a missing value. This module imports only the standard library.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_BODY_BYTES = 1 << 20
MAX_DEPTH = 16
MAX_ROWS = 10_000
KINDS = ("number", "integer", "boolean", "category", "text", "datetime")
# Open Inference Protocol v2 datatypes, by the kinds they can carry.
V2_DATATYPES = {"BOOL": "boolean", "BYTES": "text", "FP16": "number", "FP32": "number",
                "FP64": "number", "INT8": "integer", "INT16": "integer", "INT32": "integer",
                "INT64": "integer", "UINT8": "integer", "UINT16": "integer", "UINT32": "integer",
                "UINT64": "integer"}


class InputError(Exception):
    """A request the agent refuses: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "field": self.field}


def _no_constant(name: str) -> Any:
    raise InputError(400, f"The body holds {name}, which JSON does not allow; send finite "
                          "numbers only.")


_ESCAPE = re.compile(rb"\\.")
_NOT_SYNTAX = bytes(b for b in range(256) if b not in b'[]{}"')


def _depth(body: bytes, limit: int) -> None:
    """Refuse a (valid JSON) body nesting deeper than ``limit``, from its bytes: escapes
    dropped, only brackets and quotes kept, then the text between quotes dropped, all in C, so
    a 100-row body costs microseconds instead of a walk over every value."""
    if b"\\" in body:
        body = _ESCAPE.sub(b"", body)
    brackets = b"".join(body.translate(None, _NOT_SYNTAX).split(b'"')[::2])
    if len(brackets) <= limit:
        return
    depth = 0
    for b in brackets:
        if b in b"[{":
            depth += 1
            if depth > limit:
                raise InputError(400, f"The body nests deeper than {limit} levels.")
        else:
            depth -= 1


def parse_json(body: bytes, *, max_bytes: int = MAX_BODY_BYTES,
               max_depth: int = MAX_DEPTH) -> Any:
    """The body as JSON, within the size and depth bounds; raises InputError."""
    if len(body) > max_bytes:
        raise InputError(413, f"The body is {len(body):,} bytes; the limit is {max_bytes:,}. "
                              "Send fewer rows per request.")
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise InputError(400, f"The body nests deeper than {max_depth} levels.") from None
    except UnicodeDecodeError:
        raise InputError(400, "The body is not UTF-8 text.") from None
    except ValueError as err:
        raise InputError(400, f"The body is not valid JSON: {err}.") from None
    _depth(body, max_depth)
    return value


def _rows(records: Any, max_rows: int) -> list[Mapping[str, Any]]:
    if isinstance(records, Mapping):
        records = [records]
    if not isinstance(records, list) or not records:
        raise InputError(422, "Send at least one record: {\"records\": [{\"field\": value, "
                              "...}]}.")
    if len(records) > max_rows:
        raise InputError(413, f"The request holds {len(records):,} records; the limit is "
                              f"{max_rows:,} per request.")
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise InputError(422, f"record {i}: a record is a JSON object of field: value; "
                                  f"got {type(rec).__name__}.")
    return records


def records_from_predict(body: Any, *, max_rows: int = MAX_ROWS) -> list[Mapping[str, Any]]:
    """The records of a ``POST /predict`` body (already parsed)."""
    if isinstance(body, Mapping) and "records" in body:
        extra = sorted(set(body) - {"records", "id", "parameters"})
        if extra:
            raise InputError(422, f"Unknown top-level key(s): {', '.join(extra)}; a predict "
                                  "body holds \"records\" (and optionally \"id\").", extra[0])
        return _rows(body["records"], max_rows)
    return _rows(body, max_rows)


def records_from_v2(body: Any, names: Sequence[str], *,
                    max_rows: int = MAX_ROWS) -> list[dict[str, Any]]:
    """Records from an Open Inference Protocol v2 ``infer`` body: one 1-D tensor per feature
    (named after it), or a single ``[rows, len(names)]`` tensor whose columns follow
    ``names``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("inputs"), list) \
            or not body["inputs"]:
        raise InputError(422, "An infer request needs \"inputs\": a list of tensors, each "
                              "{\"name\", \"shape\", \"datatype\", \"data\"}.")
    tensors = body["inputs"]
    for t in tensors:
        if not isinstance(t, Mapping) or not {"name", "shape", "datatype", "data"} <= set(t):
            raise InputError(422, "Each input tensor needs name, shape, datatype and data.")
        if t["datatype"] not in V2_DATATYPES:
            raise InputError(422, f"Input {t['name']!r} has datatype {t['datatype']!r}; use "
                                  f"one of {', '.join(V2_DATATYPES)}.", str(t["name"]))
        if not isinstance(t["data"], list) or not isinstance(t["shape"], list) \
                or not all(isinstance(n, int) and n >= 0 for n in t["shape"]):
            raise InputError(422, f"Input {t['name']!r}: shape is a list of sizes and data a "
                                  "list of values.", str(t["name"]))
    if len(tensors) == 1 and len(tensors[0]["shape"]) == 2:
        t = tensors[0]
        rows, cols = t["shape"]
        flat = _flat(t)
        if cols != len(names) or len(flat) != rows * cols:
            raise InputError(422, f"Input {t['name']!r} has shape {t['shape']} and "
                                  f"{len(flat)} values; this model takes [rows, {len(names)}] "
                                  f"with columns {', '.join(names)}.", str(t["name"]))
        if rows > max_rows:
            raise InputError(413, f"The request holds {rows:,} rows; the limit is "
                                  f"{max_rows:,} per request.")
        return [dict(zip(names, flat[r * cols:(r + 1) * cols], strict=True))
                for r in range(rows)]
    columns: dict[str, list[Any]] = {}
    for t in tensors:
        flat = _flat(t)
        if len(t["shape"]) not in (1, 2) or math.prod(t["shape"]) != len(flat) \
                or (len(t["shape"]) == 2 and t["shape"][1] != 1):
            raise InputError(422, f"Input {t['name']!r}: a feature tensor has shape [rows] or "
                                  f"[rows, 1] and as many values; got shape {t['shape']} with "
                                  f"{len(flat)} values.", str(t["name"]))
        columns[str(t["name"])] = flat
    sizes = {len(v) for v in columns.values()}
    if len(sizes) != 1:
        raise InputError(422, "The input tensors hold different numbers of rows: "
                              + ", ".join(f"{k}={len(v)}" for k, v in columns.items()) + ".")
    rows = sizes.pop()
    if rows > max_rows:
        raise InputError(413, f"The request holds {rows:,} rows; the limit is {max_rows:,} "
                              "per request.")
    if rows == 0:
        raise InputError(422, "The input tensors hold no rows.")
    return [{k: v[r] for k, v in columns.items()} for r in range(rows)]


def _flat(tensor: Mapping[str, Any]) -> list[Any]:
    data = tensor["data"]
    if data and isinstance(data[0], list):  # nested row-major data is allowed by the protocol
        out: list[Any] = []
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            else:
                out.append(item)
        return out
    return data


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str
    categories: frozenset[str] | None = None


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "the string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


class InputSchema:
    """A version's inputs, in order; :meth:`check` holds records to them."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.features = tuple(features)
        self.names = tuple(f.name for f in self.features)
        self._by_name = {f.name: f for f in self.features}
        self.numeric = all(f.kind in ("number", "integer") for f in self.features)
        self._all_numbers = all(f.kind == "number" for f in self.features)
        self._keys = frozenset(self.names)
        self._get = operator.itemgetter(*self.names) if len(self.names) > 1 else None

    @classmethod
    def from_list(cls, entries: Sequence[Mapping[str, Any]]) -> InputSchema:
        """From the registry's stored form; raises ValueError for a malformed entry."""
        out = []
        for e in entries:
            name, kind = e.get("name"), e.get("kind")
            if not isinstance(name, str) or not name or kind not in KINDS:
                raise ValueError(f"bad schema entry {dict(e)!r}: needs a name and a kind in "
                                 f"{', '.join(KINDS)}")
            cats = e.get("categories")
            out.append(Feature(name, kind, None if cats is None
                               else frozenset(_text(c) for c in cats)))
        if len({f.name for f in out}) != len(out):
            raise ValueError("the schema names a feature twice")
        return cls(out)

    def check(self, records: Sequence[Mapping[str, Any]],
              numbers: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
        """Each record as a tuple of values in schema order (categories as text); raises
        InputError (422) naming the first problem's record and field. ``numbers`` are the
        records' positions in the request, for messages (default 0, 1, 2, ...)."""
        if self._all_numbers and self._get is not None:
            rows = self._numbers_only(records)
            if rows is not None:
                return rows
        out = []
        expected = set(self.names)
        for i, rec in zip(numbers or range(len(records)), records, strict=True):
            if rec.keys() != expected:
                missing = [n for n in self.names if n not in rec]
                if missing:
                    raise InputError(422, f"record {i}: field {missing[0]!r} is missing"
                                          + (f" (and {len(missing) - 1} more)"
                                             if len(missing) > 1 else "")
                                          + ".", missing[0])
                extra = sorted(k for k in rec if k not in self._by_name)
                raise InputError(422, f"record {i}: field {extra[0]!r} is not an input of "
                                      "this model; send only its inputs: "
                                      f"{', '.join(self.names)}.", extra[0])
            out.append(tuple(self._value(i, f, rec[f.name]) for f in self.features))
        return out

    def _numbers_only(self, records: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]] | None:
        """The common case checked in bulk (C loops, no call per value): every record has
        exactly the inputs, every value is a finite float or an int within ±2^63. None when
        anything else is there: :meth:`check` then finds and names the problem."""
        keys, get = self._keys, self._get
        rows = []
        for rec in records:
            if rec.keys() != keys:
                return None
            rows.append(get(rec))
        flat = list(itertools.chain.from_iterable(rows))
        types = set(map(type, flat))
        if not types <= {float, int}:
            return None
        if any(map(math.isinf, flat)) or any(map(math.isnan, flat)):
            return None
        if int in types and not -2 ** 63 < min(flat) <= max(flat) < 2 ** 63:
            return None
        return rows

    @staticmethod
    def _value(i: int, f: Feature, value: Any) -> Any:
        kind = f.kind
        if kind == "number" and type(value) is float:  # the common case, first and cheap
            if math.isfinite(value):
                return value
            raise _bad(i, f, value, "a finite number within the range of a 64-bit float")
        if value is None:
            raise InputError(422, f"record {i}: field {f.name!r} is null; the model needs a "
                                  "value.", f.name)
        if kind in ("number", "integer") and isinstance(value, int) \
                and not isinstance(value, bool) and abs(value) >= 2 ** 63:
            raise _bad(i, f, value, "a number within ±2^63")
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad(i, f, value, "a number")
            return value
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or (isinstance(value, float) and not value.is_integer()):
                raise _bad(i, f, value, "a whole number")
            return int(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _bad(i, f, value, "true or false")
            return value
        if kind == "datetime":
            try:
                datetime.fromisoformat(value if isinstance(value, str) else "")
            except ValueError:
                raise _bad(i, f, value, "an ISO-8601 date or time") from None
            return value
        if not isinstance(value, str | int | float | bool) \
                or (kind == "text" and not isinstance(value, str)):
            raise _bad(i, f, value, "text")
        if kind == "text":
            return value
        text = _text(value)  # category
        if f.categories is not None and text not in f.categories:
            known = sorted(f.categories)
            listed = ", ".join(known[:10]) + (f" and {len(known) - 10} more"
                                              if len(known) > 10 else "")
            raise InputError(422, f"record {i}: field {f.name!r} has {_shown(value)}, a "
                                  f"category the model never saw in training; known: {listed}.",
                             f.name)
        return text


def _bad(i: int, f: Feature, value: Any, expected: str) -> InputError:
    return InputError(422, f"record {i}: field {f.name!r} must be {expected}; got "
                           f"{_type_name(value)} {_shown(value)}.", f.name)
