"""Offline review: packages verified with no store, responses imported with the signer
re-authenticated, and every kind of tampering refused by name (store tests on both backends)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from storekit import USER_PASSWORD
from test_workflow import kit, model_file, team  # noqa: F401 - fixtures shared with workflow

from core.audit import GENESIS, event_hash
from core.errors import AuthenticationFailed, InvalidInput, PermissionDenied
from core.permissions import Role
from core.services.evaluation import EvaluationRequest, EvaluationService
from core.services.importer import ImportRequest
from core.services.review import ReviewService
from core.validation.evaluate import EvaluationSettings
from core.workflow import review_package as rp
from core.workflow.review_package import (
    build_package,
    make_response,
    open_package,
    read_response,
    write_response,
)

PW = USER_PASSWORD


# -- a package made without a store ------------------------------------------------------------
def _chain(n: int, start: int = 1) -> list[tuple]:
    rows, prev = [], GENESIS
    for seq in range(start, start + n):
        fields = [seq, f"2024-01-01T00:00:0{seq % 10}.000000Z", "cora", "compliance", "ws",
                  "model.updated", "model", "Cards PD", None, json.dumps({"n": seq}), None, prev]
        prev = event_hash(fields)
        rows.append((*fields, prev))
    return rows


def _synthetic(tmp_path, rows=None) -> tuple:
    evidence_body = {"kind": "binary", "metrics": {"roc_auc": 0.81},
                     "gates": {"status": "passed", "results": []}}
    ev_sha = hashlib.sha256(rp.canonical_json(evidence_body).encode()).hexdigest()
    pdf = b"%PDF-1.4\nnot really a pdf but bytes\n%%EOF\n"
    manifest = {"model": "Cards PD", "version": 1, "state": "validated",
                "artifact_sha256": "a" * 64,
                "documentation": {"id": 1, "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
                                  "source_sha256": "b" * 64},
                "created_at": "2024-01-02T00:00:00.000000Z", "created_by": "cora",
                "store": {"store_id": "s-1", "location": "sqlite:///x"}}
    evidence = {"evaluation": {"id": 1, "evidence": evidence_body, "evidence_sha256": ev_sha},
                "findings": [], "signatures": []}
    data, digest = build_package(manifest, pdf, evidence, rows if rows is not None else _chain(3))
    path = tmp_path / "p.charter-review"
    path.write_bytes(data)
    return path, digest


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rezip(path, members: dict[str, bytes], *, fix_manifest: bool = False) -> None:
    """Write the members back; with ``fix_manifest`` the manifest's member hashes are
    recomputed (what a careful forger does)."""
    if fix_manifest:
        manifest = json.loads(members[rp.MANIFEST])
        for name in manifest["members"]:
            manifest["members"][name] = {"sha256": hashlib.sha256(members[name]).hexdigest(),
                                         "size": len(members[name])}
        members = {**members, rp.MANIFEST: json.dumps(manifest).encode()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())


def test_a_package_opens_read_only_with_every_hash_verified(tmp_path) -> None:
    path, digest = _synthetic(tmp_path)
    package = open_package(path)
    assert package.manifest_sha256 == digest
    assert package.hashes_verified == 3 + 1 + 3  # members, evidence, audit events
    assert package.manifest["audit_extract"]["events"] == 3
    assert "not the whole trail" in package.manifest["audit_extract"]["note"]
    with pytest.raises(TypeError):
        package.manifest["state"] = "approved"  # type: ignore[index]
    # Deterministic: sorted names, fixed times; the same input gives the same bytes.
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == sorted(rp.MEMBERS)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    (tmp_path / "again").mkdir()
    assert _synthetic(tmp_path / "again")[0].read_bytes() == path.read_bytes()


def test_an_extract_with_gaps_verifies_but_a_broken_link_does_not(tmp_path) -> None:
    rows = _chain(5)
    path, _ = _synthetic(tmp_path, [rows[0], rows[1], rows[3], rows[4]])  # #3 not in extract
    assert len(open_package(path).audit_events) == 4
    forged = list(rows[4])
    forged[11] = "f" * 64  # links #5 to something else than #4, and rehashes it
    forged[12] = event_hash(forged)
    path, _ = _synthetic(tmp_path, [rows[3], tuple(forged)])
    with pytest.raises(InvalidInput, match="event #5 in audit.jsonl does not link to event #4"):
        open_package(path)


@pytest.mark.parametrize(("tamper", "message"), [
    ("pdf_byte", "documentation.pdf does not match its SHA-256"),
    ("evidence_value", "evidence.json does not match its SHA-256"),
    ("evidence_value_forged", "evaluation evidence in evidence.json does not match its "
                              "evidence_sha256"),
    ("audit_line_removed", "audit.jsonl does not match its SHA-256"),
    ("audit_line_removed_forged", "audit.jsonl holds 2 events; the manifest lists 3"),
    ("audit_event_edited_forged", "audit event #2 in audit.jsonl was altered"),
    ("extra_member", "extra member 'notes.txt' is not part of a review package"),
    ("traversal", "member '../manifest.json' has an unsafe name"),
    ("truncated", "damaged or truncated"),
    ("missing_member", "member 'audit.jsonl' is missing"),
])
def test_each_kind_of_tampering_is_refused_by_name(tmp_path, tamper, message) -> None:
    path, _ = _synthetic(tmp_path)
    m = _members(path)
    if tamper == "pdf_byte":
        pdf = bytearray(m[rp.PDF])
        pdf[10] ^= 0x01
        _rezip(path, {**m, rp.PDF: bytes(pdf)})
    elif tamper.startswith("evidence_value"):
        evidence = json.loads(m[rp.EVIDENCE])
        evidence["evaluation"]["evidence"]["metrics"]["roc_auc"] = 0.99
        _rezip(path, {**m, rp.EVIDENCE: json.dumps(evidence).encode()},
               fix_manifest=tamper.endswith("forged"))
    elif tamper.startswith("audit_line_removed"):
        lines = m[rp.AUDIT].splitlines(keepends=True)
        _rezip(path, {**m, rp.AUDIT: b"".join(lines[:1] + lines[2:])},
               fix_manifest=tamper.endswith("forged"))
    elif tamper == "audit_event_edited_forged":
        lines = m[rp.AUDIT].splitlines(keepends=True)
        ev = json.loads(lines[1])
        ev["reason"] = "quietly rewritten"
        lines[1] = (json.dumps(ev) + "\n").encode()
        _rezip(path, {**m, rp.AUDIT: b"".join(lines)}, fix_manifest=True)
    elif tamper == "extra_member":
        _rezip(path, {**m, "notes.txt": b"hello"})
    elif tamper == "traversal":
        _rezip(path, {**m, "../manifest.json": m[rp.MANIFEST]})
    elif tamper == "truncated":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif tamper == "missing_member":
        _rezip(path, {k: v for k, v in m.items() if k != rp.AUDIT})
    with pytest.raises(InvalidInput, match=message) as err:
        open_package(path)
    assert "p.charter-review is not a valid review package" in err.value.message


def test_an_oversized_member_is_refused_before_it_is_read(tmp_path, monkeypatch) -> None:
    path, _ = _synthetic(tmp_path)
    monkeypatch.setitem(rp.MAX_MEMBER_BYTES, rp.PDF, 10)
    with pytest.raises(InvalidInput, match="member 'documentation.pdf' is too large"):
        open_package(path)


def test_a_response_carries_its_own_hash(tmp_path) -> None:
    path, digest = _synthetic(tmp_path)
    response = make_response(open_package(path), "cora", ["Fine", "  "],
                             sign_reason="compliant", created_at="2024-01-03T00:00:00Z")
    out = tmp_path / "r.json"
    write_response(response, out)
    read = read_response(out)
    assert (read.package_manifest_sha256, read.comments, read.sign, read.reason) == (
        digest, ("Fine",), True, "compliant")
    doc = json.loads(out.read_text())
    doc["comments"] = ["Not fine"]
    out.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput, match="changed after it was written"):
        read_response(out)
    with pytest.raises(InvalidInput, match="at least one comment or a signature request"):
        make_response(open_package(path), "cora", [], sign_reason=None, created_at="x")


# -- with a store ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def holdout(model_file):
    rnd = np.random.default_rng(7)
    frame = pd.DataFrame({"income": rnd.normal(50, 10, 200), "age": rnd.integers(20, 70, 200)})
    frame["default"] = (frame["income"] + rnd.normal(0, 5, 200) > 50).astype(int)
    frame.to_csv(model_file / "holdout.csv", index=False)
    return model_file / "holdout.csv"


@pytest.fixture
def rig(kit, team, model_file, holdout):  # noqa: F811
    """Cards PD version 1, evaluated, documented, validated: waiting for compliance review."""
    flow, store = kit["flow"], kit["flow"].store
    kit["import"].import_version(team["dana"], ImportRequest(
        model="Cards PD", artifact=model_file / "m0.skops", model_fields={"risk_tier": 1}))
    evaluations = EvaluationService(store, kit["artifacts"])
    evaluations.evaluate(team["victor"], EvaluationRequest(
        "Cards PD", 1, holdout, EvaluationSettings(explain=False, latency_budget_s=0.2)))
    kit["docs"].generate(team["dana"], "Cards PD", 1)
    flow.transition(team["dana"], "Cards PD", 1, "submit", reason="ready", password=PW)
    flow.transition(team["victor"], "Cards PD", 1, "start_validation", reason="mine")
    flow.transition(team["victor"], "Cards PD", 1, "validate", reason="sound", password=PW)
    kit["findings"].record(team["victor"], "Cards PD", 1, title="Thin files", description="d",
                           severity="low", owner="dana")
    kit["model_file"] = model_file
    kit["review"] = ReviewService(store, kit["artifacts"], flow, kit["docs"], evaluations)
    return kit


def test_export_writes_a_package_that_opens_with_no_store(console, rig, team, tmp_path) -> None:
    review = rig["review"]
    dest = tmp_path / "cards.charter-review"
    digest, changes = review.export(team["cora"], "Cards PD", 1, dest)
    assert changes.audit
    package = open_package(dest)
    s = package.summary()
    assert (s["model"], s["version"], s["state"], s["manifest_sha256"]) == (
        "Cards PD", 1, "validated", digest)
    assert s["gates"]["status"] in ("passed", "failed", "incomplete")
    assert [(g["meaning"], g["valid"]) for g in s["signatures"]] == [
        ("authored", True), ("validated", True)]
    assert [f["title"] for f in s["findings"]] == ["Thin files"]
    actions = [e["action"] for e in package.audit_events]
    assert "version.validate" in actions and "finding.recorded" in actions
    assert s["hashes_verified"] == 3 + 1 + len(package.audit_events)
    doc = rig["docs"].documents(team["cora"], "Cards PD", 1)[0]
    assert hashlib.sha256(package.pdf).hexdigest() == doc.pdf_sha256
    assert package.manifest["store"]["store_id"]
    exported = json.loads(console.events("review.exported")[-1].new_values)
    assert exported["manifest_sha256"] == digest and exported["version"] == 1
    # A data scientist cannot export; a version with no documentation cannot be packaged.
    with pytest.raises(PermissionDenied):
        review.export(team["dana"], "Cards PD", 1, tmp_path / "x")
    rig["import"].import_version(team["dana"], ImportRequest(
        model="Bare", artifact=rig["model_file"] / "m1.skops", model_fields={"risk_tier": 3}))
    with pytest.raises(InvalidInput, match="no documentation yet") as err:
        review.export(team["cora"], "Bare", 1, tmp_path / "bare")
    assert "Generate the documentation" in err.value.hint and not (tmp_path / "bare").exists()


def _respond(rig, team, tmp_path, *, who="cora", sign=True, name="r.json"):
    digest, _ = rig["review"].export(team["cora"], "Cards PD", 1, tmp_path / "p.charter-review")
    response = make_response(open_package(tmp_path / "p.charter-review"), who,
                             ["Section 4 reads well", "Monitoring plan is adequate"],
                             sign_reason="compliant" if sign else None,
                             created_at="2024-01-03T00:00:00Z")
    write_response(response, tmp_path / name)
    return tmp_path / name


def test_an_imported_response_records_comments_and_the_review_signature(
        console, rig, team, tmp_path) -> None:
    path = _respond(rig, team, tmp_path)
    summary, changes = rig["review"].import_response(team["cora"], path, PW)
    assert summary["comments"] == 2 and summary["signature"]["meaning"] == "reviewed"
    assert "workflow" in changes.kinds
    imported = json.loads(console.events("review.comments_imported")[-1].new_values)
    assert imported["comments"] == ["Section 4 reads well", "Monitoring plan is adequate"]
    assert imported["reviewer"] == "cora" and imported["signature"] == summary["signature"]["id"]
    reviewed = [g for g in rig["flow"].signatures(team["max"], "Cards PD", 1)
                if g.meaning == "reviewed"]
    assert [(g.signer, g.valid) for g in reviewed] == [("cora", True)]
    assert console.events("version.review")
    with pytest.raises(InvalidInput, match="imported already"):
        rig["review"].import_response(team["cora"], path, PW)
    assert len(console.events("review.import_refused")) == 1


def test_bad_responses_are_refused_audited_and_change_nothing(console, rig, team,
                                                              tmp_path) -> None:
    review = rig["review"]
    cole = console.add_user("cole", [Role.COMPLIANCE])
    path = _respond(rig, team, tmp_path)
    good = path.read_text()

    def refused(who, password, error, message, *, path=path) -> None:
        before = len(console.events("review.import_refused"))
        with pytest.raises(error, match=message):
            review.import_response(who, path, password)
        events = console.events("review.import_refused")
        assert len(events) == before + 1
        assert console.events("review.comments_imported") == []
        assert console.sql("SELECT count(*) FROM signature WHERE meaning = 'reviewed'") == [(0,)]

    doc = json.loads(good)
    doc["comments"][0] = "Section 4 is wrong"
    path.write_text(json.dumps(doc))
    refused(team["cora"], PW, InvalidInput, "changed after it was written")
    foreign = json.loads(good)
    foreign["package_manifest_sha256"] = "e" * 64
    foreign.pop("sha256")
    foreign["sha256"] = hashlib.sha256(rp.canonical_json(foreign).encode()).hexdigest()
    path.write_text(json.dumps(foreign))
    refused(team["cora"], PW, InvalidInput, "never exported the package")
    path.write_text(good)
    refused(cole, PW, PermissionDenied, "written by cora; only cora can import it")
    refused(team["cora"], "not my password", AuthenticationFailed, "(?i)wrong")
    assert console.sql("SELECT failed_sign_ins FROM user_account WHERE username='cora'") == [(1,)]
    # The owner changes the documented limitations and regenerates: the review is stale.
    from core.services.inventory import InventoryService

    InventoryService(rig["flow"].store).update(team["dana"], "Cards PD", {
        "limitations": "Not for thin files"}, reason="after export")
    rig["docs"].generate(team["dana"], "Cards PD", 1)
    refused(team["cora"], PW, InvalidInput, "documentation changed since the package")
    sha = console.sql("SELECT artifact_sha256 FROM model_version")[0][0]
    blob = rig["artifacts"].path_for(sha)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"tampered")
    refused(team["cora"], PW, InvalidInput, "artifact file changed on disk")
    why = json.loads(console.events("review.import_refused")[-1].new_values)
    assert why["version"] == 1 and "artifact file changed" in why["why"]
    assert console.sql("SELECT state FROM model_version") == [("validated",)]
