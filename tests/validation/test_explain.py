"""SHAP explanations: explainer by model type, a planted dominant feature, additivity on the
explained scale, the time budget, cancellation and reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from core.errors import Cancelled, InvalidInput
from core.validation.explain import explain
from core.validation.predictor import from_estimator

NUMERIC = ["signal", "x1", "x2", "noise"]


@pytest.fixture(scope="module")
def data():
    """'signal' drives the target; x1 and x2 a little; 'noise' not at all."""
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=NUMERIC)
    frame["city"] = rng.choice(["north", "south", "east"], n)
    logit = 3.0 * frame["signal"] + 0.4 * frame["x1"] - 0.3 * frame["x2"]
    frame["y"] = (logit + rng.normal(0, 0.5, n) > 0).astype(int)
    frame["y3"] = np.digitize(frame["signal"] + rng.normal(0, 0.2, n), [-0.5, 0.5])
    frame["target"] = 5.0 * frame["signal"] + frame["x1"] + rng.normal(0, 0.3, n)
    return frame


def _local_sums(result):
    return [(r["row"], r["base_value"] + sum(c["shap"] for c in r["contributions"]),
             r["prediction"]) for r in result["local"]]


def _check_record(result, features):
    json.dumps(result, allow_nan=False)  # plain JSON, no NaN
    assert set(result) == {
        "method", "explainer", "output", "requested_rows", "sample_rows", "background_rows",
        "approximate", "approximation_note", "global_importance", "local", "elapsed_s",
        "shap_version", "seed"}
    importance = [g["mean_abs_shap"] for g in result["global_importance"]]
    assert importance == sorted(importance, reverse=True)
    assert {g["feature"] for g in result["global_importance"]} == set(features)
    for row in result["local"]:
        shaps = [abs(c["shap"]) for c in row["contributions"]]
        assert shaps == sorted(shaps, reverse=True)
        assert {c["feature"] for c in row["contributions"]} == set(features)


def test_random_forest_uses_tree_shap_on_probabilities(data):
    model = RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0)
    model.fit(data[NUMERIC], data["y"])
    result = explain(from_estimator(model), data, sample_rows=150)
    _check_record(result, NUMERIC)
    assert (result["method"], result["explainer"]) == ("tree", "shap.TreeExplainer")
    assert result["output"] == "probability of class 1"
    assert result["sample_rows"] == 150 and result["approximate"] is False
    assert result["global_importance"][0]["feature"] == "signal"
    assert len(result["local"]) == 3
    proba = model.predict_proba(data[NUMERIC])[:, 1]
    for row, total, prediction in _local_sums(result):
        assert total == pytest.approx(proba[row], abs=1e-6)
        assert prediction == pytest.approx(proba[row], abs=1e-6)
    # the contributions carry the row's own feature values
    first = result["local"][0]
    values = {c["feature"]: c["value"] for c in first["contributions"]}
    assert values["signal"] == pytest.approx(data["signal"].iloc[first["row"]])


def test_gradient_boosting_is_explained_in_log_odds_and_for_the_chosen_class(data):
    model = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0)
    model.fit(data[NUMERIC], data["y"])
    result = explain(from_estimator(model), data, sample_rows=100, positive_label=0)
    assert result["method"] == "tree"
    assert result["output"] == "log-odds of class 0"
    margin = model.decision_function(data[NUMERIC])  # log-odds of class 1
    for row, total, _ in _local_sums(result):
        assert total == pytest.approx(-margin[row], abs=1e-6)


def test_logistic_regression_uses_the_linear_explainer(data):
    model = LogisticRegression().fit(data[NUMERIC], data["y"])
    result = explain(from_estimator(model), data, sample_rows=200, background_rows=50)
    _check_record(result, NUMERIC)
    assert (result["method"], result["explainer"]) == ("linear", "shap.LinearExplainer")
    assert result["output"] == "log-odds of class 1"
    assert result["background_rows"] == 50
    assert result["global_importance"][0]["feature"] == "signal"
    margin = model.decision_function(data[NUMERIC])
    for row, total, _ in _local_sums(result):
        assert total == pytest.approx(margin[row], abs=1e-9)


def test_a_scaled_linear_pipeline_is_explained_by_its_final_estimator(data):
    # A scaler maps each column to one column of the same name: the linear explainer applies.
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data[NUMERIC], data["y"])
    result = explain(from_estimator(model), data, sample_rows=40, background_rows=30)
    _check_record(result, NUMERIC)
    assert result["method"] == "linear" and result["output"] == "log-odds of class 1"
    assert result["global_importance"][0]["feature"] == "signal"
    margin = model.decision_function(data[NUMERIC])
    for row, total, _ in _local_sums(result):
        assert total == pytest.approx(margin[row], abs=1e-9)


def test_a_pipeline_that_mixes_columns_is_explained_model_agnostically(data):
    from sklearn.decomposition import PCA

    model = make_pipeline(StandardScaler(), PCA(), LogisticRegression()).fit(
        data[NUMERIC], data["y"])
    result = explain(from_estimator(model), data, sample_rows=25, background_rows=30)
    _check_record(result, NUMERIC)
    assert (result["method"], result["explainer"]) == ("permutation", "shap.PermutationExplainer")
    assert result["output"] == "probability of class 1"
    assert result["background_rows"] == 30 and result["sample_rows"] == 25
    assert result["global_importance"][0]["feature"] == "signal"
    proba = model.predict_proba(data[NUMERIC])[:, 1]
    for row, total, _ in _local_sums(result):  # permutation SHAP adds up exactly too
        assert total == pytest.approx(proba[row], abs=1e-6)


def test_text_column_with_one_hot_encoder_and_missing_values(data):
    frame = data.copy()
    # the city now decides the outcome; one numeric value is missing
    frame["y"] = ((frame["city"] == "north") ^ (frame["x2"] > 1.5)).astype(int)
    frame.loc[frame.index[0], "x1"] = np.nan
    features = ["city", "x1", "x2"]
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["city"]),
                                (SimpleImputer(), ["x1", "x2"])),
        LogisticRegression(),
    ).fit(frame[features], frame["y"])
    result = explain(from_estimator(model), frame, sample_rows=20, background_rows=20,
                     local_rows=[0, 1])
    _check_record(result, features)
    assert result["method"] == "permutation"
    assert result["global_importance"][0]["feature"] == "city"
    first = result["local"][0]
    assert first["row"] == 0
    values = {c["feature"]: c["value"] for c in first["contributions"]}
    assert values["city"] == frame["city"].iloc[0] and values["x1"] is None
    proba = model.predict_proba(frame[features])[:, 1]
    for row, total, _ in _local_sums(result):
        assert total == pytest.approx(proba[row], abs=1e-6)


def test_regressor_explains_the_prediction(data):
    model = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0)
    model.fit(data[NUMERIC], data["target"])
    result = explain(from_estimator(model), data, sample_rows=100)
    assert (result["method"], result["output"]) == ("tree", "prediction")
    assert result["global_importance"][0]["feature"] == "signal"
    predicted = model.predict(data[NUMERIC])
    for row, total, _ in _local_sums(result):
        assert total == pytest.approx(predicted[row], abs=1e-6)


def test_multiclass_explains_the_predicted_class_or_the_named_one(data):
    model = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0)
    model.fit(data[NUMERIC], data["y3"])
    predictor = from_estimator(model)
    proba = model.predict_proba(data[NUMERIC])
    result = explain(predictor, data, sample_rows=100)
    assert result["output"].startswith("probability of the predicted class")
    assert result["global_importance"][0]["feature"] == "signal"
    for row, total, _ in _local_sums(result):
        assert total == pytest.approx(proba[row].max(), abs=1e-6)
    named = explain(predictor, data, sample_rows=100, positive_label=2)
    assert named["output"] == "probability of class 2"
    for row, total, _ in _local_sums(named):
        assert total == pytest.approx(proba[row, 2], abs=1e-6)


def test_a_tree_model_too_slow_for_exact_shap_falls_back_to_saabas(data):
    """Exact Tree SHAP on deep trees costs ~0.01 s a row here: 2000 rows do not fit in 1 s."""
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=NUMERIC)
    y = (frame["signal"] + rng.normal(0, 1.5, n) > 0).astype(int)  # noisy: trees grow deep
    model = RandomForestClassifier(n_estimators=60, random_state=0, n_jobs=1).fit(frame, y)
    result = explain(from_estimator(model), frame, sample_rows=2000, time_budget_s=1.0)
    assert result["approximate"] is True
    assert "Saabas" in result["approximation_note"]
    assert "budget of 1 s" in result["approximation_note"]
    assert result["sample_rows"] == 2000
    assert result["global_importance"][0]["feature"] == "signal"
    assert result["elapsed_s"] < 5.0
    proba = model.predict_proba(frame)[:, 1]
    for row, total, _ in _local_sums(result):  # Saabas values add up too
        assert total == pytest.approx(proba[row], abs=1e-6)


def test_a_budget_nothing_fits_in_is_refused_with_the_measured_cost(data):
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(data[NUMERIC], data["y"])
    with pytest.raises(InvalidInput, match="do not fit the time budget of 0.0001 s") as info:
        explain(from_estimator(model), data, time_budget_s=1e-4)
    assert "s per row measured" in info.value.message
    assert "Raise the explanation time budget" in info.value.hint


def test_should_stop_cancels_between_chunks(data):
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(data[NUMERIC], data["y"])
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        explain(from_estimator(model), data, should_stop=should_stop)
    assert len(calls) == 3


def test_progress_is_reported_up_to_the_total(data):
    model = LogisticRegression().fit(data[NUMERIC], data["y"])
    seen = []
    explain(from_estimator(model), data, sample_rows=1000, local_rows=[5],
            progress=lambda done, total: seen.append((done, total)))
    assert len(seen) > 2 and seen[-1] == (len(data), len(data))
    assert all(0 < done <= total for done, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_same_seed_same_record_and_another_seed_another_sample(data):
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data[NUMERIC], data["y"])
    predictor = from_estimator(model)
    kwargs = {"sample_rows": 12, "background_rows": 20, "seed": 7}
    first, second = explain(predictor, data, **kwargs), explain(predictor, data, **kwargs)
    first.pop("elapsed_s"), second.pop("elapsed_s")
    assert first == second
    assert first["seed"] == 7
    other = explain(predictor, data, **{**kwargs, "seed": 8})
    assert [r["row"] for r in other["local"]] != [r["row"] for r in first["local"]]


def test_bad_settings_and_inputs_are_refused(data):
    predictor = from_estimator(LogisticRegression().fit(data[NUMERIC], data["y"]))
    with pytest.raises(InvalidInput, match="lacks the model's input column"):
        explain(predictor, data.drop(columns=["x1"]))
    with pytest.raises(InvalidInput, match="outside the holdout"):
        explain(predictor, data, local_rows=[len(data)])
    with pytest.raises(InvalidInput, match="time budget must be positive"):
        explain(predictor, data, time_budget_s=0)
    with pytest.raises(InvalidInput, match="not one of the model's classes"):
        explain(predictor, data, positive_label="yes")


def test_an_ordinal_encoded_tree_pipeline_is_explained_by_its_trees(data):
    # The encoder maps each column to one column of the same name in the same place.
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    features = ["city", *NUMERIC]
    frame = data.assign(y=((data["city"] == "north") | (data["signal"] > 1)).astype(int))
    model = make_pipeline(
        ColumnTransformer([("cat", OrdinalEncoder(), ["city"])], remainder="passthrough",
                          verbose_feature_names_out=False),
        GradientBoostingClassifier(n_estimators=30, random_state=0),
    ).fit(frame[features], frame["y"])
    result = explain(from_estimator(model), frame, sample_rows=60, local_rows=[0])
    _check_record(result, features)
    assert result["method"] == "tree" and result["output"] == "log-odds of class 1"
    assert {g["feature"] for g in result["global_importance"][:2]} == {"city", "signal"}
    first = result["local"][0]
    assert {c["feature"]: c["value"] for c in first["contributions"]}["city"] == frame["city"][0]
    margin = model.decision_function(frame[features])
    for row, total, _ in _local_sums(result):
        assert total == pytest.approx(margin[row], abs=1e-6)
