"""The agent's routing policy: the condition grammar, splits, shadows and document validation."""

from __future__ import annotations

import ast
import copy
import enum
import hashlib
import json
import os
import random
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from core.serving.conditions import MAX_DEPTH, PolicyError, parse_condition
from core.serving.routing import BUCKETS, Route, RoutingPolicy

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("retail-pd@3", "retail-pd@4", "retail-pd@5", "retail-pd@6")
SHA = {n: hashlib.sha256(n.encode()).hexdigest() for n in NAMES}


def document(**top: object) -> dict:
    doc = {
        "format": "charter.routing/1",
        "policy_id": "retail-pd",
        "version": 7,
        "versions": [{"name": n, "sha256": SHA[n]} for n in NAMES],
        "sticky_key": "customer_id",
        "shadows": ["retail-pd@6"],
        "rules": [
            {"name": "senior-ne", "when": 'age > 40 and region == "NE"', "target": "retail-pd@3"},
            {"name": "vip", "when": "is_vip", "target": "retail-pd@5", "shadows": []},
            {"name": "canary", "when": 'region in ["NE", "SW", "W"]',
             "target": [{"version": "retail-pd@3", "weight": 95},
                        {"version": "retail-pd@4", "weight": 5}]},
        ],
        "default": "retail-pd@3",
    }
    doc.update(top)
    return doc


def split_policy(weights: tuple[float, float] = (95, 5), salt: str | None = None
                 ) -> RoutingPolicy:
    rule = {"name": "all", "when": "true",
            "target": [{"version": "retail-pd@3", "weight": weights[0]},
                       {"version": "retail-pd@4", "weight": weights[1]}]}
    extra = {"salt": salt} if salt else {}
    return RoutingPolicy.from_json(document(rules=[rule], shadows=[], **extra))


# ============================================================================ the grammar
R = {"age": 45, "region": "NE", "score": 0.72, "is_vip": False, "name": 'O\'Brien "Jr"',
     "count": 0, "neg": -3, "nothing": None, "customer": {"segment": "mass", "years": 12},
     "tags": ["a"]}

CONDITIONS = [
    ('age > 40 and region == "NE"', R, True),
    ('age > 40 and region == "SW"', R, False),
    ("age >= 45", R, True), ("age > 45", R, False), ("age <= 45", R, True), ("age < 45", R, False),
    ("age == 45", R, True), ("age == 45.0", R, True), ("age != 45", R, False),
    ("40 < age", R, True), ("50 < age", R, False),
    ("score > 0.7", R, True), ("score > 7e-1", R, True), ("score < 72E-2", R, False),
    ("neg == -3", R, True), ("neg < -2.5", R, True), ("count == 0", R, True),
    ("region == 'NE'", R, True), ('region != "NE"', R, False), ('region < "NF"', R, True),
    ('name == "O\'Brien \\"Jr\\""', R, True), ("name == 'O\\'Brien \"Jr\"'", R, True),
    ('"\\u004eE" == region', R, True), ('"a\\tb" == "a\\u0009b"', R, True),
    ('region in ["NE", "SW"]', R, True), ('region in ["SW"]', R, False),
    ('region not in ["SW", "W"]', R, True), ('region not in ["NE"]', R, False),
    ("age in [44, 45.0]", R, True), ("age in []", R, False), ("age not in []", R, True),
    ("nothing in [null, 1]", R, True), ("nothing in [1, 2]", R, False),
    ("nothing == null", R, True), ("nothing != null", R, False), ("age != null", R, True),
    ("is_vip", R, False), ("not is_vip", R, True), ("is_vip == false", R, True),
    ("true", R, True), ("false", R, False), ("not false", R, True),
    ('customer.segment == "mass"', R, True), ("customer.years > 10", R, True),
    # precedence: and binds tighter than or; not tighter than and
    ("age > 40 or age < 0 and false", R, True),        # a or (b and c)
    ("(age > 40 or age < 0) and false", R, False),     # (a or b) and c
    ("not age > 40 and true", R, False),               # (not a) and b
    ("not (age > 40 and false)", R, True),
    ("((((age == 45))))", R, True),
    ('region == "SW" or region == "W" or region == "NE"', R, True),
]


@pytest.mark.parametrize(("text", "record", "expected"), CONDITIONS)
def test_condition_table(text: str, record: dict, expected: bool) -> None:
    assert parse_condition(text).matches(record) is expected


def test_a_number_may_not_run_into_a_name() -> None:
    for text, column, token in (("age>40and region=='NE'", 7, "and"), ("x == 1.5.3", 9, "."),
                                ("x > 3e", 6, "e"), ("x > 40_000", 7, "_000")):
        with pytest.raises(PolicyError, match=f"column {column}: .* runs into") as caught:
            parse_condition(text)
        assert caught.value.token == token


# Three-valued: a missing field or a type mismatch is UNKNOWN (None); a rule needs TRUE.
THREE_VALUED = [
    ("age > 40", {}, None),                      # missing field
    ("not (age > 40)", {}, None),                # not UNKNOWN is UNKNOWN: still no match
    ("age != 40", {}, None),
    ("age == null", {}, None),                   # missing is not null
    ('region not in ["NE"]', {}, None),
    ('region == "NE" or age > 40', {"age": 50}, True),    # or: TRUE wins
    ('region == "NE" and age > 40', {"age": 30}, False),  # and: FALSE wins
    ('region == "NE" and age > 40', {"age": 50}, None),
    ('age > 3', {"age": "abc"}, None),           # "abc" > 3 does not compare
    ('age == "45"', {"age": 45}, None),
    ("age > 3", {"age": True}, None),            # a boolean is not a number
    ("flag == 1", {"flag": True}, None),
    ("flag > false", {"flag": True}, None),      # booleans only compare with == and !=
    ("age > 3", {"age": None}, None),
    ("age > 3", {"age": float("nan")}, None),
    ("age == age", {"age": float("nan")}, None),
    ("age > 3", {"age": [5]}, None),
    ("age > 3", {"age": {"v": 5}}, None),
    ("age in [1, 2]", {"age": "1"}, None),
    ("age not in [1, 2]", {"age": "1"}, None),
    ("is_vip", {"is_vip": "yes"}, None),
    ("customer.segment == 'x'", {"customer": "flat"}, None),
    ("customer.segment == 'x'", {"customer": {}}, None),
    ("age > 3", {"age": float("inf")}, True),
    ("age > 3", {"age": 10**400}, True),
    ("age == 2", {"age": Fraction(4, 2)}, True),   # any real number compares as a number
    ("age == 2.5", {"age": Decimal("2.5")}, None),  # Decimal is not a numbers.Real
    ("flag == true", {"flag": None}, False),     # null equals only null...
    ("flag != true", {"flag": None}, True),      # ...so it is not equal to true
    ("flag == true", {"flag": 1}, None),
    ("flag != false", {"flag": "no"}, None),
    ("x == null", {"x": 0}, False),
    ("x != null", {"x": [1]}, True),
    ("x in [true]", {"x": True}, True),
    ("x in [true]", {"x": 1}, None),
    ("x in [1, null]", {"x": True}, None),
    ("x not in ['a']", {"x": 1}, None),
    ("x not in ['a']", {"x": None}, True),
    ("x in [1.5]", {"x": float("nan")}, None),
    ("age > income", {"age": 5, "income": 4}, True),
    ("age > income", {"age": 5, "income": "4"}, None),
]


@pytest.mark.parametrize(("text", "record", "expected"), THREE_VALUED)
def test_missing_fields_and_type_mismatches_are_unknown(text: str, record: dict,
                                                        expected: bool | None) -> None:
    condition = parse_condition(text)
    assert condition.evaluate(record) is expected
    assert condition.matches(record) is (expected is True)


def test_condition_reports_the_fields_it_reads() -> None:
    condition = parse_condition('age > 40 and (region == "NE" or customer.segment in ["a"])')
    assert condition.fields == {"age", "region", "customer.segment"}


# ============================================================================ errors
BAD = [  # (condition, column, offending token, words in the message)
    ("age > ", 7, "", "expected a field or a value after '>'"),
    ("age > 40)", 9, ")", "no '(' is open"),
    ("((age > 40)", 12, "", "expected ')' to close the '(' at column 1"),
    ("age = 40", 5, "=", "'=' is not an operator"),
    ("age => 40", 5, "=", "'=' is not an operator"),
    ("!flag", 1, "!", "use 'not'"),
    ("age > 40 && x", 10, "&", "use 'and'"),
    ("age > 40 || x", 10, "|", "use 'or'"),
    ("age 40", 5, "40", "expected a comparison"),
    ("1 < age < 3", 9, "<", "comparisons do not chain"),
    ('region == "NE', 11, '"NE', "is not closed"),
    ("region == 'NE\\'", 11, "'NE\\'", "is not closed"),
    ('region == "N\\qE"', 13, "\\q", "unknown escape"),
    ('region == "\\u12"', 12, "\\u", "unknown escape"),
    ('x in [1, "a"]', 10, '"a"', "a list mixes number and string"),
    ("x in [1,]", 9, "]", "expected a number, a string"),
    ("x in [y]", 7, "y", "expected a number, a string"),
    ("x in 1", 6, "1", "expected '['"),
    ("x == [1]", 6, "[", "a list may only follow 'in'"),
    ("x in [1 2]", 9, "2", "expected ',' or ']'"),
    ("40", 1, "40", "a value alone is not a condition"),
    ("age > 40 and", 13, "", "expected a condition"),
    ("and age > 40", 1, "and", "expected a condition"),
    ("age > 40 region == 1", 10, "region", "expected 'and', 'or'"),
    ("Age > 40 AND x", 10, "AND", "keywords are lower case"),
    ("x == True", 6, "True", "write 'true'"),
    ("x == None", 6, "None", "write 'null'"),
    ("x == 1e999", 6, "1e999", "is out of range"),
    ("- 3 < x", 1, "-", "'-' must be followed by a number"),
    ("age + 1 > 3", 5, "+", "arithmetic is not supported"),
    ("région == 1", 2, "é", "unexpected character"),
    ("", 1, "", "the condition is empty"),
    ("   ", 1, "", "the condition is empty"),
]


@pytest.mark.parametrize(("text", "column", "token", "words"), BAD)
def test_bad_conditions_say_what_and_where(text: str, column: int, token: str,
                                           words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_condition(text)
    err = caught.value
    assert (err.column, err.token) == (column, token)
    assert str(err).startswith(f"column {column}: ")
    assert words in str(err)
    if token:
        assert repr(token) in str(err) or token in str(err)


INJECTIONS = [
    "__import__('os').system('id')", "().__class__", "().__class__.__bases__[0]",
    "x.__class__ == 1", "lambda: 1", "lambda x: x", "open('/etc/passwd')", "exec('1')",
    "eval('1+1')", "compile('1', 'x', 'eval')", "a; b", "age > 40; import os",
    "x == 1 if y else 2", "[x for x in y]", "{'a': 1}", "x.y()", "x[0] == 1",
    "globals()", "print(1)", "`id`", "x == f'{y}'", "x == b'1'", "a@b", "x == 1 # comment",
    "x == 1\nimport os", "\\x41 == 1",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_code_is_refused_at_parse_time(text: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_condition(text)
    assert caught.value.column is not None and caught.value.column >= 1


def _random_condition(rng: random.Random, depth: int = 0) -> str:
    """A random condition from the grammar (often valid), for the fuzz test to damage."""
    fields = ["a", "age", "x.y", "_z9"]
    literals = ["1", "-2.5", "3e2", '"s"', "'t'", '"\\n"', "'it\\'s'", "true", "null"]
    roll = rng.random()
    if depth < 4 and roll < 0.3:
        joiner = rng.choice([" and ", " or "])
        return joiner.join(_random_condition(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    if depth < 4 and roll < 0.4:
        return f"not ({_random_condition(rng, depth + 1)})"
    if roll < 0.55:
        items = ", ".join(rng.choice(literals[:2]) for _ in range(rng.randint(0, 3)))
        return f"{rng.choice(fields)} {rng.choice(['in', 'not in'])} [{items}]"
    operand = rng.choice(fields + literals)
    return f"{operand} {rng.choice(['==', '!=', '<', '<=', '>', '>='])} " \
           f"{rng.choice(fields + literals)}"


def test_fuzz_parse_either_succeeds_or_raises_policy_error() -> None:
    rng = random.Random(20240611)
    alphabet = "ab_xyz019.-+eE\"'\\()[],=!<> \tnotandrulf;:@&|"
    records = [{}, {"a": 1, "age": 50, "x": {"y": "s"}, "_z9": True},
               {"a": "s", "age": None, "x": 3, "_z9": [1]}]
    parsed = refused = 0
    for i in range(5000):
        if i % 2:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        else:
            chars = list(_random_condition(rng))
            for _ in range(rng.choice([0, 0, 1, 2])):  # damage some of the valid ones
                at = rng.randrange(len(chars) + 1)
                if rng.random() < 0.5 and at < len(chars):
                    del chars[at]
                else:
                    chars.insert(at, rng.choice(alphabet))
            text = "".join(chars)
        try:
            condition = parse_condition(text)
        except PolicyError as exc:
            assert exc.column is None or 1 <= exc.column <= len(text) + 1
            refused += 1
            continue
        parsed += 1
        for record in records:
            assert condition.evaluate(record) in (True, False, None)
    assert parsed > 1000 and refused > 2500  # both paths really exercised


def test_nesting_and_length_are_bounded_without_recursion_error() -> None:
    ok = "(" * MAX_DEPTH + "a > 1" + ")" * MAX_DEPTH
    assert parse_condition(ok).matches({"a": 2})
    with pytest.raises(PolicyError, match=f"nested deeper than {MAX_DEPTH}") as caught:
        parse_condition("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert caught.value.column == MAX_DEPTH + 1
    with pytest.raises(PolicyError, match="nested deeper"):
        parse_condition("not " * (MAX_DEPTH + 1) + "a")
    with pytest.raises(PolicyError, match="limit is 4000"):
        parse_condition("(" * 10_000 + "a" + ")" * 10_000)
    with pytest.raises(PolicyError, match="nested deeper"):
        parse_condition("(" * 1000)
    long_or = " or ".join(f"a == {i}" for i in range(300))  # flat, long, fine
    assert parse_condition(long_or).matches({"a": 299})


# ============================================================================ splits
def test_a_95_5_split_is_within_half_a_point_over_100000_keys() -> None:
    policy = split_policy()
    canary = sum(policy.route({"customer_id": f"C-{i}"}, "r").live == "retail-pd@4"
                 for i in range(100_000))
    assert abs(canary / 100_000 - 0.05) <= 0.005


def test_the_same_key_always_gets_the_same_version() -> None:
    policy = split_policy()
    first = {k: policy.route({"customer_id": k}, f"req-{k}") for k in range(2000)}
    again = split_policy()  # a fresh policy object, as after a restart
    for k, route in first.items():
        later = again.route({"customer_id": k, "age": 3}, "another-request")
        assert (later.live, later.bucket, later.sticky) == (route.live, route.bucket, "key")
    assert {r.live for r in first.values()} == {"retail-pd@3", "retail-pd@4"}


def test_bucket_is_the_documented_sha256_and_survives_a_new_process() -> None:
    policy = split_policy()
    digest = hashlib.sha256(b"retail-pd\0key\0C-1001").digest()
    assert policy.route({"customer_id": "C-1001"}, "r").bucket == \
        int.from_bytes(digest[:8], "big") % BUCKETS
    code = ("import json, sys; sys.path.insert(0, %r)\n"
            "from tests.serving.test_routing import split_policy\n"
            "p = split_policy()\n"
            "print(json.dumps([p.route({'customer_id': f'C-{i}'}, 'r').bucket"
            " for i in range(50)]))" % str(ROOT))
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env, check=True).stdout
    assert json.loads(out) == [policy.route({"customer_id": f"C-{i}"}, "r").bucket
                               for i in range(50)]


def test_another_salt_reshuffles_customers() -> None:
    a, b = split_policy(salt="season-1"), split_policy(salt="season-2")
    keys = [f"C-{i}" for i in range(100_000)]
    canary_a = {k for k in keys if a.route({"customer_id": k}, "r").live == "retail-pd@4"}
    canary_b = {k for k in keys if b.route({"customer_id": k}, "r").live == "retail-pd@4"}
    assert 0.045 < len(canary_a) / len(keys) < 0.055
    # independent assignments: the two canaries share about 5% of their customers, not all
    assert len(canary_a & canary_b) / len(canary_a) < 0.1


def test_growing_the_canary_keeps_its_customers() -> None:
    five, ten = split_policy((95, 5)), split_policy((90, 10))
    keys = range(20_000)
    at_five = {k for k in keys if five.route({"customer_id": k}, "r").live == "retail-pd@4"}
    at_ten = {k for k in keys if ten.route({"customer_id": k}, "r").live == "retail-pd@4"}
    assert at_five < at_ten
    assert 0.09 < len(at_ten) / 20_000 < 0.11


def test_weights_with_decimals_split_in_hundredths() -> None:
    policy = split_policy((99.5, 0.5))
    canary = sum(policy.route({"customer_id": i}, "r").live == "retail-pd@4"
                 for i in range(100_000))
    assert 400 <= canary <= 600
    assert '"weight":0.5' in policy.canonical_json()


def test_sticky_values_and_the_request_id_fallback() -> None:
    policy = split_policy()
    assert policy.route({"customer_id": 123}, "r1").bucket == \
        policy.route({"customer_id": "123"}, "r2").bucket
    for record in ({}, {"customer_id": None}, {"customer_id": ""}, {"customer_id": [1]},
                   {"customer_id": 1.5}, {"customer_id": True}):
        route = policy.route(record, "req-77")
        assert route.sticky == "request_id"
        digest = hashlib.sha256(b"retail-pd\0request\0req-77").digest()
        assert route.bucket == int.from_bytes(digest[:8], "big") % BUCKETS
    canary = sum(policy.route({}, f"req-{i}").live == "retail-pd@4" for i in range(20_000))
    assert 0.04 < canary / 20_000 < 0.06  # request ids spread like keys do


# ============================================================================ routes, shadows
def test_routes_name_the_rule_and_carry_shadows() -> None:
    policy = RoutingPolicy.from_json(json.dumps(document()))
    assert policy.route({"age": 50, "region": "NE"}, "r") == \
        Route("retail-pd@3", ("retail-pd@6",), "senior-ne", 0)
    assert policy.route({"age": 30, "is_vip": True}, "r") == Route("retail-pd@5", (), "vip", 1)
    split = policy.route({"age": 30, "region": "SW", "customer_id": "C-9"}, "r")
    assert (split.rule, split.rule_index, split.shadows, split.sticky) == \
        ("canary", 2, ("retail-pd@6",), "key")
    assert split.live in ("retail-pd@3", "retail-pd@4") and 0 <= split.bucket < BUCKETS
    assert policy.route({"region": "N"}, "r") == \
        Route("retail-pd@3", ("retail-pd@6",), "default", None)


def test_shadows_never_equal_the_live_version_and_routing_never_raises() -> None:
    policy = RoutingPolicy.from_json(document())
    rng = random.Random(7)
    Colour = enum.IntEnum("Colour", "RED GREEN")
    values = [None, True, 41, 40.5, float("nan"), float("-inf"), "NE", "SW", "", [1], {"a": 1},
              object(), b"NE", 10**500, Fraction(81, 2), Decimal("NaN"), Colour.GREEN, "\ud800"]
    seen = set()
    for i in range(5000):
        record = {k: rng.choice(values) for k in ("age", "region", "is_vip", "customer_id")
                  if rng.random() < 0.8}
        route = policy.route(record, f"req-{i}")
        assert route.live not in route.shadows
        assert route.live in policy.versions()
        seen.add(route.rule)
    assert seen == {"senior-ne", "vip", "canary", "default"}


# ============================================================================ the document
def _set(path: str, value: object):
    def apply(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is KeyError:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return apply


BAD_DOCUMENTS = [
    (_set("rules.2.target.0.weight", 85), "rules[2] ('canary'): split weights sum to 90, not 100"),
    (_set("rules.2.target.0.weight", 95.5), "rules[2] ('canary'): split weights sum to 100.5"),
    (_set("rules.0.target", "retail-pd@9"),
     "rules[0] ('senior-ne'): target 'retail-pd@9' is not in versions"),
    (_set("rules.2.target.1.version", "retail-pd@9"),
     "rules[2] ('canary'): target[1]: version 'retail-pd@9' is not in versions"),
    (_set("rules.2.target.1.version", "retail-pd@3"),
     "rules[2] ('canary'): target[1]: version 'retail-pd@3' appears twice in the split"),
    (_set("rules.2.target.1.weight", 0), "target[1]: weight must be a percentage greater than 0"),
    (_set("rules.2.target.1.weight", -5), "target[1]: weight must be a percentage greater"),
    (_set("rules.2.target.1.weight", 4.999), "with at most two decimals, found 4.999"),
    (_set("rules.2.target.1.weight", "5"), "target[1]: weight must be a percentage"),
    (_set("rules.2.target.1.weight", True), "target[1]: weight must be a percentage"),
    (_set("rules.2.target", [{"version": "retail-pd@3", "weight": 100}]),
     "rules[2] ('canary'): a split needs at least two versions"),
    (_set("rules.1.name", "senior-ne"), "rules[1] ('senior-ne'): name already used by rules[0]"),
    (_set("rules.1.name", "default"), "rules[1] ('default'): the name 'default' is reserved"),
    (_set("rules.1.name", ""), "rules[1]: name is required"),
    (_set("rules", KeyError), "rules: required"),
    (_set("rules.0.shadows", ["retail-pd@3"]),
     "rules[0] ('senior-ne'): 'retail-pd@3' is a live target and also in its shadows"),
    (_set("shadows", ["retail-pd@4"]),
     "rules[2] ('canary'): 'retail-pd@4' is a live target and also in the policy's shadows"),
    (_set("shadows", ["retail-pd@3"]), "shadows: 'retail-pd@3' is also the default version"),
    (_set("shadows", ["retail-pd@9"]), "shadows: 'retail-pd@9' is not in versions"),
    (_set("rules.1.shadows", ["retail-pd@6", "retail-pd@6"]),
     "rules[1] ('vip'): shadows: 'retail-pd@6' is listed twice"),
    (_set("default", KeyError), "default: required"),
    (_set("default", "retail-pd@9"), "default: 'retail-pd@9' is not in versions"),
    (_set("sticky_key", KeyError),
     "rules[2] ('canary'): a split needs a sticky_key, in the rule or at the top"),
    (_set("rules.0.sticky_key", "customer_id"),
     "rules[0] ('senior-ne'): sticky_key is only used by a split target"),
    (_set("rules.2.sticky_key", "customer id"), "rules[2] ('canary'): sticky_key: must be a field"),
    (_set("rules.0.when", "age > 40)"),
     "rules[0] ('senior-ne'): when: column 9: no '(' is open to close, found ')'"),
    (_set("rules.0.when", KeyError), "rules[0] ('senior-ne'): 'when' is required"),
    (_set("rules.0.when", 40), "rules[0] ('senior-ne'): when: a condition must be a string"),
    (_set("rules.0.target", KeyError), "rules[0] ('senior-ne'): target is required"),
    (_set("rules.0.target_version", "retail-pd@3"),
     "rules[0] ('senior-ne'): unknown field 'target_version'"),
    (_set("rules.0", "senior-ne"), "rules[0]: must be an object"),
    (_set("shadow", ["retail-pd@6"]), "policy: unknown field 'shadow'"),
    (_set("format", "charter.routing/2"), "format: expected 'charter.routing/1'"),
    (_set("policy_id", ""), "policy_id: required"),
    (_set("version", 0), "version: must be a positive integer, found 0"),
    (_set("version", "7"), "version: must be a positive integer, found '7'"),
    (_set("version", True), "version: must be a positive integer, found True"),
    (_set("salt", ""), "salt: must be a non-empty string"),
    (_set("versions", []), "versions: required, a non-empty list"),
    (_set("versions.1.sha256", SHA["retail-pd@4"].upper()),
     "versions[1] ('retail-pd@4'): sha256 must be 64 lowercase hex digits"),
    (_set("versions.1.name", "retail-pd@3"), "versions[1]: 'retail-pd@3' is listed twice"),
    (_set("versions.1.name", "retail pd v4"), "versions[1]: name must look like 'model@3'"),
    (_set("versions.1.size", 3), "versions[1]: unknown field 'size'"),
]


@pytest.mark.parametrize(("change", "message"), BAD_DOCUMENTS)
def test_each_bad_document_gets_its_message(change, message: str) -> None:  # noqa: ANN001
    doc = copy.deepcopy(document())
    change(doc)
    with pytest.raises(PolicyError) as caught:
        RoutingPolicy.from_json(doc)
    assert message in str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ('{"format": 1, "format": 2}', "policy: key 'format' appears twice in one object"),
    ('{"version": NaN}', "policy: NaN is not a JSON number"),
    ('{"rules": [', "policy: not valid JSON: Expecting value: line 1 column 12"),
    ("[1, 2]", "policy: the document must be a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "policy: not valid JSON"),
    (b"\xff{}", "policy: not valid JSON"),
])
def test_bad_json_text(text: str | bytes, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        RoutingPolicy.from_json(text)
    assert message in str(caught.value)


def test_the_good_document_is_accepted_and_condition_errors_keep_their_column() -> None:
    policy = RoutingPolicy.from_json(document())
    assert (policy.policy_id, policy.version, policy.salt, policy.default) == \
        ("retail-pd", 7, "retail-pd", "retail-pd@3")
    assert policy.versions() == SHA
    assert [r.name for r in policy.rules] == ["senior-ne", "vip", "canary"]
    bad = document()
    bad["rules"][1]["when"] = "is_vip == 1 or f(x)"
    with pytest.raises(PolicyError) as caught:
        RoutingPolicy.from_json(bad)
    assert (caught.value.column, caught.value.token) == (17, "(")


def test_canonical_json_and_its_hash() -> None:
    policy = RoutingPolicy.from_json(document())
    canonical = policy.canonical_json()
    assert canonical.startswith('{"default":"retail-pd@3","format":"charter.routing/1",')
    assert policy.sha256 == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    # key order, whitespace and 95 versus 95.0 do not change what is signed
    shuffled = dict(reversed(list(document().items())))
    shuffled["rules"][2]["target"][0]["weight"] = 95.0
    assert RoutingPolicy.from_json(json.dumps(shuffled, indent=4)).sha256 == policy.sha256
    assert RoutingPolicy.from_json(canonical).canonical_json() == canonical
    # any change of meaning does
    changed = document()
    changed["rules"][0]["when"] = 'age > 41 and region == "NE"'
    assert RoutingPolicy.from_json(changed).sha256 != policy.sha256
    assert RoutingPolicy.from_json(document(version=8)).sha256 != policy.sha256


def test_routing_modules_import_only_the_standard_library() -> None:
    for name in ("routing.py", "conditions.py", "condition_syntax.py"):
        tree = ast.parse((ROOT / "core" / "serving" / name).read_text(encoding="utf-8"))
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
        assert imported - {"__future__"} <= sys.stdlib_module_names, name


def test_a_policy_without_rules_sends_everything_to_the_default() -> None:
    doc = document(rules=[], shadows=[])
    policy = RoutingPolicy.from_json(doc)
    route = policy.route({"age": 50, "region": "NE"}, "r-1")
    assert (route.live, route.rule, route.rule_index, route.shadows) == (
        doc["default"], "default", None, ())


def test_the_policy_names_the_request_fields_it_reads() -> None:
    policy = RoutingPolicy.from_json(document())
    # conditions' fields, and the sticky key the split rule inherits from the policy
    assert policy.request_fields == {"age", "region", "is_vip", "customer_id"}
    nested = document(rules=[{"name": "r", "when": "customer.years > 2",
                              "target": "retail-pd@3"}], sticky_key=None, shadows=[])
    del nested["sticky_key"]
    assert RoutingPolicy.from_json(nested).request_fields == {"customer"}
    assert split_policy().request_fields == {"customer_id"}
    # the policy's sticky key stays a request field when no rule splits (a canary at 100%)
    assert RoutingPolicy.from_json(document(rules=[], shadows=[])).request_fields == {
        "customer_id"}
