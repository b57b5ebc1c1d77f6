"""`charter review export|open|respond|import`: the offline review round trip on the command
line, `open` and `respond` with no store at all."""

from __future__ import annotations

import json
import zipfile

from test_cli import ADMIN_PW, _isolated_dirs, run, store  # noqa: F401 - shared fixtures

from core.permissions import Role

PW = "a wholly separate passphrase"


def test_review_round_trip_through_the_cli(store, tmp_path, monkeypatch, capsys):  # noqa: F811
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from app.container import open_services

    frame = pd.DataFrame({"income": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
                          "age": [20, 30, 40, 50, 60, 70]})
    sio.dump(LogisticRegression().fit(frame, [0, 0, 0, 1, 1, 1]), tmp_path / "m.skops")
    svc = open_services(store)
    admin = svc.auth.sign_in("root", ADMIN_PW)
    for name, role in (("dana", "data_scientist"), ("victor", "validator"),
                       ("cora", "compliance_officer")):
        issued = svc.users.add(admin, name, name.title(), [Role(role)])
        svc.auth.set_password_with_code(name, issued.code, PW)
    svc.close()

    def as_(who, *lines):
        return dict(args=["--user", who, "--password-stdin", "--db", store],
                    stdin="".join(f"{x}\n" for x in (PW, *lines)))

    def cli(*args, who=None, lines=()):
        extra = as_(who, *lines) if who else {"args": [], "stdin": ""}
        return run(monkeypatch, capsys, *args, *extra["args"], stdin=extra["stdin"])

    for args, who, lines in (
            (("import", str(tmp_path / "m.skops"), "--model", "Cards", "--field",
              "risk_tier=2"), "dana", ()),
            (("report", "documentation", "Cards@1", "-o", str(tmp_path / "d.pdf")), "dana", ()),
            (("submit", "Cards@1", "--reason", "ready"), "dana", (PW,)),
            (("start-validation", "Cards@1", "--reason", "mine"), "victor", ()),
            (("validate", "Cards@1", "--reason", "sound"), "victor", (PW,))):
        code, _, err = cli(*args, who=who, lines=lines)
        assert code == 0, (args, err)

    package = tmp_path / "cards.charter-review"
    code, out, err = cli("review", "export", "Cards@1", "-o", str(package), "--json", who="cora")
    assert code == 0, err
    digest = json.loads(out)["manifest_sha256"]

    # On the reviewer's workstation: no --db, no sign-in.
    monkeypatch.setenv("CHARTER_DB_URL", "sqlite:////nonexistent/dir/none.db")
    code, out, err = cli("review", "open", str(package), "--extract-pdf", str(tmp_path / "x.pdf"))
    assert code == 0, err
    assert "Cards version 1: validated" in out and f"Manifest SHA-256 {digest}" in out
    assert "validated by Victor (victor): valid" in out
    assert "hashes verified." in out and (tmp_path / "x.pdf").read_bytes().startswith(b"%PDF")
    code, out, err = cli("review", "open", str(package), "--json")
    assert code == 0 and json.loads(out)["manifest_sha256"] == digest, err
    response = tmp_path / "response.json"
    code, out, err = cli("review", "respond", str(package), "--user", "cora", "--comment",
                         "Limitations are clear", "--comment", "Approve after monitoring",
                         "--sign", "--reason", "compliant", "-o", str(response))
    assert code == 0 and "signature" in out, err
    monkeypatch.delenv("CHARTER_DB_URL")

    # A tampered copy of the package is refused by name.
    bad = tmp_path / "bad.charter-review"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data.replace(b"sound", b"SOUND") if name == "audit.jsonl"
                         else data)
    code, _, err = cli("review", "open", str(bad))
    assert code == 1 and "audit.jsonl does not match its SHA-256" in err

    # Back at the store: the second password line makes the signature.
    code, _, err = cli("review", "import", str(response), who="cora", lines=("wrong",))
    assert code == 1 and "Wrong" in err
    code, out, err = cli("review", "import", str(response), who="cora", lines=(PW,))
    assert code == 0 and "Imported 2 comment(s)" in out and "Signed (reviewed)" in out, err
    code, out, _ = cli("signatures", "Cards@1", "--json", who="cora")
    assert [(g["meaning"], g["valid"]) for g in json.loads(out)][-1] == ("reviewed", True)
    code, out, _ = cli("audit", "list", "--action", "review.", "--json", who="cora")
    assert {e["action"] for e in json.loads(out)} == {
        "review.exported", "review.import_refused", "review.comments_imported"}
