"""Small real models, trained once per session, and their files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def credit_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """A small credit-like table: numbers and one string category, and a 0/1 default label."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=4, random_state=0)
    frame = pd.DataFrame(X, columns=["income", "debt_ratio", "age", "utilisation"])
    frame["housing"] = np.random.RandomState(0).choice(["own", "rent", "mortgage"], len(frame))
    return frame, y


@pytest.fixture(scope="session")
def credit_pipeline(credit_frame):
    """ColumnTransformer(OneHotEncoder on 'housing', StandardScaler on numbers) + LogReg."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, y = credit_frame
    pre = ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore"), ["housing"]),
        ("numbers", StandardScaler(), ["income", "debt_ratio", "age", "utilisation"]),
    ])
    return Pipeline([("pre", pre), ("model", LogisticRegression(C=0.5, max_iter=200))]).fit(
        frame, y)


@pytest.fixture(scope="session")
def regressor():
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import HistGradientBoostingRegressor

    data = load_diabetes(as_frame=True)
    return HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(data.data, data.target)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def pipeline_skops(credit_pipeline, model_dir) -> Path:
    import skops.io as sio

    path = model_dir / "credit.skops"
    sio.dump(credit_pipeline, path)
    return path
