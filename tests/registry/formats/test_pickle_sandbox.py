"""Pickles: refused without a trust decision; with one, loaded only in the sandbox subprocess."""

from __future__ import annotations

import builtins
import os
import pickle
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import joblib
import pytest

from core.registry.formats import ArtifactRejected, convert_pickle_to_skops, describe_artifact

PAYLOAD = """
import builtins, os
builtins.CHARTER_PAYLOAD_RAN = True
os.environ["CHARTER_PAYLOAD_RAN"] = "1"
with open({marker!r}, "w") as f:
    f.write(str(os.getpid()))
"""


class _Exec:
    """Unpickling this runs ``code`` (pickle stores a call to builtins.exec)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _malicious(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(_Exec(PAYLOAD.format(marker=str(marker))), protocol=4))
    return path


def _payload_ran_here() -> bool:
    return getattr(builtins, "CHARTER_PAYLOAD_RAN", False) or "CHARTER_PAYLOAD_RAN" in os.environ


def test_pickle_without_trust_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "marker"
    path = _malicious(tmp_path / "model.pkl", marker)

    with pytest.raises(ArtifactRejected, match="can run code when loaded.*trust-pickle"):
        describe_artifact(path)

    assert not marker.exists()
    assert not _payload_ran_here()


def test_renamed_pickle_is_still_recognised(tmp_path):
    marker = tmp_path / "marker"
    path = _malicious(tmp_path / "model.skops", marker)  # the suffix lies

    with pytest.raises(ArtifactRejected, match="pickle/joblib"):
        describe_artifact(path)
    assert not marker.exists()


def test_trusted_malicious_pickle_runs_only_in_the_sandbox(tmp_path):
    # A folder anyone may write to, so the payload can leave its mark from the sandbox.
    open_dir = Path(tempfile.mkdtemp(prefix="charter-test-open-"))
    open_dir.chmod(0o777)
    marker = open_dir / "marker"
    path = _malicious(tmp_path / "model.pkl", marker)

    with pytest.raises(ArtifactRejected, match="sandbox failed.*not a scikit-learn model"):
        describe_artifact(path, trusted_pickle=True)

    assert not _payload_ran_here()  # never executed in this (the console's) process
    assert marker.exists()  # it did run - in the child
    assert int(marker.read_text()) != os.getpid()
    if os.geteuid() == 0:
        assert marker.stat().st_uid == 65534  # ...as nobody, not as root


def test_sandbox_cannot_write_where_the_console_can(tmp_path):
    marker = tmp_path / "marker"  # tmp_path is private to this user (0700)
    assert stat.S_IMODE(tmp_path.stat().st_mode) & 0o007 == 0
    path = _malicious(tmp_path / "model.pkl", marker)

    with pytest.raises(ArtifactRejected, match="PermissionError"):
        describe_artifact(path, trusted_pickle=True)

    assert not marker.exists()
    assert not _payload_ran_here()


def test_pickle_that_loops_forever_is_stopped(tmp_path):
    path = tmp_path / "loop.pkl"
    path.write_bytes(pickle.dumps(_Exec("while True:\n    pass\n")))

    with pytest.raises(ArtifactRejected, match="did not finish within 3 s, so it was stopped"):
        describe_artifact(path, trusted_pickle=True, timeout=3)


def test_legitimate_joblib_is_described_and_converted(credit_pipeline, tmp_path):
    path = tmp_path / "credit.joblib"
    joblib.dump(credit_pipeline, path)

    desc = describe_artifact(path, trusted_pickle=True)

    assert desc.format == "pickle"
    assert desc.model_type == "sklearn.pipeline.Pipeline"
    assert desc.classes == ("0", "1")
    housing = next(f for f in desc.input_schema if f.name == "housing")
    assert housing.categories == ("mortgage", "own", "rent")
    assert desc.details["sandbox"]["pid"] != os.getpid()
    assert desc.details["sandbox"]["cpu_seconds"] > 0

    dest = tmp_path / "credit.skops"
    converted = convert_pickle_to_skops(path, dest, timeout=60)

    assert dest.is_file()
    again = describe_artifact(dest)  # loads through Charter's trusted types
    assert replace(converted, details={}) == again
    assert converted.details["converted_from_sha256"] == desc.sha256
    assert again.format == "skops" and again.input_schema == desc.input_schema
    assert again.hyperparameters == desc.hyperparameters


def test_conversion_of_an_untrusted_type_keeps_no_file(credit_frame, tmp_path):
    from sklearn.neighbors import KNeighborsClassifier

    frame, y = credit_frame
    path = tmp_path / "knn.pkl"
    joblib.dump(KNeighborsClassifier().fit(frame.drop(columns="housing"), y), path)
    dest = tmp_path / "knn.skops"

    with pytest.raises(ArtifactRejected, match="KNeighborsClassifier"):
        convert_pickle_to_skops(path, dest)
    assert not dest.exists() and list(tmp_path.iterdir()) == [path]
