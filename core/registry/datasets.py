"""Datasets (CSV or Parquet): read, fingerprint, describe, and check against a model's schema.

pyarrow (and pandas, for data frames passed in) are imported inside the functions, so importing
this module at console start-up costs nothing.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InvalidInput, KnownError
from core.tasks import CancelToken, ProgressFn, no_progress

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

KINDS = ("number", "integer", "boolean", "category", "text", "datetime")
ACCEPTED_FORMATS = "CSV (.csv) or Parquet (.parquet)"
# A string column with at most this many distinct values, each seen twice on average, is a
# category; anything else is free text.
CATEGORY_LIMIT = 50
_CHUNK = 1 << 20
_PARQUET_MAGIC = b"PAR1"
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class DatasetRejected(KnownError):
    """Charter cannot accept this dataset; ``disagreements`` lists schema problems, if any."""

    code = "dataset_rejected"

    def __init__(self, message: str, *, hint: str | None = None,
                 disagreements: Iterable[Disagreement] = ()) -> None:
        super().__init__(message, hint=hint)
        self.disagreements = list(disagreements)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: str
    nulls: int  # null, empty or NaN
    distinct: int | None = None  # string columns only
    categories: Mapping[str, int] | None = None  # category and boolean columns: value -> rows


@dataclass(frozen=True)
class DatasetInfo:
    """What Charter records about a dataset; the raw data need not be kept."""

    format: str  # "csv" | "parquet" | "frame"
    fingerprint: str  # SHA-256 of the file's bytes; "" for a data frame
    size: int  # bytes
    rows: int
    columns: tuple[ColumnInfo, ...]

    @property
    def schema(self) -> list[tuple[str, str]]:
        return [(c.name, c.kind) for c in self.columns]

    @property
    def null_counts(self) -> dict[str, int]:
        return {c.name: c.nulls for c in self.columns}

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Dataset:
    """A dataset read into memory (an Arrow table) with its description."""

    info: DatasetInfo
    table: pa.Table

    def to_frame(self) -> pd.DataFrame:
        return self.table.to_pandas()


def fingerprint_file(path: str | Path, *, progress: ProgressFn | None = None,
                     cancel: CancelToken | None = None) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (works for files far larger than memory).

    Progress is in bytes. Raises ``DatasetRejected`` if the file cannot be read, ``Cancelled``.
    """
    return _hash(Path(path), progress or no_progress, cancel)[0]


def _hash(path: Path, progress: ProgressFn, cancel: CancelToken | None) -> tuple[str, bool]:
    # Also tells whether the file has a double quote: without one no CSV value can hold a line
    # break, and pyarrow can split the file into blocks for its threads at any line break.
    digest, quoted = hashlib.sha256(), False
    try:
        total, done = path.stat().st_size, 0
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                if cancel:
                    cancel.check()
                digest.update(chunk)
                quoted = quoted or b'"' in chunk
                done += len(chunk)
                progress(done, total)
    except OSError as exc:
        raise DatasetRejected(f"Cannot read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest(), quoted


def detect_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"``, by the file's first bytes and its suffix.

    Raises ``DatasetRejected`` for a missing or empty file, or any other format.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise DatasetRejected(f"Cannot read {path}: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    if not head:
        raise DatasetRejected(f"{path.name} is empty.", hint="Choose a file that holds data.")
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if suffix in (".parquet", ".pq"):
        raise DatasetRejected(f"{path.name} is not a readable Parquet file: it is truncated or "
                              "corrupt.", hint="Export it again from its source.")
    if suffix == ".csv" and b"\0" not in head:
        return "csv"
    raise DatasetRejected(f"{path.name} is not a dataset Charter reads.",
                          hint=f"Accepted formats: {ACCEPTED_FORMATS}.")


def read_dataset(path: str | Path, *, progress: ProgressFn | None = None,
                 cancel: CancelToken | None = None, fmt: str | None = None) -> Dataset:
    """Fingerprint, read and describe a CSV or Parquet file.

    Progress is in bytes over two passes (hash, then read): total is twice the file size; the
    CSV parse, a second or two for a million rows, reports only when it ends.
    Raises ``DatasetRejected`` naming the problem (format, empty, truncated or corrupt Parquet,
    ragged CSV rows with their row numbers, bad column names, unsupported column types) and
    ``Cancelled``. ``fmt`` (``"csv"`` or ``"parquet"``) is for a file whose name does not say,
    such as a blob of the artifact store whose format is recorded with the dataset.
    """
    import pyarrow as pa

    progress = progress or no_progress
    path = Path(path)
    fmt = fmt if fmt in ("csv", "parquet") else detect_format(path)
    size = path.stat().st_size
    digest, quoted = _hash(path, lambda done, _total: progress(done, 2 * size), cancel)
    try:
        if fmt == "csv":
            # From the path, not through a Python file object that could report progress:
            # that costs a third more time.
            table = _read_csv(path, quoted)
            if cancel:
                cancel.check()
            progress(2 * size, 2 * size)
        else:
            table = _read_parquet(path, size, progress, cancel)
    except pa.ArrowException as exc:
        what = "CSV" if fmt == "csv" else "Parquet file (it is truncated or corrupt)"
        raise DatasetRejected(f"{path.name} is not a readable {what}: {exc}") from exc
    if table.num_rows == 0:
        raise DatasetRejected(f"{path.name} has column names but no rows.")
    return Dataset(describe(table, fmt=fmt, fingerprint=digest, size=size), table)


def _read_csv(path: Path, quoted: bool = True) -> pa.Table:
    import pyarrow as pa
    from pyarrow import csv

    convert = csv.ConvertOptions(strings_can_be_null=True)
    try:
        return csv.read_csv(path, read_options=csv.ReadOptions(block_size=8 << 20),
                            parse_options=csv.ParseOptions(newlines_in_values=quoted),
                            convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "Expected" not in str(exc) or "columns, got" not in str(exc):
            raise
    # Parse again on one thread, which knows row numbers, to name every ragged row.
    bad: list[Any] = []

    def collect(row: Any) -> str:
        bad.append(row)
        return "skip"

    csv.read_csv(path, read_options=csv.ReadOptions(use_threads=False),
                 parse_options=csv.ParseOptions(newlines_in_values=True,
                                                invalid_row_handler=collect),
                 convert_options=convert)
    rows = ", ".join(f"row {r.number} has {r.actual_columns}" for r in bad[:5])
    more = f" and {len(bad) - 5} more rows" if len(bad) > 5 else ""
    raise DatasetRejected(
        f"{path.name} has rows with the wrong number of fields: the header has "
        f"{bad[0].expected_columns}; {rows}{more} (the header is row 1).",
        hint="Fix or remove those rows, or quote fields that contain commas.")


def _read_parquet(path: Path, size: int, progress: ProgressFn,
                  cancel: CancelToken | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:
        groups = pf.metadata.num_row_groups
        parts = []
        for i in range(groups):
            if cancel:
                cancel.check()
            parts.append(pf.read_row_group(i))
            progress(size + size * (i + 1) // groups, 2 * size)
        return pa.concat_tables(parts) if parts else pf.schema_arrow.empty_table()


def as_table(data: Any) -> pa.Table:
    """An Arrow table from a pandas DataFrame, an Arrow table or a ``Dataset``.

    Raises ``DatasetRejected`` for a column pyarrow cannot convert (mixed types).
    """
    import pyarrow as pa

    if isinstance(data, Dataset):
        return data.table
    if isinstance(data, pa.Table):
        return data
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DatasetRejected(f"The data cannot be read as a table: {exc}",
                              hint="Give each column values of one type.") from exc


def describe(data: Any, *, fmt: str = "frame", fingerprint: str = "",
             size: int = 0) -> DatasetInfo:
    """Describe a table or data frame: column kinds, null counts, category sets.

    Raises ``DatasetRejected`` for empty, duplicate, control- or bidi-character column names
    (all of them named) and for columns of a type Charter cannot describe.
    """
    table = as_table(data)
    names = [str(n) for n in table.column_names]
    _check_names(names)
    columns = tuple(describe_column(name, table.column(i)) for i, name in enumerate(names))
    return DatasetInfo(fmt, fingerprint, size or table.nbytes, table.num_rows, columns)


def _check_names(names: list[str]) -> None:
    problems, seen = [], set()
    for number, name in enumerate(names, 1):
        odd = [c for c in name if unicodedata.category(c) == "Cc" or c in _BIDI]
        if odd:
            codes = ", ".join(sorted({f"U+{ord(c):04X}" for c in odd}))
            problems.append(f"column {number} ({ascii(name)}) contains control or "
                            f"bidirectional characters ({codes})")
        elif not name.strip():
            problems.append(f"column {number} has no name")
        elif name in seen:
            problems.append(f"column {number} ({name!r}) repeats an earlier column's name")
        seen.add(name)
    if problems:
        raise DatasetRejected("The dataset's column names cannot be used: "
                              + "; ".join(problems) + ".",
                              hint="Rename the columns in the source and export it again.")


def missing_count(column: Any) -> int:
    """Null plus NaN values in an Arrow column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    nulls = column.null_count
    if pa.types.is_floating(column.type):
        nulls += pc.sum(pc.is_nan(column)).as_py() or 0
    return nulls


def describe_column(name: str, column: Any) -> ColumnInfo:
    """Kind, missing values and (for categories and booleans) value counts of an Arrow column.

    Raises ``DatasetRejected`` for binary, nested or other types Charter cannot describe.
    """
    import pyarrow as pa

    t, nulls = column.type, missing_count(column)
    if pa.types.is_boolean(t):
        return ColumnInfo(name, "boolean", nulls, 2, value_counts(column))
    if pa.types.is_integer(t):
        return ColumnInfo(name, "integer", nulls)
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return ColumnInfo(name, "number", nulls)
    if pa.types.is_temporal(t):
        return ColumnInfo(name, "datetime", nulls)
    if pa.types.is_null(t):
        return ColumnInfo(name, "text", nulls, 0)
    declared = pa.types.is_dictionary(t)
    if declared or pa.types.is_string(t) or pa.types.is_large_string(t):
        counts = value_counts(column)
        small = len(counts) <= CATEGORY_LIMIT and 2 * len(counts) <= len(column) - nulls
        if declared or small:
            return ColumnInfo(name, "category", nulls, len(counts), counts)
        return ColumnInfo(name, "text", nulls, len(counts))
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        raise DatasetRejected(f"Column {name!r} is not valid UTF-8 text.",
                              hint="Save the file as UTF-8 and import it again.")
    raise DatasetRejected(f"Column {name!r} has type {t}, which Charter cannot describe.",
                          hint="Flatten nested or binary columns before importing.")


def value_counts(column: Any) -> dict[str, int]:
    """Non-null values of an Arrow column as text -> rows, most frequent first (ties by value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    counts = pc.value_counts(column)
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(),
                strict=True)
    return dict(sorted(((v, n) for v, n in pairs if v is not None), key=lambda p: (-p[1], p[0])))


# ---- the model's expected schema ----------------------------------------------------------

# Which found kinds satisfy an expected kind. An integer is a number; a category may arrive as
# free text (a small file), integer codes or booleans, and is then checked value by value.
_ACCEPTS = {"number": {"number", "integer"}, "integer": {"integer"}, "boolean": {"boolean"},
            "category": {"category", "text", "integer", "boolean"},
            "text": {"text", "category"}, "datetime": {"datetime"}}


@dataclass(frozen=True)
class FeatureSpec:
    """One input the model expects: ``{"name", "kind", "categories"?}`` in its stored form."""

    name: str
    kind: str
    categories: tuple[str, ...] | None = None

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> FeatureSpec:
        """Raises ``InvalidInput`` for a missing name or an unknown kind."""
        name, kind = item.get("name"), item.get("kind")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"A schema entry has no name: {dict(item)!r}")
        if kind not in KINDS:
            raise InvalidInput(f"Feature {name!r} has kind {kind!r}; expected one of "
                               f"{', '.join(KINDS)}.")
        cats = item.get("categories")
        return cls(name, kind, None if cats is None else tuple(_as_text(c) for c in cats))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out


def _as_text(value: Any) -> str:
    # Arrow spells booleans in lower case; a schema written from Python says True/False.
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Disagreement:
    column: str
    problem: str  # "missing" | "extra" | "wrong_kind" | "unseen_categories" | "empty"
    message: str
    severity: str = "error"  # "error" | "warning"


def check_against_schema(expected: Iterable[FeatureSpec | Mapping[str, Any]], data: Any, *,
                         strict: bool = False) -> list[Disagreement]:
    """Every way ``data`` disagrees with the model's expected schema, in schema order.

    ``data`` is a ``DatasetInfo`` (checked from its recorded categories), a ``Dataset``, an
    Arrow table or a pandas DataFrame (checked against the values themselves). Extra columns and
    entirely empty columns are warnings unless ``strict``. Raises ``InvalidInput`` for a bad
    schema entry and ``DatasetRejected`` for a table it cannot describe.
    """
    specs = [s if isinstance(s, FeatureSpec) else FeatureSpec.from_dict(s) for s in expected]
    table = None if isinstance(data, DatasetInfo) else as_table(data)
    info = data if isinstance(data, DatasetInfo) else (
        data.info if isinstance(data, Dataset) else describe(table))
    warn = "error" if strict else "warning"
    found: list[Disagreement] = []
    for spec in specs:
        col = info.column(spec.name)
        if col is None:
            found.append(Disagreement(spec.name, "missing",
                                      f"column {spec.name!r} ({spec.kind}) is missing"))
        elif info.rows and col.nulls == info.rows:
            found.append(Disagreement(spec.name, "empty",
                                      f"column {spec.name!r} is empty in every row", warn))
        elif col.kind not in _ACCEPTS[spec.kind]:
            found.append(Disagreement(spec.name, "wrong_kind", f"column {spec.name!r} holds "
                                      f"{col.kind} values where the model expects {spec.kind}"))
        elif spec.kind == "category" and spec.categories is not None:
            counts = (value_counts(table.column(spec.name)) if table is not None
                      else col.categories)
            found.extend(_unseen(spec, col, counts))
    known = {s.name for s in specs}
    found.extend(Disagreement(c.name, "extra", f"column {c.name!r} is not a model input", warn)
                 for c in info.columns if c.name not in known)
    return found


def _unseen(spec: FeatureSpec, col: ColumnInfo,
            counts: Mapping[str, int] | None) -> list[Disagreement]:
    allowed = set(spec.categories or ())
    if counts is None:  # a free-text column described without its data
        if (col.distinct or 0) <= len(allowed):
            return []
        return [Disagreement(spec.name, "unseen_categories",
                             f"column {spec.name!r} has {col.distinct} distinct values; the "
                             f"model knows {len(allowed)} categories")]
    unseen = [(v, n) for v, n in counts.items() if v not in allowed]
    if not unseen:
        return []
    shown = ", ".join(f"{v!r} ({n} rows)" for v, n in unseen[:5])
    rest = unseen[5:]
    more = f" and {len(rest)} more in {sum(n for _, n in rest)} rows" if rest else ""
    return [Disagreement(spec.name, "unseen_categories", f"column {spec.name!r} has values "
                         f"the model has not seen: {shown}{more}")]


def ensure_matches_schema(expected: Iterable[FeatureSpec | Mapping[str, Any]], data: Any, *,
                          strict: bool = False) -> list[Disagreement]:
    """Raise ``DatasetRejected`` listing every error-level disagreement; else return warnings.

    See :func:`check_against_schema` for ``data`` and ``strict``.
    """
    found = check_against_schema(expected, data, strict=strict)
    errors = [d for d in found if d.severity == "error"]
    if errors:
        lines = "\n".join(f"- {d.message}" for d in errors)
        raise DatasetRejected(f"The dataset disagrees with the model's schema in "
                              f"{len(errors)} way{'s' if len(errors) > 1 else ''}:\n{lines}",
                              hint="Fix the dataset or choose the right model version.",
                              disagreements=found)
    return found
