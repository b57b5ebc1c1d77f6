"""Synthetic retail-credit applications for the demo portfolio.

No real person is in it: every applicant is drawn from a seeded random generator. Default risk
depends on the financial columns; ``sex`` and ``age_band`` are kept beside them (not model
inputs) so fairness can be measured, and a small difference between groups is planted through
income, as it happens in real portfolios, so the fairness section has something to show.
"""

from __future__ import annotations

from typing import Any

# The categorical inputs come first: the pipeline's encoder then maps each input column to one
# column of the same name in the same place, so SHAP's tree explainer can explain the booster.
FEATURES = ("employment", "housing", "age", "income", "debt_to_income", "utilization",
            "history_months", "delinquencies")
SENSITIVE = ("sex", "age_band")
TARGET = "default"


def applications(n: int = 6000, seed: int = 11) -> Any:
    """A DataFrame of ``n`` applications: the model inputs, the sensitive columns and the
    outcome ``default`` (1 = defaulted within a year)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n, p=[0.48, 0.52])
    age = rng.integers(19, 80, n)
    employment = rng.choice(["salaried", "self_employed", "unemployed", "retired"], n,
                            p=[0.62, 0.18, 0.07, 0.13])
    employment = np.where(age >= 67, "retired", employment)
    housing = rng.choice(["own", "mortgage", "rent"], n, p=[0.25, 0.4, 0.35])
    base_income = rng.lognormal(10.6, 0.45, n) * np.where(sex == "female", 0.9, 1.0)
    income = np.round(base_income * np.where(employment == "unemployed", 0.35, 1.0), -2)
    debt_to_income = np.clip(rng.gamma(2.0, 0.12, n), 0, 1.5).round(3)
    utilization = np.clip(rng.beta(2, 3, n) + 0.1 * (debt_to_income > 0.5), 0, 1).round(3)
    history = np.clip((age - 18) * 12 * rng.uniform(0.3, 1.0, n), 0, None).astype(int)
    delinquencies = rng.poisson(0.3 + 1.2 * utilization, n)
    logit = (-3.2 + 3.0 * debt_to_income + 2.4 * utilization + 0.6 * delinquencies
             - 0.8 * np.log(income / 40000) - 0.006 * history / 12
             + np.where(employment == "unemployed", 1.2, 0.0)
             + np.where(housing == "rent", 0.3, 0.0))
    default = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    age_band = pd.cut(age, [18, 25, 40, 60, 120], labels=["18-25", "26-40", "41-60", "61+"])
    return pd.DataFrame({
        "age": age, "income": income, "debt_to_income": debt_to_income,
        "utilization": utilization, "history_months": history, "delinquencies": delinquencies,
        "employment": employment, "housing": housing, "sex": sex,
        "age_band": np.asarray(age_band, dtype=object), TARGET: default})


def credit_model(train: Any) -> Any:
    """A gradient-boosting pipeline (categories ordinal-encoded) fitted on ``train``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = ColumnTransformer(
        [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
          ["employment", "housing"])], remainder="passthrough", verbose_feature_names_out=False)
    model = Pipeline([("encode", encode),
                      ("boost", HistGradientBoostingClassifier(max_iter=80, learning_rate=0.08,
                                                               random_state=0))])
    return model.fit(train[list(FEATURES)], train[TARGET])


# The legacy collections scorecard: a logistic regression on the financial columns only.
SCORECARD_FEATURES = ("income", "debt_to_income", "utilization", "history_months",
                      "delinquencies")


def scorecard_model(train: Any) -> Any:
    """A scaled logistic-regression scorecard fitted on ``train``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return model.fit(train[list(SCORECARD_FEATURES)], train[TARGET])
