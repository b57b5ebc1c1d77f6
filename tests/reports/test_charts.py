"""Charts of evaluation records: which apply, that they render, deterministically, on bad data."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from evidence_fixture import evidence
from matplotlib.figure import Figure
from PIL import Image

from core.reports import charts as ch

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def keys(record: dict) -> list[str]:
    return [key for key, _, _ in ch.charts_for(record)]


def test_binary_record_lists_performance_segment_shap_fairness_and_latency_charts_in_order():
    assert keys(evidence("binary")) == [
        "roc", "calibration", "score_distribution", "confusion",
        "segment:region", "segment:age", "segment:income_k",
        "shap_global", "shap_local:0", "shap_local:7", "shap_local:42",  # 3 of 4 rows drawn
        "fairness:sex", "fairness:region", "latency",
    ]


def test_multiclass_record_has_no_binary_charts_and_skipped_parts_give_none():
    # explanations were skipped and no sensitive feature was named (fairness None)
    assert keys(evidence("multiclass")) == ["confusion", "per_class", "segment:region", "latency"]


def test_regression_record_draws_residuals_and_no_fairness_when_skipped():
    assert keys(evidence("regression")) == [
        "residuals", "segment:region", "segment:utilisation", "shap_global", "shap_local:3",
        "shap_local:11", "latency"]


def test_titles_name_the_chart_and_the_feature():
    titles = {key: title for key, title, _ in ch.charts_for(evidence("binary"))}
    assert titles["roc"] == "ROC curve"
    assert titles["segment:region"] == "ROC AUC by region"
    assert titles["fairness:sex"] == "Fairness by sex"
    assert titles["shap_local:7"] == "Local explanation of holdout row 7"


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_every_chart_is_a_figure_that_renders_to_a_png_of_its_fixed_size(kind):
    for key, _, fig in ch.charts_for(evidence(kind)):
        assert isinstance(fig, Figure), key
        png = ch.figure_png(fig, dpi=100)
        assert png.startswith(PNG), key
        width, height = fig.get_size_inches()
        with Image.open(io.BytesIO(png)) as image:
            assert image.size == (round(width * 100), round(height * 100)), key
            # something was drawn: not a blank white canvas
            assert len(image.convert("L").getcolors(maxcolors=100_000)) > 20, key


def test_fresh_figures_render_to_identical_pngs_without_software_or_time_metadata():
    record = evidence("binary")
    first = [ch.figure_png(fig, dpi=60) for _, _, fig in ch.charts_for(record)]
    again = [ch.figure_png(fig, dpi=60) for _, _, fig in ch.charts_for(record)]
    assert first == again
    assert b"matplotlib" not in first[0].lower()
    assert b"tIME" not in first[0]


def test_figure_png_leaves_the_figures_canvas_alone():
    fig = ch.latency_chart(evidence("binary")["latency"])
    canvas = fig.canvas
    ch.figure_png(fig)
    assert fig.canvas is canvas  # a Qt canvas embedding the figure stays attached


def test_missing_values_are_drawn_as_gaps_and_notes_not_errors():
    record = evidence("binary")
    m = record["metrics"]
    cal = m["calibration"]
    cal["mean_predicted"][2:5] = [None, None, None]
    cal["observed_rate"][2:5] = [None, None, None]
    cal["count"][2:5] = [0, 0, 0]
    m["roc_curve"] = {"fpr": [], "tpr": []}
    m["score_distribution"]["positive"] = [0] * len(m["score_distribution"]["positive"])
    region = record["segments"]["features"]["region"]
    region[0]["metrics"], region[0]["note"] = None, "Too few rows to evaluate (12 < 30)."
    region[1]["metrics"]["roc_auc"] = None
    group = record["fairness"]["features"]["sex"]["groups"][0]
    group["tpr"] = group["fpr"] = None
    record["latency"] = {"single_row_ms": {"p50": None, "p95": None, "p99": None,
                                           "mean": None, "runs": 0},
                         "batch": {"batch_size": 1000, "runs": 0, "rows_per_s": None},
                         "time_budget_s": 0.01, "elapsed_s": 0.02, "cut_short": True}
    record["explanations"]["local"][0]["contributions"] = []
    for _, _, fig in ch.charts_for(record):
        assert ch.figure_png(fig, dpi=60).startswith(PNG)


def test_empty_or_malformed_parts_still_give_a_figure():
    assert ch.confusion_chart({"confusion": {"labels": ["a", "b"], "matrix": [[1]]}})
    assert ch.per_class_chart({})
    assert ch.residuals_chart({"residual_points": {"predicted": [1.0], "residual": [None]}})
    assert ch.shap_importance_chart({"global_importance": []})
    assert ch.shap_local_chart({"row": 1, "base_value": None, "contributions": []})
    assert ch.fairness_chart("sex", {"groups": []})
    assert ch.segment_chart([], "roc_auc")
    for fig in (ch.per_class_chart({}), ch.fairness_chart("x", {}), ch.segment_chart([], "r2")):
        assert ch.figure_png(fig, dpi=50).startswith(PNG)


def test_user_text_is_never_mathtext_and_any_script_renders():
    record = evidence("multiclass")
    entries = record["segments"]["features"]["region"]
    entries[0]["segment"] = "$5k-$10k"        # two dollars: mathtext unless escaped
    entries[1]["segment"] = r"\frac{a}{b} $x^2"
    entries[2]["segment"] = "東京 Ωμέγα Привет €"  # no CJK in DejaVu: drawn as boxes
    fig = ch.segment_chart(entries, "macro_f1")
    assert ch.figure_png(fig, dpi=60).startswith(PNG)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any(r"\$5k-\$10k" in label for label in labels)


def test_many_segments_and_classes_are_capped_with_a_note():
    entries = [{"feature": "branch", "segment": f"branch {i}", "count": 40 + i,
                "metrics": {"roc_auc": 0.6 + i / 100}, "note": None} for i in range(35)]
    fig = ch.segment_chart(entries, "roc_auc")
    assert len(fig.axes[0].get_yticks()) == 20
    assert "20 of 35 shown" in fig.axes[0].get_title(loc="left")
    labels = [f"c{i}" for i in range(14)]
    matrix = [[5 if i == j else 1 for j in range(14)] for i in range(14)]
    fig = ch.confusion_chart({"confusion": {"labels": labels, "matrix": matrix}})
    assert ch.figure_png(fig, dpi=50).startswith(PNG)


def test_charts_import_no_pyplot_and_nothing_heavy_at_import():
    code = (
        "import sys\n"
        "import core.reports.charts, core.reports.documentation\n"
        "heavy = [m for m in ('matplotlib', 'reportlab', 'sklearn', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from core.reports.charts import charts_for, figure_png\n"
        "record = {'kind': 'regression', 'metrics': {'n': 3, 'residual_points': "
        "{'predicted': [1.0, 2.0, 3.0], 'residual': [0.1, -0.2, 0.0]}}, "
        "'latency': {'single_row_ms': {'p50': 1.0}}}\n"
        "[figure_png(f) for _, _, f in charts_for(record)]\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
