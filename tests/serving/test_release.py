"""Release folders: every hash checked at load; a tampered artifact is not served, a tampered
policy refuses the release; models load only with the audited skops types."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.serving.release import ReleaseError, load_release, write_release

POLICY = '{"default": "pd@1"}'
SCHEMA = [{"name": "income", "kind": "number"}, {"name": "age", "kind": "number"}]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):  # noqa: ANN001, ANN201
    import skops.io as sio
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    rnd = np.random.default_rng(4)
    x = pd.DataFrame({"income": rnd.lognormal(10, 0.4, 400), "age": rnd.integers(20, 70, 400)})
    y = (x["income"] > x["income"].median()).astype(int)
    folder = tmp_path_factory.mktemp("models")
    clf = make_pipeline(FunctionTransformer(np.round), StandardScaler(),
                        LogisticRegression()).fit(x, y)
    reg = LinearRegression().fit(x, x["age"] * 2.0)
    sio.dump(clf, folder / "clf.skops")
    sio.dump(reg, folder / "reg.skops")
    return {"clf": (folder / "clf.skops", clf, x), "reg": (folder / "reg.skops", reg, x)}


def _versions(artifacts) -> list[dict]:  # noqa: ANN001
    import skops.io as sio

    out = []
    for ref, key, task, classes in (("pd@1", "clf", "binary", [0, 1]),
                                    ("age@2", "reg", "regression", [])):
        path = artifacts[key][0]
        out.append({"ref": ref, "artifact": path, "task": task, "classes": classes,
                    "input_schema": SCHEMA,
                    "trusted_types": sio.get_untrusted_types(file=path)})
    return out


def test_a_release_loads_and_answers_like_the_model(tmp_path, artifacts) -> None:  # noqa: ANN001
    manifest = write_release(tmp_path / "r1", _versions(artifacts), POLICY, release="r1",
                             created_by="ivan")
    assert "numpy.round" in manifest["versions"][0]["trusted_types"]
    release = load_release(tmp_path / "r1")
    assert release.refused == {} and sorted(release.versions) == ["age@2", "pd@1"]
    assert release.policy_text == POLICY
    _, clf, x = artifacts["clf"]
    rows = list(x.head(5).itertuples(index=False, name=None))
    answers = release.versions["pd@1"].predict(rows)
    expected = clf.predict_proba(x.head(5))
    assert [a["label"] for a in answers] == [int(v) for v in clf.predict(x.head(5))]
    assert np.allclose([[a["probabilities"]["0"], a["probabilities"]["1"]] for a in answers],
                       expected)
    values = release.versions["age@2"].predict(rows)
    assert np.allclose([v["value"] for v in values], x.head(5)["age"] * 2.0)


def test_a_tampered_or_missing_artifact_is_not_served(tmp_path, artifacts) -> None:  # noqa: ANN001
    manifest = write_release(tmp_path / "r", _versions(artifacts), POLICY, release="r",
                             created_by="ivan")
    clf_file = tmp_path / "r" / manifest["versions"][0]["file"]
    data = bytearray(clf_file.read_bytes())
    data[-10] ^= 0xFF
    clf_file.write_bytes(bytes(data))
    release = load_release(tmp_path / "r")
    assert list(release.versions) == ["age@2"]
    assert "not the approved" in release.refused["pd@1"]
    (tmp_path / "r" / manifest["versions"][1]["file"]).unlink()
    assert "cannot be read" in load_release(tmp_path / "r").refused["age@2"]


def test_untrusted_types_are_refused(tmp_path, artifacts) -> None:  # noqa: ANN001
    versions = _versions(artifacts)
    versions[0]["trusted_types"] = []
    write_release(tmp_path / "r", versions, POLICY, release="r", created_by="ivan")
    why = load_release(tmp_path / "r").refused["pd@1"]
    assert "does not load with the types the console audited" in why and "numpy.round" in why


def test_a_tampered_policy_or_manifest_refuses_the_release(tmp_path, artifacts) -> None:  # noqa: ANN001
    write_release(tmp_path / "r", _versions(artifacts), POLICY, release="r", created_by="ivan")
    (tmp_path / "r" / "policy.json").write_text('{"default": "age@2"}')
    with pytest.raises(ReleaseError, match="not the approved"):
        load_release(tmp_path / "r")
    with pytest.raises(ReleaseError, match="holds no manifest.json"):
        load_release(tmp_path)
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    manifest["policy"]["file"] = "../../etc/passwd"
    (tmp_path / "r" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReleaseError, match="outside the release folder"):
        load_release(tmp_path / "r")
    (tmp_path / "r" / "manifest.json").write_text("{not json")
    with pytest.raises(ReleaseError, match="cannot be read as JSON"):
        load_release(tmp_path / "r")


def test_bad_version_entries_are_refused_with_the_reason(tmp_path, artifacts) -> None:  # noqa: ANN001
    versions = _versions(artifacts)
    write_release(tmp_path / "r", versions, POLICY, release="r", created_by="ivan")
    path = tmp_path / "r" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["versions"][0]["task"] = "ranking"
    manifest["versions"][1]["input_schema"] = [{"name": "age", "kind": "float"}]
    path.write_text(json.dumps(manifest))
    release = load_release(Path(tmp_path / "r"))
    assert "task 'ranking'" in release.refused["pd@1"]
    assert "input schema is malformed" in release.refused["age@2"]
    assert release.versions == {}


def test_a_numeric_model_answers_from_an_array_to_the_last_bit(tmp_path, artifacts) -> None:  # noqa: ANN001
    write_release(tmp_path / "r", _versions(artifacts), POLICY, release="r", created_by="ivan")
    release = load_release(tmp_path / "r")
    _, clf, x = artifacts["clf"]
    version = release.versions["pd@1"]
    assert version.takes_array
    rows = list(x.head(50).itertuples(index=False, name=None))
    fast = version.predict(rows)
    assert fast == dataclasses.replace(version, takes_array=False).predict(rows)
    assert [a["probabilities"]["1"] for a in fast] == list(clf.predict_proba(x.head(50))[:, 1])


def test_a_model_that_selects_columns_by_name_keeps_data_frames(tmp_path) -> None:  # noqa: ANN001
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rnd = np.random.default_rng(1)
    x = pd.DataFrame({"income": rnd.normal(size=200), "age": rnd.normal(size=200)})
    model = make_pipeline(ColumnTransformer([("s", StandardScaler(), ["age", "income"])]),
                          LogisticRegression()).fit(x, (x["age"] > 0).astype(int))
    sio.dump(model, tmp_path / "ct.skops")
    write_release(tmp_path / "r", [{
        "ref": "ct@1", "artifact": tmp_path / "ct.skops", "task": "binary", "classes": [0, 1],
        "input_schema": SCHEMA, "trusted_types": sio.get_untrusted_types(file=tmp_path / "ct.skops")}],
        POLICY, release="r", created_by="ivan")
    version = load_release(tmp_path / "r").versions["ct@1"]
    assert not version.takes_array
    answers = version.predict(list(x.head(5).itertuples(index=False, name=None)))
    assert np.allclose([a["probabilities"]["1"] for a in answers],
                       model.predict_proba(x.head(5))[:, 1])


@pytest.mark.parametrize("with_mean", [True, False])
def test_a_scaler_and_logistic_scorecard_is_computed_directly_to_the_last_bit(
        tmp_path, with_mean) -> None:  # noqa: ANN001
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rnd = np.random.default_rng(7)
    x = pd.DataFrame(rnd.normal(0, 5, (500, 2)) * [1, 1e4], columns=["income", "age"])
    model = make_pipeline(StandardScaler(with_mean=with_mean), LogisticRegression(C=0.3)).fit(
        x, (x["income"] + x["age"] / 1e4 + rnd.normal(0, 2, 500) > 0).astype(int))
    sio.dump(model, tmp_path / "sc.skops")
    write_release(tmp_path / "r", [{
        "ref": "sc@1", "artifact": tmp_path / "sc.skops", "task": "binary", "classes": [0, 1],
        "input_schema": SCHEMA, "trusted_types": sio.get_untrusted_types(file=tmp_path / "sc.skops")}],
        POLICY, release="r", created_by="ivan")
    version = load_release(tmp_path / "r").versions["sc@1"]
    assert version.fast is not None  # the direct computation was verified and is used
    for n in (1, 3, 200):
        rows = list(x.sample(n, random_state=n).itertuples(index=False, name=None))
        direct = version.predict(rows)
        general = dataclasses.replace(version, fast=None, takes_array=False).predict(rows)
        assert direct == general  # every probability equal to the last bit
        assert [a["probabilities"]["1"] for a in direct] == list(
            model.predict_proba(pd.DataFrame(rows, columns=x.columns))[:, 1])


def test_other_models_keep_scikit_learns_own_path(tmp_path, artifacts) -> None:  # noqa: ANN001
    write_release(tmp_path / "r", _versions(artifacts), POLICY, release="r", created_by="ivan")
    release = load_release(tmp_path / "r")
    # a three-step pipeline (rounding first) and a regression are not scorecards
    assert release.versions["pd@1"].fast is None and release.versions["age@2"].fast is None
