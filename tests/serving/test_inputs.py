"""The agent's request checks: bounded JSON, the two body formats, and records held to the
version's schema, each refusal with its HTTP status and a message naming record and field."""

from __future__ import annotations

import json
import random

import pytest

from core.serving.inputs import (
    InputError,
    InputSchema,
    parse_json,
    records_from_predict,
    records_from_v2,
)

SCHEMA = InputSchema.from_list([
    {"name": "employment", "kind": "category", "categories": ["retired", "salaried"]},
    {"name": "age", "kind": "number"},
    {"name": "delinquencies", "kind": "integer"},
    {"name": "joint", "kind": "boolean"},
    {"name": "note", "kind": "text"},
    {"name": "opened", "kind": "datetime"},
])
GOOD = {"employment": "salaried", "age": 41.5, "delinquencies": 2, "joint": False,
        "note": "n", "opened": "2024-03-01"}


def refused(call, *args, **kwargs) -> InputError:  # noqa: ANN001
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_good_records_come_back_in_schema_order() -> None:
    rows = SCHEMA.check([GOOD, {**GOOD, "delinquencies": 3.0, "employment": "retired"}])
    assert rows == [("salaried", 41.5, 2, False, "n", "2024-03-01"),
                    ("retired", 41.5, 3, False, "n", "2024-03-01")]
    assert SCHEMA.names == ("employment", "age", "delinquencies", "joint", "note", "opened")


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"age": "forty"}, "age", "field 'age' must be a number; got the string \"forty\""),
    ({"age": True}, "age", "must be a number; got a boolean true"),
    ({"age": None}, "age", "field 'age' is null"),
    ({"age": 10 ** 30}, "age", "within ±2^63"),
    ({"age": float("inf")}, "age", "a finite number"),
    ({"delinquencies": 1.5}, "delinquencies", "must be a whole number"),
    ({"joint": "yes"}, "joint", "must be true or false"),
    ({"note": 3}, "note", "must be text"),
    ({"opened": "last tuesday"}, "opened", "ISO-8601"),
    ({"employment": "astronaut"}, "employment",
     "has \"astronaut\", a category the model never saw in training; known: retired, salaried"),
    ({"employment": ["salaried"]}, "employment", "must be text; got a list"),
])
def test_each_bad_value_is_named(change, field, words) -> None:  # noqa: ANN001
    err = refused(SCHEMA.check, [GOOD, {**GOOD, **change}])
    assert (err.status, err.field) == (422, field)
    assert err.message.startswith("record 1: ") and words in err.message


def test_missing_and_extra_fields_are_named() -> None:
    missing = {k: v for k, v in GOOD.items() if k not in ("age", "joint")}
    err = refused(SCHEMA.check, [missing])
    assert (err.status, err.field) == (422, "age")
    assert err.message == "record 0: field 'age' is missing (and 1 more)."
    err = refused(SCHEMA.check, [{**GOOD, "income": 1, "zzz": 2}])
    assert err.field == "income" and "is not an input of this model" in err.message


@pytest.mark.parametrize(("body", "status", "words"), [
    (b'{"records": [{"age": NaN}]}', 400, "NaN, which JSON does not allow"),
    (b'{"records": [{"age": -Infinity}]}', 400, "-Infinity"),
    (b'{"records": [', 400, "not valid JSON"),
    (b'\xff\xfe{\x00}\x00', 400, "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "nests deeper than 16"),
    (b'{"a": ' * 20 + b"1" + b"}" * 20, 400, "nests deeper than 16"),
])
def test_malformed_bodies(body, status, words) -> None:  # noqa: ANN001
    err = refused(parse_json, body)
    assert err.status == status and words in err.message


def test_many_numeric_records_are_checked_in_bulk_with_the_same_answers_and_messages() -> None:
    schema = InputSchema.from_list([{"name": f"f{i}", "kind": "number"} for i in range(5)])
    records = [{f"f{i}": (r * 5 + i if i % 2 else (r * 5 + i) / 7) for i in range(5)}
               for r in range(100)]
    rows = schema.check(records)
    assert rows == [tuple(schema._value(0, f, rec[f.name]) for f in schema.features)
                    for rec in records]
    assert all(type(v) is int for v in rows[3][1::2])  # ints kept as sent
    for bad, words in ((float("inf"), "a finite number"), (True, "must be a number"),
                       (2 ** 63, "within ±2^63"), ("7", "must be a number"),
                       (None, "is null")):
        broken = [dict(r) for r in records]
        broken[57]["f3"] = bad
        err = refused(schema.check, broken)
        assert err.field == "f3" and err.message.startswith("record 57: ") \
            and words in err.message, (bad, err.message)
    big = [dict(r) for r in records]
    big[5]["f0"] = -1e300  # a large finite float is a number
    assert schema.check(big)[5][0] == -1e300


def test_depth_counts_brackets_not_text_inside_strings() -> None:
    at_limit = b"[" * 16 + b"1" + b"]" * 16
    assert parse_json(at_limit) is not None
    assert "nests deeper than 16" in refused(parse_json, b"[" + at_limit + b"]").message
    # brackets and escaped quotes inside strings are text, not nesting
    text = '[[[[{{{{' * 10 + '\\"' + '[[[[' * 10
    body = json.dumps({"records": [{"note": text, "age": 1}] * 200}).encode()
    assert parse_json(body)["records"][0]["note"] == text
    wide = json.dumps({"records": [{"a": [1, [2, [3]]]} for _ in range(500)]}).encode()
    assert len(parse_json(wide)["records"]) == 500


def test_a_literal_too_large_for_a_float_is_refused_by_the_schema() -> None:
    rows = records_from_predict(parse_json(b'{"records": [{"age": 1e400}]}'))
    err = refused(InputSchema.from_list([{"name": "age", "kind": "number"}]).check, rows)
    assert (err.status, err.field) == (422, "age") and "a finite number" in err.message


def test_body_size_is_checked_before_parsing() -> None:
    body = json.dumps({"records": [GOOD] * 20_000}).encode()
    err = refused(parse_json, body, max_bytes=1 << 20)
    assert err.status == 413 and f"{len(body):,} bytes" in err.message
    assert parse_json(json.dumps({"records": [GOOD]}).encode())["records"][0] == GOOD


def test_predict_bodies() -> None:
    assert records_from_predict({"records": [GOOD]}) == [GOOD]
    assert records_from_predict([GOOD, GOOD]) == [GOOD, GOOD]
    assert records_from_predict(GOOD) == [GOOD]
    assert refused(records_from_predict, {"records": []}).status == 422
    assert refused(records_from_predict, {"records": [GOOD], "rows": 1}).field == "rows"
    assert "record 1: a record is a JSON object" in refused(
        records_from_predict, [GOOD, 3]).message
    err = refused(records_from_predict, [GOOD] * 11, max_rows=10)
    assert err.status == 413 and "11 records; the limit is 10" in err.message


def test_open_inference_protocol_v2_bodies() -> None:
    names = ["age", "income"]
    columnar = {"inputs": [
        {"name": "age", "shape": [2], "datatype": "FP64", "data": [30.0, 40.0]},
        {"name": "income", "shape": [2, 1], "datatype": "INT64", "data": [[100], [200]]}]}
    assert records_from_v2(columnar, names) == [{"age": 30.0, "income": 100},
                                                {"age": 40.0, "income": 200}]
    matrix = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32",
                          "data": [[1, 2], [3, 4]]}]}
    assert records_from_v2(matrix, names) == [{"age": 1, "income": 2}, {"age": 3, "income": 4}]
    for body, words in (
            ({"inputs": []}, "needs \"inputs\""),
            ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32",
                          "data": [1, 2, 3]}]}, "takes [rows, 2] with columns age, income"),
            ({"inputs": [{"name": "age", "shape": [1], "datatype": "FLOAT",
                          "data": [1]}]}, "datatype 'FLOAT'"),
            ({"inputs": [{"name": "age", "shape": [2], "datatype": "FP64", "data": [1]}]},
             "shape [rows] or [rows, 1]"),
            ({"inputs": [columnar["inputs"][0], {"name": "income", "shape": [1],
                                                 "datatype": "INT64", "data": [5]}]},
             "different numbers of rows")):
        assert words in refused(records_from_v2, body, names).message
    err = refused(records_from_v2, matrix, names, max_rows=1)
    assert err.status == 413


def test_random_bodies_are_refused_with_an_input_error_only() -> None:
    rnd = random.Random(5)
    alphabet = b'{}[]:,"0123456789.eE-+ NaInfinityrecods\\u\xff'
    for _ in range(3000):
        body = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 60)))
        try:
            parsed = parse_json(body)
            SCHEMA.check(records_from_predict(parsed))
        except InputError as err:
            assert err.status in (400, 413, 422) and err.message
