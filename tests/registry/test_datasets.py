"""Datasets: reading CSV and Parquet, what Charter refuses and why, and the model-schema check."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import Cancelled, InvalidInput
from core.registry.datasets import (
    Dataset,
    DatasetRejected,
    FeatureSpec,
    check_against_schema,
    describe,
    ensure_matches_schema,
    read_dataset,
)
from core.tasks import CancelToken

ROOT = Path(__file__).resolve().parents[2]

CSV = (
    "income,age,default,region,note,opened\n"
    "1200.5,31,true,north,first,2024-01-02T00:00:00\n"
    "NA,45,false,south,second,2024-02-03T00:00:00\n"
    "800.25,,false,north,third,2024-03-04T00:00:00\n"
    "950,52,true,,fourth,2024-04-05T00:00:00\n"
    "1010,29,false,south,fifth,2024-05-06T00:00:00\n"
    "700,38,true,north,sixth,2024-06-07T00:00:00\n"
)


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_csv_is_fingerprinted_counted_and_described(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", CSV)
    info = read_dataset(path).info
    assert info.format == "csv"
    assert info.fingerprint == hashlib.sha256(CSV.encode()).hexdigest()
    assert info.rows == 6
    assert info.schema == [("income", "number"), ("age", "integer"), ("default", "boolean"),
                           ("region", "category"), ("note", "text"), ("opened", "datetime")]
    # "NA" and empty cells are missing values, in numbers and in text alike.
    assert info.null_counts == {"income": 1, "age": 1, "default": 0, "region": 1, "note": 0,
                                "opened": 0}
    assert info.column("region").categories == {"north": 3, "south": 2}


def test_parquet_gives_the_same_schema_as_the_csv(tmp_path: Path) -> None:
    csv_info = read_dataset(write(tmp_path, "train.csv", CSV)).info
    path = tmp_path / "train.parquet"
    pq.write_table(read_dataset(tmp_path / "train.csv").table, path, row_group_size=2)
    info = read_dataset(path).info
    assert info.format == "parquet"
    assert info.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (info.rows, info.schema, info.null_counts) == (6, csv_info.schema,
                                                          csv_info.null_counts)


@pytest.mark.parametrize("name, data", [("model.xlsx", b"PK\x03\x04rest"),
                                        ("data.json", b'{"a": 1}'),
                                        ("zipped.csv", b"PK\x03\x04\x00\x00binary")])
def test_other_formats_are_refused_naming_the_accepted_ones(tmp_path: Path, name: str,
                                                            data: bytes) -> None:
    with pytest.raises(DatasetRejected) as err:
        read_dataset(write(tmp_path, name, data))
    assert err.value.code == "dataset_rejected"
    assert "CSV" in str(err.value) and "Parquet" in str(err.value)


def test_empty_file_and_header_only_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetRejected, match="empty"):
        read_dataset(write(tmp_path, "empty.csv", b""))
    with pytest.raises(DatasetRejected, match="no rows"):
        read_dataset(write(tmp_path, "header.csv", "a,b\n"))


def test_truncated_or_corrupt_parquet_is_refused(tmp_path: Path) -> None:
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.table({"x": list(range(1000))}), whole)
    cut = write(tmp_path, "cut.parquet", whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(DatasetRejected, match="truncated or corrupt"):
        read_dataset(cut)
    with pytest.raises(DatasetRejected, match="truncated or corrupt"):
        read_dataset(write(tmp_path, "fake.parquet", "a,b\n1,2\n"))


def test_ragged_rows_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n")
    with pytest.raises(DatasetRejected) as err:
        read_dataset(path)
    message = str(err.value)
    assert "row 3 has 2" in message and "row 5 has 4" in message and "header has 3" in message


def test_quoted_values_may_hold_commas_and_line_breaks(tmp_path: Path) -> None:
    # A multi-line value across the reader's 8 MiB block boundary, where a parallel CSV reader
    # that splits blocks at any line break would cut the row in two.
    filler = "z,2\n" * ((8 << 20) // 4 - 100)
    note = "x, and" + "\nmore" * 200
    path = write(tmp_path, "quoted.csv", f'a,b\n{filler}"{note}",1\nlast,3\n')
    column = read_dataset(path).table.column("a")
    assert len(column) == len(filler) // 4 + 2
    assert column[-2].as_py() == note and column[-1].as_py() == "last"


def test_bad_column_names_are_all_named(tmp_path: Path) -> None:
    path = write(tmp_path, "names.csv", "a,,a,ok\u202eexe,tab\tname\n1,2,3,4,5\n")
    with pytest.raises(DatasetRejected) as err:
        read_dataset(path)
    message = str(err.value)
    assert "column 2 has no name" in message
    assert "column 3 ('a') repeats" in message
    assert "ok\\u202eexe" in message and "U+202E" in message
    assert "tab\\tname" in message and "U+0009" in message


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetRejected, match="'name' is not valid UTF-8"):
        read_dataset(write(tmp_path, "latin1.csv", "name,x\nJos\xe9,1\n".encode("latin-1")))


def test_progress_reaches_the_end_and_cancel_stops(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", CSV)
    seen: list[tuple[int, int]] = []
    read_dataset(path, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (2 * len(CSV), 2 * len(CSV))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        read_dataset(path, cancel=token)


def test_a_pandas_frame_is_described_like_a_file() -> None:
    frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0, 5.0], "c": ["a", "b", "a", "b", None],
                          "id": ["u1", "u2", "u3", "u4", "u5"]})
    info = describe(frame)
    # Five distinct ids in five rows are free text, not a category.
    assert info.schema == [("x", "number"), ("c", "category"), ("id", "text")]
    assert info.null_counts == {"x": 1, "c": 1, "id": 0}


# ---- against the model's schema ------------------------------------------------------------

SCHEMA = [{"name": "income", "kind": "number"}, {"name": "age", "kind": "number"},
          {"name": "region", "kind": "category", "categories": ["north", "east"]},
          {"name": "note", "kind": "number"}, {"name": "score", "kind": "number"}]


def test_every_disagreement_is_listed(tmp_path: Path) -> None:
    dataset = read_dataset(write(tmp_path, "train.csv", CSV))
    found = {(d.column, d.problem, d.severity): d.message
             for d in check_against_schema(SCHEMA, dataset)}
    assert set(found) == {("note", "wrong_kind", "error"), ("score", "missing", "error"),
                          ("region", "unseen_categories", "error"),
                          ("default", "extra", "warning"), ("opened", "extra", "warning")}
    # An integer column satisfies a number; both kinds are named when they disagree.
    assert "holds text values where the model expects number" in found["note", "wrong_kind",
                                                                        "error"]
    assert "'south' (2 rows)" in found["region", "unseen_categories", "error"]


def test_the_refusal_names_all_problems_and_strict_refuses_extra_columns(tmp_path: Path) -> None:
    dataset = read_dataset(write(tmp_path, "train.csv", CSV))
    with pytest.raises(DatasetRejected) as err:
        ensure_matches_schema(SCHEMA, dataset)
    assert "in 3 ways" in str(err.value)
    assert {d.column for d in err.value.disagreements} >= {"note", "score", "region"}
    fitting = [{"name": "income", "kind": "number"}, {"name": "age", "kind": "integer"}]
    warnings = ensure_matches_schema(fitting, dataset)
    assert {d.column for d in warnings} == {"default", "region", "note", "opened"}
    with pytest.raises(DatasetRejected, match="in 4 ways"):
        ensure_matches_schema(fitting, dataset, strict=True)


def test_unseen_categories_show_five_examples_with_counts() -> None:
    values = ["a"] * 3 + [f"new{i}" for i in range(7) for _ in range(i + 1)]
    frame = pd.DataFrame({"c": values})
    [problem] = check_against_schema([{"name": "c", "kind": "category", "categories": ["a"]}],
                                     frame)
    assert "'new6' (7 rows), 'new5' (6 rows), 'new4' (5 rows), 'new3' (4 rows), 'new2' (3 rows)" \
        in problem.message
    assert "and 2 more in 3 rows" in problem.message


def test_the_recorded_description_is_enough_to_check(tmp_path: Path) -> None:
    info = read_dataset(write(tmp_path, "train.csv", CSV)).info
    spec = [{"name": "region", "kind": "category", "categories": ["north"]}]
    [_, *extra] = problems = check_against_schema(spec, info)
    assert problems[0].problem == "unseen_categories" and "'south' (2 rows)" in problems[0].message
    assert all(d.problem == "extra" for d in extra)


def test_integer_codes_and_booleans_match_category_lists() -> None:
    frame = pd.DataFrame({"grade": [1, 2, 2, 3], "flag": [True, False, True, True]})
    spec = [FeatureSpec("grade", "category", ("1", "2")),
            FeatureSpec.from_dict({"name": "flag", "kind": "category",
                                   "categories": [True, False]})]
    [problem] = check_against_schema(spec, frame)
    assert problem.column == "grade" and "'3' (1 rows)" in problem.message


def test_a_bad_schema_entry_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="kind 'float'"):
        check_against_schema([{"name": "x", "kind": "float"}], pd.DataFrame({"x": [1.0]}))
    assert FeatureSpec.from_dict(SCHEMA[2]).to_dict() == SCHEMA[2]


def test_importing_the_module_loads_no_data_stack() -> None:
    """The console imports core.registry at start-up; pyarrow, pandas and numpy load on use."""
    script = ("import sys, json; import core.registry.datasets, core.registry.profile; "
              "print(json.dumps(sorted(m for m in ('pyarrow', 'pandas', 'numpy') "
              "if m in sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_dataset_converts_to_a_frame(tmp_path: Path) -> None:
    dataset = read_dataset(write(tmp_path, "train.csv", CSV))
    assert isinstance(dataset, Dataset)
    frame = dataset.to_frame()
    assert list(frame.columns) == [name for name, _ in dataset.info.schema]
    assert frame["income"].isna().sum() == 1
