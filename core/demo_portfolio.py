"""The demo store's portfolio: real models trained when the demo store is made.

The data ship with scikit-learn (its bundled breast-cancer, diabetes and wine data sets) or are
synthetic (core.demo_credit), so the demo needs no network. Models come in three formats (skops,
ONNX, an MLflow folder), some with two versions, each trained on its training split only, with
holdout data, lineage and a reference profile; one model is retired and some inventory records
are left incomplete so the completeness check has something to show. Every version is evaluated
and the documentation PDFs are generated. Everything goes through the same services a data
scientist uses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.entities import Principal
from core.registry.artifact_store import ArtifactStore
from core.services.importer import ImportRequest, ImportService
from core.services.inventory import InventoryService
from core.store.uow import Store

SCREENING = {"purpose": "Rank screening cases for review (demo on scikit-learn's breast-cancer "
             "data)", "intended_use": "Prioritise manual review queues",
             "restrictions": "Demo only; not for any real decision",
             "products": "Demo", "methodology": "Logistic regression, then gradient boosting",
             "business_owner": "Demo Risk Office", "developer": "dana", "risk_tier": 1,
             "data_classification": "internal", "uses_personal_data": "no",
             "source": "in_house", "status": "in_use"}
DIABETES = {"purpose": "Estimate disease progression one year ahead (demo regression)",
            "business_owner": "Demo Analytics", "developer": "dana", "risk_tier": 2,
            "source": "in_house"}
WINE = {"purpose": "Classify wine cultivars (demo, MLflow format)", "risk_tier": 3,
        "business_owner": "Demo Operations", "developer": "dana",
        "data_classification": "public", "uses_personal_data": "no", "source": "vendor",
        "vendor_name": "Example Vendor Ltd"}


CREDIT = {"purpose": "Estimate the probability that a retail credit applicant defaults within "
          "12 months (demo on synthetic applications)",
          "intended_use": "Rank applications for manual underwriting review; one input to the "
          "credit decision, never the only one",
          "restrictions": "Demo only; synthetic data. Not for adverse-action reasons.",
          "products": "Demo personal loans", "methodology": "Gradient-boosted trees on "
          "application and bureau attributes", "business_owner": "Demo Retail Credit Risk",
          "developer": "dana", "risk_tier": 1, "data_classification": "confidential",
          "uses_personal_data": "yes", "source": "in_house", "status": "in_development",
          "limitations": "Trained on synthetic applications; performance on real applicants "
          "is unknown. Income is self-reported and unverified. Sex and age band are not model "
          "inputs but correlate with income, so outcomes can differ by group.",
          "monitoring_plan": "Monthly: PSI of every input against the training profile "
          "(alert above 0.2), AUC on matured 12-month outcomes (alert below 0.70), approval-"
          "rate ratio by sex and age band (alert below 0.8), p99 latency."}

COLLECTIONS = {"purpose": "Flag existing borrowers at risk of default for early collections "
               "outreach (legacy scorecard; demo on synthetic data)",
               "intended_use": "Order the collections team's outreach list; never a decision "
               "on its own", "restrictions": "Demo only; synthetic data.",
               "products": "Demo personal loans", "methodology": "Logistic regression "
               "scorecard on five financial attributes", "business_owner": "Demo Collections",
               "developer": "dana", "risk_tier": 1, "data_classification": "confidential",
               "uses_personal_data": "yes", "source": "in_house", "status": "in_use",
               "limitations": "Built before Charter; validated outside it. Uses no "
               "behavioural data from the last 90 days.",
               "monitoring_plan": "Quarterly PSI of every input; AUC on matured outcomes."}


def _split(frame, target: str, folder: Path, stem: str) -> list[tuple[Path, str]]:  # noqa: ANN001
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    cut = int(len(shuffled) * 0.7)
    train, holdout = folder / f"{stem}-training.csv", folder / f"{stem}-holdout.csv"
    shuffled.iloc[:cut].to_csv(train, index=False)
    shuffled.iloc[cut:].to_csv(holdout, index=False)
    return [(train, "training"), (holdout, "holdout")]


def _training(datasets: list[tuple[Path, str]], target: str):  # noqa: ANN202
    """The training split, as (inputs, target): models never see their holdout."""
    import pandas as pd

    frame = pd.read_csv(datasets[0][0])
    return frame.drop(columns=[target]), frame[target]


def _evidence(store: Store, scientist: Principal, artifacts: ArtifactStore,
              data_dir: Path) -> None:
    """An evaluation of every version, and documentation PDFs, so the screens show evidence.
    Explanations use small samples and budgets: the demo is made while a newcomer waits."""
    from core.services.documentation import DocumentationService
    from core.services.evaluation import EvaluationRequest, EvaluationService
    from core.validation.evaluate import EvaluationSettings

    quick = {"shap_rows": 300, "explain_budget_s": 10.0, "latency_budget_s": 3.0}
    evaluator = EvaluationService(store, artifacts)
    runs = (("Screening classifier", 1, None, {}), ("Screening classifier", 2, None, {}),
            ("Diabetes progression", 1, data_dir / "diabetes-holdout.csv", {}),
            ("Wine cultivar", 1, None, {}),
            ("Retail credit default", 1, None, {"sensitive": ("sex", "age_band"),
                                                 "favourable_label": 0}),
            ("Collections early warning", 1, None, {"sensitive": ("sex", "age_band"),
                                                     "favourable_label": 0,
                                                     "target": "default",
                                                     "segments": ("employment", "housing",
                                                                  "age")}))
    for name, number, holdout, extra in runs:
        evaluator.evaluate(scientist, EvaluationRequest(
            name, number, holdout, EvaluationSettings(**quick, **extra)))
    docs = DocumentationService(store, artifacts)
    # The retired regression keeps none; the screening baseline gets one for its sign-offs.
    for name, number in (("Retail credit default", 1), ("Screening classifier", 2),
                         ("Screening classifier", 1), ("Wine cultivar", 1),
                         ("Collections early warning", 1)):
        docs.generate(scientist, name, number)


def build_portfolio(store: Store, scientist: Principal, folder: Path) -> int:
    """Train and import the demo models as ``scientist``; returns how many versions exist."""
    import pandas as pd
    import skops.io as sio
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data_dir = folder / "datasets"
    data_dir.mkdir(parents=True, exist_ok=True)
    work = folder / "build"
    work.mkdir(parents=True, exist_ok=True)
    importer = ImportService(store, ArtifactStore(folder / "artifacts"))
    versions = 0

    # 1. Screening: two skops versions on the same data.
    cancer = load_breast_cancer(as_frame=True).frame
    cancer.columns = [c.replace(" ", "_") for c in cancer.columns]
    datasets = _split(cancer, "target", data_dir, "screening")
    x, y = _training(datasets, "target")
    for number, (label, model) in enumerate((
            ("1.0", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))),
            ("2.0", HistGradientBoostingClassifier(max_iter=60, random_state=0))), start=1):
        model.fit(x, y)
        path = work / f"screening-{label}.skops"
        sio.dump(model, path)
        importer.import_version(scientist, ImportRequest(
            model="Screening classifier", artifact=path, datasets=datasets,
            model_fields=SCREENING, label=label, code_reference=f"demo:screening@{number}",
            metrics={"train_accuracy": round(float(model.score(x, y)), 4)}))
        versions += 1

    # 2. Diabetes progression: ONNX.
    from skl2onnx import to_onnx

    diabetes = load_diabetes(as_frame=True).frame
    diabetes_sets = _split(diabetes, "target", data_dir, "diabetes")
    dx, dy = _training(diabetes_sets, "target")
    ridge = Ridge(alpha=1.0).fit(dx.to_numpy(dtype="float32"), dy)
    onnx_path = work / "diabetes.onnx"
    onnx_path.write_bytes(to_onnx(ridge, dx.to_numpy(dtype="float32")[:1]).SerializeToString())
    importer.import_version(scientist, ImportRequest(
        model="Diabetes progression", artifact=onnx_path,
        model_fields=DIABETES, label="1.0", code_reference="demo:diabetes@1",
        metrics={"train_r2": round(float(ridge.score(dx.to_numpy(dtype="float32"), dy)), 4)}))
    versions += 1

    # 3. Wine: an MLflow model folder holding a skops model.
    wine = load_wine(as_frame=True).frame
    wine.columns = [c.replace("/", "_") for c in wine.columns]
    wine_sets = _split(wine, "target", data_dir, "wine")
    wx, wy = _training(wine_sets, "target")
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(wx, wy)
    mlflow_dir = work / "wine-mlflow"
    mlflow_dir.mkdir(exist_ok=True)
    sio.dump(forest, mlflow_dir / "model.skops")
    inputs = json.dumps([{"type": "double", "name": c, "required": True} for c in wx.columns])
    (mlflow_dir / "MLmodel").write_text(
        "artifact_path: model\nflavors:\n  sklearn:\n    pickled_model: model.skops\n"
        "    serialization_format: skops\n    sklearn_version: 1.9.1\n"
        f"signature:\n  inputs: '{inputs}'\n  outputs: '[{{\"type\": \"long\"}}]'\n")
    (mlflow_dir / "requirements.txt").write_text("scikit-learn==1.9.1\nskops==0.16.0\n")
    importer.import_version(scientist, ImportRequest(
        model="Wine cultivar", artifact=mlflow_dir, datasets=wine_sets,
        model_fields=WINE, label="1.0", code_reference="demo:wine@1"))
    versions += 1

    # 4. Retail credit default: the flagship demo, with sensitive features beside the inputs.
    from core import demo_credit

    credit_sets = _split(demo_credit.applications(), demo_credit.TARGET, data_dir, "credit")
    train = pd.read_csv(credit_sets[0][0])
    path = work / "credit-default.skops"
    sio.dump(demo_credit.credit_model(train), path)
    importer.import_version(scientist, ImportRequest(
        model="Retail credit default", artifact=path, datasets=credit_sets, model_fields=CREDIT,
        label="1.0", code_reference="demo:credit@1"))
    versions += 1

    # 5. Collections early warning: a legacy scorecard in use, validated before Charter (the
    # workflow part records that validation; its revalidation is overdue).
    path = work / "collections-scorecard.skops"
    sio.dump(demo_credit.scorecard_model(train), path)
    importer.import_version(scientist, ImportRequest(
        model="Collections early warning", artifact=path, datasets=credit_sets,
        model_fields=COLLECTIONS, label="3.2", code_reference="demo:collections@3.2"))
    versions += 1

    _evidence(store, scientist, importer.artifacts, data_dir)

    # 6. A retired model: retired models stay in the inventory and in searches.
    InventoryService(store).retire(scientist, "Diabetes progression",
                                   reason="Demo: replaced by a newer approach")
    shutil.rmtree(work, ignore_errors=True)  # the artifact store holds what was imported
    return versions
