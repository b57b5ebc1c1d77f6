"""The read-only review window: a real package exported from a real store (a version
submitted, validated with a finding, signed twice), shown with no store; a tampered package
refused; the response written from the window read back by the store's reader; the Approvals
button; and `charter review open PACKAGE --window` without a display."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import sys
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QLabel

from app.container import build_services
from core.errors import InvalidInput
from core.security import Hasher
from core.services.evaluation import EvaluationRequest
from core.services.importer import ImportRequest, ImportService
from core.store.opening import open_store
from core.timeutil import from_iso
from core.validation.evaluate import EvaluationSettings
from core.workflow.review_package import open_package, read_response
from tests.gui.conftest import FAST, tasks_idle
from tests.gui.registry_data import COMPLETE
from views import review_window
from views.approvals_screen import ApprovalsScreen
from views.review_response import split_comments
from views.review_window import ReviewWindow
from views.timefmt import local_text

pytestmark = pytest.mark.gui
MODEL = "pd-cards"
FINDING = "Thin-file applicants under-predicted"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model and its holdout (``holdout.csv`` beside it)."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rnd = np.random.default_rng(5)
    frame = pd.DataFrame({"income": rnd.normal(50, 10, 400), "age": rnd.integers(20, 70, 400)})
    target = (frame["income"] + rnd.normal(0, 5, 400) > 50).astype(int)
    folder = tmp_path_factory.mktemp("review")
    sio.dump(LogisticRegression().fit(frame[:200], target[:200]), folder / "model.skops")
    frame[200:].assign(default=target[200:]).to_csv(folder / "holdout.csv", index=False)
    return folder / "model.skops"


@pytest.fixture(scope="module")
def package_path(demo_template, artifact: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:  # noqa: ANN001
    """``pd-cards`` version 1: evaluated, documented, submitted by dana, validated by victor
    with one high finding; exported by cora. Made once, in a store of the module's own: a
    package needs no store to be opened."""
    source, passwords = demo_template
    folder = tmp_path_factory.mktemp("review-store")
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", folder / f"charter-demo.db{suffix}")
    services = build_services(open_store(f"sqlite:///{folder}/charter-demo.db"), Hasher(FAST))
    try:
        yield _export(services, passwords, artifact, folder / "cards.charter-review")
    finally:
        services.close()


def _export(services, passwords: dict[str, str], artifact: Path,  # noqa: ANN001
            path: Path) -> Path:
    dana, victor, cora = (services.auth.sign_in(u, passwords[u])
                          for u in ("dana", "victor", "cora"))
    services.inventory.create(dana, MODEL, COMPLETE)
    ImportService(services.store, services.artifacts).import_version(
        dana, ImportRequest(MODEL, artifact, label="1.0"))
    services.evaluations.evaluate(victor, EvaluationRequest(
        MODEL, 1, artifact.with_name("holdout.csv"),
        EvaluationSettings(explain=False, latency_budget_s=0.2)))
    services.documentation.generate(dana, MODEL, 1)
    flow = services.workflow
    flow.transition(dana, MODEL, 1, "submit", reason="Ready for validation",
                    password=passwords["dana"])
    flow.transition(victor, MODEL, 1, "start_validation", reason="Assigned to me")
    services.findings.record(victor, MODEL, 1, title=FINDING, description="AUC 0.61 on thin "
                             "files.\n<b>not bold</b>", severity="high", owner="dana",
                             due_date=date.today() + timedelta(days=21))
    flow.transition(victor, MODEL, 1, "validate", reason="Sound; one finding to remediate",
                    password=passwords["victor"])
    services.review.export(cora, MODEL, 1, path)
    return path


@pytest.fixture
def window(qtbot, package_path: Path) -> ReviewWindow:  # noqa: ANN001
    w = ReviewWindow(open_package(package_path))
    qtbot.addWidget(w)
    w.show()
    return w


def texts(model, column: int) -> list[str]:  # noqa: ANN001
    return [model.data(model.index(r, column)) for r in range(model.rowCount())]


def test_window_shows_the_package_read_only(window: ReviewWindow, package_path: Path) -> None:
    package = window.package
    assert f"all {package.hashes_verified} hashes checked" in window.verified.text()
    assert window.facts["Manifest SHA-256"] == package.manifest_sha256
    assert window.facts["Artifact SHA-256"] == package.manifest["artifact_sha256"]
    assert window.facts["Exported"].endswith(f"by cora from {package.manifest['store']['location']}"
                                             f" (store id {package.manifest['store']['store_id']})")
    assert window.windowTitle().endswith(f"{MODEL} version 1")
    evaluation = package.evidence["evaluation"]
    status = evaluation["gate_status"]
    assert status in ("passed", "failed", "incomplete")
    assert window.gates.text().startswith(f"Newest evaluation #{evaluation['id']} (")
    assert window.gates.text().endswith(f"by victor): gates {status.upper()}")
    results = evaluation["evidence"]["gates"]["results"]
    gate_model = window.gate_results
    assert gate_model.rowCount() == len(results) > 0
    assert texts(gate_model, 0) == [r["label"] for r in results]
    assert texts(gate_model, 3) == [{True: "✔ pass", False: "✘ fail"}.get(r["passed"],
                                                                        "— not assessed")
                                    for r in results]

    QAbstractItemModelTester(window.findings)
    assert texts(window.findings, 3) == [FINDING]
    assert texts(window.findings, 1) == ["high"] and texts(window.findings, 4) == ["dana"]
    assert window.findings.data(window.findings.index(0, 1),
                                Qt.ItemDataRole.ForegroundRole) is not None  # open high: red
    window.finding_table.selectRow(0)
    assert "AUC 0.61 on thin files.\n<b>not bold</b>" in window.finding_details.toPlainText()

    QAbstractItemModelTester(window.signatures)
    assert texts(window.signatures, 0) == ["Authored", "Validated"]
    assert texts(window.signatures, 4) == ["Ready for validation",
                                           "Sound; one finding to remediate"]
    assert texts(window.signatures, 5) == ["valid", "valid"]
    signed = package.evidence["signatures"][1]["signed_at"]
    assert texts(window.signatures, 3)[1] == local_text(from_iso(signed))

    QAbstractItemModelTester(window.audit)
    events = package.audit_events
    assert window.audit.rowCount() == len(events) > 5
    assert texts(window.audit, 0) == [str(e["seq"]) for e in events]
    actions = texts(window.audit, 4)
    assert {"evaluation.recorded", "version.submit", "version.validate",
            "finding.recorded"} <= set(actions), actions
    zone = local_text(window.contents.events[0].ts)[-3:].strip()
    assert all(t.endswith(zone) for t in texts(window.audit, 1))
    assert "Hash chain verified" in window.chain.text()
    assert f"each of the {len(events)} events" in window.chain.text()
    assert [window.tabs.tabText(i) for i in range(4)] == [
        "Findings (1)", "Signatures (2)", f"Audit extract ({len(events)})",
        f"Gate results ({len(results)})"]
    window.audit_table.selectRow(0)
    assert events[0]["hash"] in window.audit_details.toPlainText()


def test_user_text_is_plain(window: ReviewWindow) -> None:
    labels = window.findChildren(QLabel)
    assert labels and all(label.textFormat() == Qt.TextFormat.PlainText for label in labels)


def test_open_pdf_writes_a_private_copy_and_removes_it(window: ReviewWindow,
                                                       monkeypatch) -> None:  # noqa: ANN001
    opened = []
    monkeypatch.setattr(review_window, "open_url", lambda url: opened.append(url) or True)
    path = window.open_pdf()
    assert opened[0].toLocalFile() == str(path) and path.name == f"{MODEL}-v1-documentation.pdf"
    assert path.read_bytes() == window.package.pdf and path.read_bytes().startswith(b"%PDF")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert window.open_pdf() == path  # the same copy again
    assert not window.outcome.isVisible()
    window.close()
    assert not path.exists() and not path.parent.exists()


def test_no_viewer_says_where_the_copy_is(window: ReviewWindow, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(review_window, "open_url", lambda url: False)
    path = window.open_pdf()
    assert window.outcome.isVisible() and str(path) in window.outcome.text()
    assert window.outcome.objectName() == "notice"


def test_tampered_package_is_refused(package_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.charter-review"
    buf = io.BytesIO()
    with zipfile.ZipFile(package_path) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "evidence.json":
                data = data.replace(b"Sound; one finding", b"Sound: one finding", 1)
            dst.writestr(name, data)
    bad.write_bytes(buf.getvalue())
    with pytest.raises(InvalidInput, match="evidence.json does not match its SHA-256"):
        open_package(bad)


def test_tampered_package_from_run_review_window_shows_error_and_exits_1(
        qapp, package_path: Path, tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from app import gui
    from views import error_dialog

    bad = tmp_path / "bad.charter-review"
    with zipfile.ZipFile(package_path) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data.replace(b"version.validate", b"version.VALIDATE")
                         if name == "audit.jsonl" else data)
    shown = []

    class FakeBox:
        def __init__(self, parent, err, title) -> None:  # noqa: ANN001
            shown.append((err.message, title))

        def exec(self) -> int:
            return 0

    windows = []
    monkeypatch.setattr(error_dialog, "known_error_box", FakeBox)
    monkeypatch.setattr(review_window.ReviewWindow, "show", lambda self: windows.append(self))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr("threading.excepthook", __import__("threading").excepthook)
    try:
        assert gui.run_review_window(str(bad)) == 1
    finally:
        _drop_log_handlers()
    assert shown == [(("bad.charter-review is not a valid review package: audit.jsonl does not "
                       "match its SHA-256 in the manifest (it was changed after export)."),
                      "Charter — review package refused")]
    assert not windows
    err = capsys.readouterr().err
    assert "audit.jsonl does not match its SHA-256" in err and "nothing was opened" in err


def _drop_log_handlers() -> None:
    import logging

    for handler in list(logging.getLogger("charter").handlers):
        logging.getLogger("charter").removeHandler(handler)
        handler.close()


def test_response_dialog_writes_a_file_the_store_reads(window: ReviewWindow,
                                                       tmp_path: Path) -> None:
    dialog = window.respond()
    dialog.user.setText("cora")
    dialog.comments.setPlainText("Limitations are stated clearly.\nSee section 4.\n\n"
                                 "  \n<i>Approve</i> after the monitoring plan is added.")
    assert dialog.count.text() == "2 comments"
    dialog.sign.setChecked(True)
    dialog.reason.setText("Compliant with the model-risk policy")
    target = tmp_path / "out" / "response.json"
    target.parent.mkdir()
    assert dialog.save(target)
    response = read_response(target)
    assert response.comments == ("Limitations are stated clearly.\nSee section 4.",
                                 "<i>Approve</i> after the monitoring plan is added.")
    assert response.sign and response.reason == "Compliant with the model-risk policy"
    assert response.reviewer == "cora" and (response.model, response.version) == (MODEL, 1)
    assert response.package_manifest_sha256 == window.package.manifest_sha256
    assert json.loads(target.read_text())["signature_request"] == {
        "meaning": "reviewed", "reason": "Compliant with the model-risk policy"}
    assert not dialog.isVisible()
    text = window.outcome.text()
    assert window.outcome.isVisible() and str(target) in text
    assert "charter review import response.json --user cora" in text
    assert "2 comments and a request for your compliance signature" in text


def test_response_without_signature_and_through_the_file_chooser(
        window: ReviewWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QFileDialog

    target = tmp_path / "chosen.json"
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (asked.append(a[2]) or str(target), ""))
    dialog = window.respond()
    dialog.user.setText(" cora ")
    dialog.comments.setPlainText("One remark only.")
    dialog.ok_button.click()
    assert asked == [str(window.package.path.with_name("cards-response-cora.json"))]
    response = read_response(target)
    assert response.comments == ("One remark only.",) and not response.sign
    assert response.reason is None and response.reviewer == "cora"
    assert "which makes the signature" not in window.outcome.text()


def test_signature_without_reason_is_refused(window: ReviewWindow, tmp_path: Path) -> None:
    dialog = window.respond()
    dialog.user.setText("cora")
    dialog.comments.setPlainText("Fine.")
    assert not dialog.reason.isEnabled()
    dialog.sign.setChecked(True)
    assert dialog.reason.isEnabled()
    target = tmp_path / "r.json"
    assert not dialog.save(target)
    assert dialog.error.isVisible()
    assert dialog.error.text().startswith("Give the reason for the signature you request")
    assert not target.exists() and dialog.isVisible() and not window.outcome.isVisible()
    dialog.reason.setText("   ")
    assert not dialog.save(target) and not target.exists()
    dialog.reason.setText("Meets the policy")  # editing the form clears the stale message
    assert not dialog.error.isVisible()
    assert dialog.save(target) and target.exists()


def test_response_needs_a_user_and_something_to_say(window: ReviewWindow,
                                                    tmp_path: Path) -> None:
    dialog = window.respond()
    target = tmp_path / "r.json"
    dialog.comments.setPlainText("Fine.")
    assert not dialog.save(target)
    assert dialog.error.text().startswith("Enter your user name in the store")
    dialog.user.setText("cora")
    dialog.comments.setPlainText(" \n\n ")
    assert not dialog.save(target)
    assert dialog.error.text() == "Write at least one comment, or request your signature."
    assert not target.exists()


def test_split_comments() -> None:
    assert split_comments("a\nb\n\n\nc\n \t\nd ") == ["a\nb", "c", "d"]
    assert split_comments("  \n ") == []


def test_approvals_button_opens_a_package(qtbot, services, sign_in, package_path: Path,
                                          monkeypatch) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QFileDialog

    screen = ApprovalsScreen(services, sign_in("cora"))
    qtbot.addWidget(screen)
    screen.show()
    qtbot.waitUntil(tasks_idle)
    assert screen.review_button.isVisible()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(package_path), ""))
    screen.review_button.click()
    qtbot.waitUntil(lambda: bool(screen.review_windows))
    window = screen.review_windows[0]
    assert window.isVisible() and window.package.path == package_path
    assert texts(window.findings, 3) == [FINDING]
    window.close()
    qtbot.waitUntil(lambda: not shiboken6.isValid(window))


def test_approvals_button_with_a_damaged_file(qtbot, services, sign_in, tmp_path: Path,
                                              monkeypatch) -> None:  # noqa: ANN001
    from views import error_dialog

    shown = []
    monkeypatch.setattr(error_dialog, "show_known_error",
                        lambda parent, err: shown.append(err.message))
    screen = ApprovalsScreen(services, sign_in("cora"))
    qtbot.addWidget(screen)
    qtbot.waitUntil(tasks_idle)
    junk = tmp_path / "junk.charter-review"
    junk.write_bytes(b"not a zip")
    screen.open_review_package(junk)
    qtbot.waitUntil(lambda: bool(shown))
    assert shown[0].startswith("junk.charter-review is not a valid review package: the file is "
                               "damaged or truncated")
    assert not screen.review_windows


def test_window_flag_without_display_exits_2(package_path: Path, monkeypatch,
                                             capsys) -> None:  # noqa: ANN001
    from app.main import main

    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHARTER_DB_URL", "sqlite:////nonexistent/dir/none.db")
    assert main(["review", "open", str(package_path), "--window"]) == 2
    out, err = capsys.readouterr()
    assert "Charter's console needs a display" in err and "xvfb-run -a charter" in err
    assert out == ""


def test_window_flag_refuses_text_options(package_path: Path, capsys) -> None:
    from app.main import main

    assert main(["review", "open", str(package_path), "--window", "--json"]) == 1
    assert "--window shows the package" in capsys.readouterr().err
