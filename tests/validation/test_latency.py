"""Latency profile: sane numbers for a real model, and the time budget holds."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from core.errors import InvalidInput
from core.validation.latency import latency_profile


@pytest.fixture
def rows():
    rng = np.random.default_rng(1)
    return pd.DataFrame(rng.normal(size=(500, 4)), columns=["a", "b", "c", "d"])


def test_profile_of_a_small_sklearn_model(rows):
    model = LogisticRegression().fit(rows, (rows["a"] > 0).astype(int))
    profile = latency_profile(
        lambda frame: model.predict_proba(frame)[:, 1], rows,
        single_runs=50, batch_size=2000, time_budget_s=10,
    )
    single = profile["single_row_ms"]
    assert single["runs"] == 50
    assert 0 < single["p50"] <= single["p95"] <= single["p99"] < 1000
    assert profile["batch"]["runs"] >= 1
    # Vectorised prediction: a batch row costs far less than a single-row call.
    assert profile["batch"]["rows_per_s"] > 1000 / single["p50"]
    assert profile["cut_short"] is False
    assert 0 < profile["elapsed_s"] < 10


def test_time_budget_is_respected(rows):
    def slow(frame):
        time.sleep(0.01)

    started = time.perf_counter()
    profile = latency_profile(slow, rows, single_runs=200, batch_size=10, time_budget_s=0.5)
    took = time.perf_counter() - started
    # Unbounded, the 200 single calls alone would take over 2 s; the margin allows for a loaded
    # CI machine oversleeping, not for the budget being ignored.
    assert took < 1.5
    assert profile["cut_short"] is True
    assert 5 <= profile["single_row_ms"]["runs"] < 200
    assert profile["single_row_ms"]["p50"] >= 10
    assert profile["batch"]["runs"] >= 1


def test_cancel_check_stops_the_run(rows):
    profile = latency_profile(lambda f: None, rows, single_runs=200, should_stop=lambda: True)
    assert profile["cut_short"] is True
    assert profile["single_row_ms"]["runs"] == 0 and profile["single_row_ms"]["p50"] is None
    assert profile["batch"]["rows_per_s"] is None


@pytest.mark.parametrize(
    ("frame", "kwargs"),
    [(pd.DataFrame({"a": []}), {}), (pd.DataFrame({"a": [1.0]}), {"time_budget_s": 0})],
)
def test_bad_settings_are_refused(frame, kwargs):
    with pytest.raises(InvalidInput):
        latency_profile(lambda f: None, frame, **kwargs)
