"""Reference profiles, checked against numpy and pandas computed independently."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import Cancelled, InvalidInput
from core.registry.profile import (
    PROFILE_FORMAT,
    bucket_index,
    compute_profile,
    load_profile,
    profile_json,
)
from core.tasks import CancelToken

RNG = np.random.default_rng(8)
N = 5000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    income = RNG.lognormal(8, 1, N)
    income[RNG.random(N) < 0.1] = np.nan
    return pd.DataFrame({
        "income": income,
        "age": RNG.integers(18, 90, N),
        "flag": RNG.integers(0, 2, N),
        "constant": np.full(N, 7.5),
        "empty": np.full(N, np.nan),
        "region": pd.Series(RNG.choice(["north", "south", "east", "west", None], N,
                                       p=[0.4, 0.3, 0.2, 0.05, 0.05])),
        "defaulted": RNG.random(N) < 0.2,
    })


@pytest.fixture(scope="module")
def profile(frame: pd.DataFrame) -> dict:
    return compute_profile(frame)


def test_numbers_agree_with_numpy(frame: pd.DataFrame, profile: dict) -> None:
    values = frame["income"].dropna().to_numpy()
    feature = profile["features"]["income"]
    assert feature["kind"] == "number"
    assert (feature["count"], feature["nulls"]) == (values.size, N - values.size)
    assert feature["null_rate"] == pytest.approx(frame["income"].isna().mean())
    assert feature["min"] == values.min() and feature["max"] == values.max()
    assert feature["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert feature["std"] == pytest.approx(values.std(), rel=1e-12)
    expected = np.quantile(values, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    assert list(feature["quantiles"].values()) == pytest.approx(expected, rel=1e-12)
    assert list(feature["quantiles"]) == ["p1", "p5", "p25", "p50", "p75", "p95", "p99"]
    assert feature["percentiles"] == pytest.approx(np.quantile(values, np.linspace(0, 1, 101)))
    deciles = np.quantile(values, np.linspace(0, 1, 11))
    assert feature["edges"] == pytest.approx(deciles, rel=1e-12)
    counts = feature["counts"]
    assert counts[1:-1] == np.histogram(values, bins=np.array(feature["edges"]))[0].tolist()
    assert (counts[0], counts[-1], sum(counts)) == (0, 0, values.size)


def test_integers_keep_whole_bounds_and_ties_collapse_to_increasing_edges(frame: pd.DataFrame,
                                                                          profile: dict) -> None:
    feature = profile["features"]["age"]
    assert feature["kind"] == "integer"
    assert (feature["min"], feature["max"]) == (int(frame["age"].min()), int(frame["age"].max()))
    assert np.all(np.diff(feature["edges"]) > 0)
    assert sum(feature["counts"]) == N


def test_a_two_valued_column_keeps_each_value_in_its_own_bin(frame: pd.DataFrame,
                                                             profile: dict) -> None:
    feature = profile["features"]["flag"]
    ones = int(frame["flag"].sum())
    assert feature["edges"] == [0.0, 0.5, 1.0]
    assert feature["counts"] == [0, N - ones, ones, 0]


def test_constant_and_all_empty_columns_collapse_cleanly(profile: dict) -> None:
    constant = profile["features"]["constant"]
    assert constant["edges"] == [7.5] and constant["counts"] == [0, N, 0]
    assert (constant["min"], constant["max"], constant["std"]) == (7.5, 7.5, 0.0)
    empty = profile["features"]["empty"]
    assert (empty["count"], empty["nulls"], empty["null_rate"]) == (0, N, 1.0)
    assert empty["edges"] == [] and empty["counts"] == [] and empty["mean"] is None


def test_categories_agree_with_pandas_value_counts(frame: pd.DataFrame, profile: dict) -> None:
    feature = profile["features"]["region"]
    expected = frame["region"].value_counts()
    assert feature["kind"] == "category"
    assert feature["frequencies"] == {k: int(v) for k, v in expected.items()}
    assert list(feature["frequencies"]) == list(expected.index)  # most frequent first
    assert feature["cardinality"] == 4 and feature["other"] == 0
    assert feature["null_rate"] == pytest.approx(frame["region"].isna().mean())
    booleans = profile["features"]["defaulted"]
    trues = int(frame["defaulted"].sum())
    assert booleans["kind"] == "boolean"
    assert booleans["frequencies"] == {"false": N - trues, "true": trues}


def test_rare_categories_beyond_the_top_are_folded_into_other() -> None:
    values = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 3 + ["e", "f"] + ["__other__"] * 2
    feature = compute_profile(pd.DataFrame({"c": values}), top=3, kinds={"c": "category"})
    feature = feature["features"]["c"]
    # Ties ("c" and "d") are ordered by value, so the profile does not depend on row order.
    assert feature["frequencies"] == {"a": 5, "b": 4, "c": 3}
    assert (feature["other"], feature["other_values"], feature["cardinality"]) == (7, 4, 7)


def test_kinds_can_be_overridden_for_integer_codes() -> None:
    frame = pd.DataFrame({"grade": [1, 2, 2, 3, 3, 3]})
    feature = compute_profile(frame, kinds={"grade": "category"})["features"]["grade"]
    assert feature["frequencies"] == {"3": 3, "2": 2, "1": 1}
    with pytest.raises(InvalidInput):
        compute_profile(frame, kinds={"grade": "float"})


def test_infinite_values_fall_outside_the_bins() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.inf, -np.inf, np.inf, np.nan]})
    feature = compute_profile(frame)["features"]["x"]
    assert (feature["count"], feature["nulls"], feature["infinite"]) == (6, 1, 3)
    assert (feature["min"], feature["max"], feature["mean"]) == (1.0, 3.0, 2.0)
    assert feature["counts"][0] == 1 and feature["counts"][-1] == 2
    assert sum(feature["counts"]) == 6


def test_bucket_index_bins_new_data_as_the_profile_did(frame: pd.DataFrame,
                                                       profile: dict) -> None:
    for name in ("income", "age", "flag", "constant"):
        feature = profile["features"][name]
        values = frame[name].dropna().to_numpy()
        buckets = np.bincount(bucket_index(feature["edges"], values),
                              minlength=len(feature["counts"]))
        assert buckets.tolist() == feature["counts"], name
    edges = profile["features"]["age"]["edges"]
    assert bucket_index(edges, [edges[0] - 1, edges[-1], edges[-1] + 1]).tolist() == [
        0, len(edges) - 1, len(edges)]


def test_the_profile_is_plain_deterministic_json(frame: pd.DataFrame, profile: dict) -> None:
    text = profile_json(profile)
    assert load_profile(text) == profile
    assert json.loads(text)["format"] == PROFILE_FORMAT
    assert list(profile["features"]) == list(frame.columns)
    again = compute_profile(frame.sample(frac=1.0, random_state=3))
    assert profile_json(again) == text  # row order does not change a byte
    with pytest.raises(InvalidInput, match="charter-profile/1"):
        load_profile(json.dumps({"format": "other/1"}))


def test_progress_counts_columns_and_cancel_stops(frame: pd.DataFrame) -> None:
    seen: list[tuple[int, int]] = []
    compute_profile(frame, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, frame.shape[1]) for i in range(1, frame.shape[1] + 1)]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_profile(frame, cancel=token)
