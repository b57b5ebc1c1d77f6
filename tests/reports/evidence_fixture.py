"""Realistic evaluation records ("charter-evaluation/1") and registry entities for report tests.

Small scikit-learn models are fitted on synthetic credit-style data and evaluated with the real
``core.validation`` metric, segment, latency and gate functions. Explanations and fairness are
computed here by hand in the contract's shape (exact linear SHAP for linear models; group rates
with numpy) so these tests do not depend on ``core.validation.explain``/``fairness``.

Records are built once per process and handed out as deep copies.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from core.entities_registry import Dataset, Model, ModelVersion

CREATED = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
GENERATED_AT = datetime(2026, 11, 23, 14, 30, 5, tzinfo=UTC)
THRESHOLDS = {"min_roc_auc": 0.75, "min_ks": 0.30, "min_macro_f1": 0.80, "min_r2": 0.50,
              "max_dp_difference": 0.10, "min_dp_ratio": 0.80, "max_eo_difference": 0.10,
              "max_p99_latency_ms": 100.0}
LIBRARIES = {"scikit-learn": "1.9.1", "numpy": "2.4.6", "pandas": "3.1.1", "shap": "0.51.0",
             "fairlearn": "0.15.0"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def evidence_sha256(evidence: dict) -> str:
    return hashlib.sha256(json.dumps(evidence, sort_keys=True).encode()).hexdigest()


def _credit_frame(n: int, seed: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(19, 80, n).astype(float),
        "income_k": np.round(rng.lognormal(3.7, 0.5, n), 1),
        "utilisation": np.round(rng.beta(2, 3, n), 3),
        "tenure_years": rng.integers(0, 30, n).astype(float),
        "late_payments": rng.poisson(0.6, n).astype(float),
        "region": rng.choice(["north", "south", "east", "west", "islands"], n,
                             p=[0.3, 0.3, 0.2, 0.17, 0.03]),
        "sex": rng.choice(["female", "male"], n),
    })
    logit = (-1.2 + 2.5 * frame["utilisation"] + 0.6 * frame["late_payments"]
             - 0.02 * (frame["age"] - 45) - 0.01 * frame["income_k"])
    noise = np.where(frame["region"] == "islands", rng.normal(0, 3, n), rng.normal(0, 0.6, n))
    frame["default"] = (logit + noise > 0).astype(int)
    return frame


def _linear_shap(model: Any, frame: Any, features: list[str], rows: list[int],
                 output: str, sample_rows: int) -> dict:
    """Exact SHAP values of a linear model (coefficient x deviation from the mean), in the
    explain() output shape."""
    import numpy as np

    x = frame[features].to_numpy(dtype=float)
    coef = np.ravel(model.coef_)
    mean = x.mean(axis=0)
    intercept = float(np.ravel(model.intercept_)[0])
    base = intercept + float(coef @ mean)
    phi = (x - mean) * coef
    importance = np.abs(phi).mean(axis=0)
    order = np.argsort(-importance)
    local = []
    for r in rows:
        contributions = [{"feature": features[j], "value": float(x[r, j]), "shap": float(phi[r, j])}
                         for j in np.argsort(-np.abs(phi[r]))]
        local.append({"row": r, "prediction": base + float(phi[r].sum()), "base_value": base,
                      "contributions": contributions})
    return {
        "method": "linear", "explainer": "shap.LinearExplainer", "output": output,
        "requested_rows": 2000, "sample_rows": sample_rows, "background_rows": 100,
        "approximate": sample_rows < 2000,
        "approximation_note": (f"Sample cut to {sample_rows} rows to fit the time budget."
                               if sample_rows < 2000 else None),
        "global_importance": [{"feature": features[j], "mean_abs_shap": float(importance[j])}
                              for j in order],
        "local": local, "elapsed_s": 0.42, "shap_version": "0.51.0", "seed": 0,
    }


def _fairness(y: Any, predicted: Any, groups: dict[str, Any], threshold: float) -> dict:
    """Group selection rates, TPR, FPR and the summary differences, as fairness_report()."""
    import numpy as np

    features, worst = {}, {"demographic_parity_difference": 0.0,
                           "demographic_parity_ratio": 1.0, "equalized_odds_difference": 0.0,
                           "four_fifths_passed": True}
    for name, values in groups.items():
        rows = []
        for g in sorted(set(values)):
            m = values == g
            pos, neg = (y[m] == 1), (y[m] == 0)
            rows.append({
                "group": str(g), "count": int(m.sum()),
                "selection_rate": float(predicted[m].mean()),
                "tpr": float(predicted[m][pos].mean()) if pos.any() else None,
                "fpr": float(predicted[m][neg].mean()) if neg.any() else None,
                "accuracy": float((predicted[m] == y[m]).mean()),
                "note": None if pos.any() and neg.any() else "No positives in this group.",
            })
        rates = [r["selection_rate"] for r in rows]
        ref = rows[int(np.argmax(rates))]
        low = rows[int(np.argmin(rates))]
        ratio = min(rates) / max(rates) if max(rates) else 1.0
        tprs = [r["tpr"] for r in rows if r["tpr"] is not None]
        fprs = [r["fpr"] for r in rows if r["fpr"] is not None]
        eo = max(max(tprs) - min(tprs) if tprs else 0.0, max(fprs) - min(fprs) if fprs else 0.0)
        features[name] = {
            "groups": rows, "demographic_parity_difference": max(rates) - min(rates),
            "demographic_parity_ratio": ratio, "equalized_odds_difference": eo,
            "four_fifths": {"passed": ratio >= 0.8, "reference_group": ref["group"],
                            "lowest_group": low["group"], "ratio": ratio},
            "note": None,
        }
        worst["demographic_parity_difference"] = max(worst["demographic_parity_difference"],
                                                     max(rates) - min(rates))
        worst["demographic_parity_ratio"] = min(worst["demographic_parity_ratio"], ratio)
        worst["equalized_odds_difference"] = max(worst["equalized_odds_difference"], eo)
        worst["four_fifths_passed"] = worst["four_fifths_passed"] and ratio >= 0.8
    return {"favourable_label": 0, "threshold": threshold, "features": features, "worst": worst}


def _latency(predict: Any, frame: Any) -> dict:
    from core.validation.latency import latency_profile

    return latency_profile(predict, frame, single_runs=30, batch_size=200, time_budget_s=1.0)


def _record(kind: str, task: str, name: str, model_type: str, holdout: Any, target: str,
            features: list[str], metrics: dict, segments: dict, latency: dict,
            explanations: dict, fairness: dict | None, settings: dict, tier: int) -> dict:
    from core.validation.gates import check_gates

    evidence = {
        "schema": "charter-evaluation/1",
        "model": {"name": name, "version": 3, "label": "2026-Q4 refit",
                  "artifact_sha256": sha(f"artifact of {name}"), "format": "skops",
                  "model_type": model_type, "risk_tier": tier},
        "holdout": {"sha256": sha(f"holdout of {name}"), "name": f"{kind}_holdout_2026q3.parquet",
                    "rows": int(len(holdout)), "target": target, "features": features,
                    "missing_values": {}},
        "task": task, "kind": kind,
        "settings": {"threshold": 0.5, "positive_label": None, "segments": [], "sensitive": [],
                     "seed": 0, "shap_rows": 2000, "time_budget_s": 30.0, **settings},
        "warnings": [], "metrics": metrics, "segments": segments, "latency": latency,
        "explanations": explanations, "fairness": fairness,
        "timings_s": {"predict": 0.012, "metrics": 0.034, "latency": 0.9, "explanations": 0.42,
                      "segments": 0.05, "total": 1.416},
        "library_versions": dict(LIBRARIES),
        "created_at": "2026-11-23T13:00:00Z",
    }
    evidence["gates"] = check_gates(evidence, tier, THRESHOLDS)
    return evidence


@functools.cache
def _binary() -> dict:
    from sklearn.linear_model import LogisticRegression

    from core.validation.metrics import classification_metrics
    from core.validation.segments import segment_metrics, weakest

    train, hold = _credit_frame(3000, 1), _credit_frame(2500, 2)
    features = ["age", "income_k", "utilisation", "tenure_years", "late_payments"]
    model = LogisticRegression(max_iter=500).fit(train[features], train["default"])
    scores = model.predict_proba(hold[features])[:, 1]
    y = hold["default"].to_numpy()
    metrics = classification_metrics(y, scores, threshold=0.5, positive_label=1)
    if "roc_curve" not in metrics:  # older metrics module: add it as the contract says
        from sklearn.metrics import roc_curve

        fpr, tpr, _ = roc_curve(y, scores)
        metrics["roc_curve"] = {"fpr": [float(v) for v in fpr[::max(1, len(fpr) // 200)]],
                                "tpr": [float(v) for v in tpr[::max(1, len(tpr) // 200)]]}
    per_feature = {by: segment_metrics(hold, y, scores, by, task="classification")
                   for by in ("region", "age", "income_k")}
    everything = [e for entries in per_feature.values() for e in entries]
    segments = {"features": per_feature, "weakest": weakest(everything, "roc_auc"),
                "metric": "roc_auc"}
    explanations = _linear_shap(model, hold, features, [0, 7, 42, 99],
                                "log-odds of class 1", 1500)
    predicted = (scores >= 0.5).astype(int)
    fairness = _fairness(y, predicted, {"sex": hold["sex"].to_numpy(),
                                        "region": hold["region"].to_numpy()}, 0.5)
    record = _record("binary", "classification", "Retail PD scorecard",
                     "sklearn.linear_model.LogisticRegression", hold, "default", features,
                     metrics, segments, _latency(model.predict_proba, hold[features]),
                     explanations, fairness,
                     {"positive_label": 1, "segments": ["region", "age", "income_k"],
                      "sensitive": ["sex", "region"]}, tier=1)
    record["warnings"] = ["Inputs with missing values (the model handled them): income_k (12)",
                          "Segment islands has 75 rows; its metrics are noisy."]
    record["holdout"]["missing_values"] = {"income_k": 12}
    return {"evidence": record, "model": model, "features": features}


@functools.cache
def _multiclass() -> dict:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from core.validation import metrics as vm
    from core.validation.segments import segment_metrics, weakest

    frame = _credit_frame(2400, 3)
    score = frame["utilisation"] * 2 + frame["late_payments"] * 0.5
    frame["grade"] = np.select([score < 0.8, score < 1.6], ["A", "B"], "C")
    features = ["age", "income_k", "utilisation", "tenure_years", "late_payments"]
    train, hold = frame.iloc[:1400], frame.iloc[1400:].reset_index(drop=True)
    model = RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0)
    model.fit(train[features], train["grade"])
    probs = model.predict_proba(hold[features])
    y = hold["grade"].to_numpy()
    metrics = vm.multiclass_metrics(y, probs, model.classes_)
    per_feature = {"region": segment_metrics(hold, y, probs, "region", task="multiclass",
                                             classes=model.classes_)}
    segments = {"features": per_feature, "metric": "macro_f1",
                "weakest": weakest(per_feature["region"], "macro_f1")}
    record = _record("multiclass", "classification", "Collections grade classifier",
                     "sklearn.ensemble.RandomForestClassifier", hold, "grade", features, metrics,
                     segments, _latency(model.predict_proba, hold[features]),
                     {"skipped": "The explanation time budget ran out before any row was "
                                 "explained."}, None, {"segments": ["region"]}, tier=2)
    return {"evidence": record, "model": model, "features": features}


@functools.cache
def _regression() -> dict:
    from sklearn.linear_model import Ridge

    from core.validation.metrics import regression_metrics
    from core.validation.segments import segment_metrics, weakest

    frame = _credit_frame(3000, 4)
    frame["loss_eur"] = (1500 * frame["utilisation"] + 40 * frame["late_payments"]
                         + 3 * frame["income_k"] + frame["age"] * 2)
    frame["loss_eur"] += frame["loss_eur"] * 0.2 * (frame.index % 7 == 0)
    features = ["age", "income_k", "utilisation", "tenure_years", "late_payments"]
    train, hold = frame.iloc[:1800], frame.iloc[1800:].reset_index(drop=True)
    model = Ridge(alpha=1.0).fit(train[features], train["loss_eur"])
    predicted = model.predict(hold[features])
    y = hold["loss_eur"].to_numpy()
    metrics = regression_metrics(y, predicted)
    per_feature = {by: segment_metrics(hold, y, predicted, by, task="regression")
                   for by in ("region", "utilisation")}
    everything = [e for entries in per_feature.values() for e in entries]
    segments = {"features": per_feature, "weakest": weakest(everything, "rmse"), "metric": "rmse"}
    explanations = _linear_shap(model, hold, features, [3, 11], "prediction", 1200)
    record = _record("regression", "regression", "Loss given default (LGD) model",
                     "sklearn.linear_model.Ridge", hold, "loss_eur", features, metrics,
                     segments, _latency(model.predict, hold[features]), explanations,
                     {"skipped": "Fairness is measured for binary classifiers (a favourable "
                                 "decision); this model is regression."},
                     {"segments": ["region", "utilisation"], "sensitive": ["sex"]}, tier=2)
    return {"evidence": record, "model": model, "features": features}


BUILDERS = {"binary": _binary, "multiclass": _multiclass, "regression": _regression}


def evidence(kind: str) -> dict:
    """A fresh deep copy of the evaluation record of ``kind``."""
    return copy.deepcopy(BUILDERS[kind]()["evidence"])


def make_model(name: str = "Retail PD scorecard", **changes: Any) -> Model:
    model = Model(
        id=7, name=name,
        purpose="Estimate the 12-month probability of default of retail credit-card applicants.",
        intended_use="Application decisioning for unsecured retail credit up to €25,000; "
                     "feeds the credit policy cut-off and risk-based pricing.",
        restrictions="Not for small-business lending, collections or limit increases; not for "
                     "applicants under 18.",
        products="Classic and Gold credit cards (UK and IE)",
        methodology="Logistic regression on bureau and application variables",
        business_owner="Head of Retail Credit Risk (J. Okafor)",
        developer="Retail Modelling Team (A. Singh)", risk_tier=1,
        data_classification="confidential", uses_personal_data=True, source="in_house",
        vendor_name="", status="in_development", created_at=CREATED, created_by="asingh",
        updated_at=CREATED, retired_at=None, version_count=3, latest_version=3)
    return replace(model, **changes)


def _schema(features: list[str], frame_kinds: dict[str, str] | None = None) -> list[dict]:
    return [{"name": f, "kind": (frame_kinds or {}).get(f, "number")} for f in features]


def make_version(kind: str = "binary", model: Model | None = None, **changes: Any) -> ModelVersion:
    """The registry version the ``kind`` record was made from, with its datasets attached."""
    from core.registry.formats.sklearn_describe import flat_params

    built = BUILDERS[kind]()
    ev = built["evidence"]
    model = model or make_model(ev["model"]["name"])
    params = flat_params(built["model"], [])
    params["notes_long_value"] = "x" * 400  # a long value the table must truncate
    datasets = tuple(
        Dataset(id=10 + i, sha256=ev["holdout"]["sha256"] if role == "holdout" else
                sha(f"{role} data"),
                name=ev["holdout"]["name"] if role == "holdout" else f"{role}_2026.parquet",
                format="parquet", size=1_000_000 + i, rows=rows, schema=None, info=None,
                has_profile=role != "holdout", stored=True, created_at=CREATED,
                created_by="asingh", role=role)
        for i, (role, rows) in enumerate((("training", 48_210), ("reference", 12_000),
                                          ("holdout", ev["holdout"]["rows"]))))
    version = ModelVersion(
        id=30, model_id=model.id, model_name=model.name, number=3, label="2026-Q4 refit",
        artifact_sha256=ev["model"]["artifact_sha256"], artifact_format="skops",
        artifact_size=18_432,
        description={"model_type": ev["model"]["model_type"], "task": ev["task"],
                     "warnings": ["The model was fitted with column names."]},
        input_schema=_schema(built["features"]) + [
            {"name": "channel", "kind": "category",
             "categories": ["branch", "online", "broker", "phone"] + [f"partner_{i}"
                                                                      for i in range(30)]}],
        output_schema=[{"name": "probability", "kind": "number"}],
        library_versions={"scikit-learn": "1.9.1", "numpy": "2.4.6", "skops": "0.16.0"},
        hyperparameters=params, metrics={"roc_auc": 0.81, "ks": 0.44},
        training_dataset_sha256=sha("training data"),
        code_reference="git@git.bank.internal:risk/pd-scorecard.git@4f1c2ab",
        author="asingh", created_at=CREATED, state="in_validation", datasets=datasets)
    return replace(version, **changes)


FINDINGS = [
    {"id": "F-1", "severity": "high", "title": "Islands region under-represented",
     "status": "open",
     "text": "The islands segment has 75 holdout rows and a markedly lower ROC AUC. The owner "
             "should either exclude the region from the intended use or collect more data."},
    {"id": "F-2", "severity": "low", "title": "Calibration drift above 0.8",
     "status": "answered", "text": "Observed default rate above predicted in the top bin."},
]
SIGNOFFS = [
    {"role": "model owner", "name": "J. Okafor", "decision": "submitted",
     "at": "2026-11-20T09:12:00Z"},
    {"role": "validator", "name": "M. Rossi", "decision": "changes requested",
     "at": datetime(2026, 11, 22, 16, 40, tzinfo=UTC)},
]
