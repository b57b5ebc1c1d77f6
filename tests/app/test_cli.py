"""The `charter` command line, run in-process against real stores."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser
from app.main import main
from core.permissions import Role

ADMIN_PW = "first admin passphrase"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHARTER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("CHARTER_DB_URL", raising=False)
    monkeypatch.delenv("CHARTER_USER", raising=False)


def run(monkeypatch, capsys, *args: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(tmp_path, monkeypatch, capsys) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    code, out, err = run(monkeypatch, capsys, "init", "--db", url, "--admin", "root",
                         "--name", "Root Admin", "--password-stdin", stdin=ADMIN_PW + "\n")
    assert code == 0, err
    return url


def as_admin(*args: str) -> list[str]:
    return [*args, "--user", "root", "--password-stdin"]


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    paths = [[]]
    for action in parser._subparsers._group_actions:  # noqa: SLF001
        for name, sub in action.choices.items():
            paths.append([name])
            if sub._subparsers is not None:  # noqa: SLF001
                for group in sub._subparsers._group_actions:  # noqa: SLF001
                    paths.extend([name, leaf] for leaf in group.choices)
    assert ["user", "reset-password"] in paths and ["audit", "export"] in paths
    for path in paths:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([*path, "--help"])
        assert exc.value.code == 0
        assert "usage: charter" in capsys.readouterr().out


def test_init_creates_store_once_and_refuses_weak_password(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path}/a.db"
    code, _, err = run(monkeypatch, capsys, "init", "--db", url, "--admin", "root",
                       "--password-stdin", stdin="short\n")
    assert code == 1 and "too short" in err
    code, out, _ = run(monkeypatch, capsys, "init", "--db", url, "--admin", "root", "--name",
                       "Root", "--password-stdin", "--json", stdin=ADMIN_PW + "\n")
    assert code == 0 and json.loads(out)["created_admin"] == "root"
    code, out, _ = run(monkeypatch, capsys, "init", "--db", url, "--json")
    assert code == 0 and json.loads(out)["created_admin"] is None
    with sqlite3.connect(f"{tmp_path}/a.db") as db:
        stored = db.execute("select password_hash from user_account").fetchone()[0]
    assert stored.startswith("$argon2id$") and ADMIN_PW not in stored


def test_store_is_chosen_by_flag_then_env_then_settings_then_default(tmp_path, monkeypatch,
                                                                   capsys):
    from app.container import resolve_store_url
    from core.settings import WorkstationSettings

    default = resolve_store_url(None)
    assert default == f"sqlite:///{tmp_path / 'data' / 'charter.db'}"
    WorkstationSettings().set("store.url", f"sqlite:///{tmp_path}/settings.db")
    assert resolve_store_url(None).endswith("settings.db")
    monkeypatch.setenv("CHARTER_DB_URL", f"sqlite:///{tmp_path}/env.db")
    assert resolve_store_url(None).endswith("env.db")
    assert resolve_store_url(f"sqlite:///{tmp_path}/flag.db").endswith("flag.db")


def test_user_lifecycle_through_the_cli(store, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, *as_admin("user", "add", "bob", "--name", "Bob B",
                                                       "--role", "validator", "--json",
                                                       "--db", store), stdin=ADMIN_PW + "\n")
    assert code == 0, err
    issued = json.loads(out)
    assert issued["user"]["status"] == "awaiting first sign-in"
    code_text = issued["one_time_code"]
    assert len(code_text) == 23

    # bob cannot use the one-time code as a password for a command
    code, _, err = run(monkeypatch, capsys, "user", "list", "--db", store, "--user", "bob",
                       "--password-stdin", stdin=code_text + "\n")
    assert code == 1 and "Choose your own password" in err

    code, out, _ = run(monkeypatch, capsys, *as_admin("user", "roles", "bob", "--set",
                                                     "validator", "--set", "manager", "--reason",
                                                     "covers approvals", "--db", store,
                                                     "--json"), stdin=ADMIN_PW + "\n")
    assert code == 0 and json.loads(out)["roles"] == ["validator", "manager"]

    code, _, err = run(monkeypatch, capsys, *as_admin("user", "roles", "bob", "--set",
                                                     "administrator", "--set", "manager",
                                                     "--reason", "x", "--db", store),
                       stdin=ADMIN_PW + "\n")
    assert code == 1 and "cannot be combined" in err

    code, out, _ = run(monkeypatch, capsys, *as_admin("user", "reset-password", "bob", "--reason",
                                                     "lost", "--db", store, "--json"),
                       stdin=ADMIN_PW + "\n")
    assert code == 0 and json.loads(out)["one_time_code"] != code_text

    code, _, _ = run(monkeypatch, capsys, *as_admin("user", "disable", "bob", "--reason", "left",
                                                   "--db", store), stdin=ADMIN_PW + "\n")
    assert code == 0
    code, out, _ = run(monkeypatch, capsys, *as_admin("user", "list", "--db", store, "--json"),
                       stdin=ADMIN_PW + "\n")
    status = {u["username"]: u["status"] for u in json.loads(out)}
    assert status == {"bob": "disabled", "root": "active"}

    code, _, err = run(monkeypatch, capsys, *as_admin("user", "disable", "root", "--reason", "x",
                                                     "--db", store), stdin=ADMIN_PW + "\n")
    assert code == 1 and "your own account" in err

    code, out, _ = run(monkeypatch, capsys, *as_admin("audit", "list", "--action", "user.",
                                                     "--db", store, "--json"),
                       stdin=ADMIN_PW + "\n")
    actions = [e["action"] for e in json.loads(out)]
    assert actions == ["user.disabled", "user.password_reset", "user.roles_changed",
                       "user.created", "user.created"]


def test_wrong_password_and_missing_user_are_refused(store, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "user", "list", "--db", store, "--user", "root",
                       "--password-stdin", stdin="not the password\n")
    assert code == 1 and "Wrong user name or password" in err
    code, _, err = run(monkeypatch, capsys, "user", "list", "--db", store)
    assert code == 1 and "--user NAME" in err
    code, _, err = run(monkeypatch, capsys, "user", "list", "--db", store, "--user", "root")
    assert code == 1 and "--password-stdin" in err  # no terminal to ask on


def test_only_permitted_roles_manage_users(store, monkeypatch, capsys):
    _, out, _ = run(monkeypatch, capsys, *as_admin("user", "add", "eve", "--name", "Eve",
                                                  "--role", "executive", "--db", store, "--json"),
                    stdin=ADMIN_PW + "\n")
    from app.container import open_services

    svc = open_services(store)
    svc.auth.set_password_with_code("eve", json.loads(out)["one_time_code"], "a wholly separate passphrase")
    svc.close()
    code, _, err = run(monkeypatch, capsys, "user", "list", "--db", store, "--user", "eve",
                       "--password-stdin", stdin="a wholly separate passphrase\n")
    assert code == 1 and "may not do this" in err
    code, _, err = run(monkeypatch, capsys, "audit", "verify", "--db", store, "--user", "eve",
                       "--password-stdin", stdin="a wholly separate passphrase\n")
    assert code == 1 and "Compliance officer" in err


def test_audit_verify_export_and_reverify(store, tmp_path, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, *as_admin("audit", "verify", "--db", store, "--json"),
                       stdin=ADMIN_PW + "\n")
    assert code == 0 and json.loads(out)["intact"] is True
    for flag, name in (("--csv", "t.csv"), ("--json-file", "t.json")):
        target = tmp_path / name
        code, out, _ = run(monkeypatch, capsys, *as_admin("audit", "export", flag, "-o",
                                                         str(target), "--db", store, "--json"),
                           stdin=ADMIN_PW + "\n")
        assert code == 0 and json.loads(out)["events"] >= 4
        code, out, _ = run(monkeypatch, capsys, "audit", "verify", "--file", str(target),
                           "--json")
        assert code == 0 and json.loads(out)["intact"] is True

    data = json.loads((tmp_path / "t.json").read_text())
    data["events"][1]["actor"] = "mallory"
    (tmp_path / "t.json").write_text(json.dumps(data))
    code, out, _ = run(monkeypatch, capsys, "audit", "verify", "--file", str(tmp_path / "t.json"),
                       "--json")
    report = json.loads(out)
    assert code == 3 and report["first_bad_seq"] == 2 and report["problem"] == "altered"


def test_broken_store_trail_exits_3_and_names_event(store, tmp_path, monkeypatch, capsys):
    path = store.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("drop trigger audit_event_no_update")
        db.execute("update audit_event set reason = 'rewritten' where seq = 2")
    code, out, _ = run(monkeypatch, capsys, *as_admin("audit", "verify", "--db", store),
                       stdin=ADMIN_PW + "\n")
    assert code == 3 and "Event #2 was altered" in out


def test_settings_set_and_bad_value(store, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, *as_admin("settings", "set",
                                                     "auth.max_failed_sign_ins", "many",
                                                     "--reason", "x", "--db", store),
                       stdin=ADMIN_PW + "\n")
    assert code == 1 and "must be a int" not in err and "auth.max_failed_sign_ins" in err
    code, _, _ = run(monkeypatch, capsys, *as_admin("settings", "set", "auth.max_failed_sign_ins",
                                                   "3", "--reason", "policy 4.2", "--db", store),
                     stdin=ADMIN_PW + "\n")
    assert code == 0
    code, out, _ = run(monkeypatch, capsys, *as_admin("settings", "list", "--db", store, "--json"),
                       stdin=ADMIN_PW + "\n")
    assert {s["key"]: s["value"] for s in json.loads(out)}["auth.max_failed_sign_ins"] == 3


def test_demo_store_prints_passwords_once_and_is_marked(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "demo", "--json")
    data = json.loads(out)
    assert code == 0 and {a["role"] for a in data["accounts"]} == {
        "administrator", "data_scientist", "validator", "compliance_officer", "manager",
        "it_operations", "executive"}
    code, out, _ = run(monkeypatch, capsys, "demo", "--if-missing")
    assert code == 0 and "demo-" not in out  # passwords are not shown again
    code, _, err = run(monkeypatch, capsys, "demo")
    assert code == 1 and "--reset" in err
    from app.container import open_services, resolve_store_url

    svc = open_services(resolve_store_url(None, demo=True))
    assert svc.demo is True
    svc.close()


def test_demo_store_is_never_made_in_a_shared_database(pg_url, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "demo", "--reset", "--db", pg_url)
    assert code == 1 and "SQLite file of its own" in err


def test_missing_store_and_unsupported_url(tmp_path, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "user", "list", "--db", f"sqlite:///{tmp_path}/no.db",
                       "--user", "x", "--password-stdin", stdin="x\n")
    assert code == 1 and "charter init" in err
    code, _, err = run(monkeypatch, capsys, "db", "status", "--db", "mysql://h/db")
    assert code == 1 and "SQLite or PostgreSQL" in err


def test_gui_without_display_says_what_to_do(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CHARTER_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "app.main", "--db",
                           f"sqlite:///{tmp_path}/x.db"], capture_output=True, text=True,
                          env=env, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert proc.returncode == 2
    assert "xvfb-run" in proc.stderr and "display" in proc.stderr


def test_postgres_store_through_cli(pg_url, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "init", "--db", pg_url, "--admin", "root",
                       "--name", "Root", "--password-stdin", stdin=ADMIN_PW + "\n")
    assert code == 0, err
    code, out, _ = run(monkeypatch, capsys, "db", "status", "--db", pg_url, "--json")
    assert json.loads(out)["up_to_date"] is True
    assert ":" not in json.loads(out)["store"].split("@")[0].removeprefix("postgresql+psycopg://")
    code, out, _ = run(monkeypatch, capsys, *as_admin("audit", "verify", "--db", pg_url,
                                                     "--json"), stdin=ADMIN_PW + "\n")
    assert code == 0 and json.loads(out)["events"] >= 3


def test_import_and_models_commands(store, tmp_path, monkeypatch, capsys):
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"income": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
                          "age": [20, 30, 40, 50, 60, 70]})
    y = [0, 0, 0, 1, 1, 1]
    sio.dump(LogisticRegression().fit(frame, y), tmp_path / "m.skops")
    frame.assign(target=y).to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "meta.yaml").write_text(
        "fields:\n  purpose: Cards PD\n  risk_tier: 2\nmetrics:\n  auc: 0.9\ncode_ref: git:1\n")
    run(monkeypatch, capsys, *as_admin("user", "add", "dana", "--name", "Dana", "--role",
                                       "data_scientist", "--db", store, "--json"),
        stdin=ADMIN_PW + "\n")
    from app.container import open_services

    svc = open_services(store)
    issued = svc.users.reset_password(svc.auth.sign_in("root", ADMIN_PW), "dana", reason="t")
    svc.auth.set_password_with_code("dana", issued.code, "a wholly separate passphrase")
    svc.close()
    dana = ["--user", "dana", "--password-stdin", "--db", store]
    pw = "a wholly separate passphrase\n"
    code, out, err = run(monkeypatch, capsys, "import", str(tmp_path / "m.skops"), "--model",
                         "Cards PD", "--training", str(tmp_path / "train.csv"), "--metadata",
                         str(tmp_path / "meta.yaml"), "--json", *dana, stdin=pw)
    assert code == 0, err
    version = json.loads(out)
    assert (version["number"], version["artifact_format"], version["metrics"]) == (
        1, "skops", {"auc": 0.9})
    code, out, _ = run(monkeypatch, capsys, "models", "list", "--json", *dana, stdin=pw)
    assert [(m["name"], m["risk_tier"], m["version_count"]) for m in json.loads(out)] == [
        ("Cards PD", 2, 1)]
    code, out, _ = run(monkeypatch, capsys, "models", "show", "Cards PD", *dana, stdin=pw)
    assert code == 0 and "v1" in out and "Missing:" in out
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run(monkeypatch, capsys, "import", str(tmp_path / "notes.txt"), "--model",
                       "Notes", *dana, stdin=pw)
    assert code == 1 and ".skops" in err
    (tmp_path / "bad.yaml").write_text("colour: red\n")
    code, _, err = run(monkeypatch, capsys, "import", str(tmp_path / "m.skops"), "--model", "Y",
                       "--metadata", str(tmp_path / "bad.yaml"), *dana, stdin=pw)
    assert "Notes" not in run(monkeypatch, capsys, "models", "list", *dana, stdin=pw)[1]
    assert code == 1 and "unknown keys: colour" in err


def test_evaluate_and_documentation_commands(store, tmp_path, monkeypatch, capsys):
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from pypdf import PdfReader
    from sklearn.linear_model import LogisticRegression

    rnd = np.random.default_rng(1)
    frame = pd.DataFrame({"income": rnd.normal(50, 10, 800), "age": rnd.integers(20, 70, 800)})
    y = (frame["income"] + rnd.normal(0, 8, 800) > 50).astype(int)
    sio.dump(LogisticRegression().fit(frame[:400], y[:400]), tmp_path / "m.skops")
    frame.assign(target=y, sex=rnd.choice(["f", "m"], 800))[400:].to_csv(
        tmp_path / "holdout.csv", index=False)
    run(monkeypatch, capsys, *as_admin("user", "add", "val", "--name", "Val", "--role",
                                       "validator", "--role", "data_scientist", "--db", store),
        stdin=ADMIN_PW + "\n")
    from app.container import open_services

    svc = open_services(store)
    issued = svc.users.reset_password(svc.auth.sign_in("root", ADMIN_PW), "val", reason="t")
    svc.auth.set_password_with_code("val", issued.code, "a wholly separate passphrase")
    svc.close()
    me = ["--user", "val", "--as-role", "data_scientist", "--password-stdin", "--db", store]
    pw = "a wholly separate passphrase\n"
    code, _, err = run(monkeypatch, capsys, "import", str(tmp_path / "m.skops"), "--model",
                       "Cards PD", "--field", "risk_tier=1", *me, stdin=pw)
    assert code == 0, err
    code, out, err = run(monkeypatch, capsys, "evaluate", "Cards PD@1", "--holdout",
                         str(tmp_path / "holdout.csv"), "--sensitive", "sex", "--shap-rows",
                         "200", "--json", *me, stdin=pw)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["kind"] == "binary" and 0.5 < summary["metrics"]["roc_auc"] <= 1
    assert summary["gates"]["tier_used"] == 1 and summary["top_features"][0] == "income"
    assert len(summary["evidence_sha256"]) == 64
    code, out, err = run(monkeypatch, capsys, "evaluate", "Cards PD@1", "--holdout",
                         str(tmp_path / "holdout.csv"), "--sensitive", "sex", "--no-explain", *me,
                         stdin=pw)
    assert code == 0 and "Gates (tier 1)" in out and "roc_auc" in out, err
    # Bad input: a missing feature column, said clearly, exit 1.
    frame.assign(target=y)[["income", "target"]].to_csv(tmp_path / "bad.csv", index=False)
    code, _, err = run(monkeypatch, capsys, "evaluate", "Cards PD@1", "--holdout",
                       str(tmp_path / "bad.csv"), *me, stdin=pw)
    assert code == 1 and "age" in err and "missing" in err.lower()
    pdf = tmp_path / "doc.pdf"
    code, out, err = run(monkeypatch, capsys, "report", "documentation", "Cards PD@1", "-o",
                         str(pdf), "--json", *me, stdin=pw)
    assert code == 0, err
    record = json.loads(out)
    assert record["pdf_sha256"] == __import__("hashlib").sha256(pdf.read_bytes()).hexdigest()
    reader = PdfReader(pdf)
    assert len(reader.pages) == record["pages"] > 1
    assert "Cards PD" in reader.pages[0].extract_text()
    code, _, err = run(monkeypatch, capsys, "report", "documentation", "Cards PD@9", "-o",
                       str(tmp_path / "x.pdf"), *me, stdin=pw)
    assert code == 1 and "no version 9" in err and not (tmp_path / "x.pdf").exists()


def test_workflow_commands_sign_with_the_password_given_again(store, tmp_path, monkeypatch,
                                                              capsys):
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"income": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
                          "age": [20, 30, 40, 50, 60, 70]})
    sio.dump(LogisticRegression().fit(frame, [0, 0, 0, 1, 1, 1]), tmp_path / "m.skops")
    from app.container import open_services

    svc = open_services(store)
    admin = svc.auth.sign_in("root", ADMIN_PW)
    pw = "a wholly separate passphrase"
    for name, role in (("dana", "data_scientist"), ("victor", "validator"), ("max", "manager")):
        issued = svc.users.add(admin, name, name.title(), [Role(role)])
        svc.auth.set_password_with_code(name, issued.code, pw)
    svc.close()

    def as_(who):
        return ["--user", who, "--password-stdin", "--db", store]

    code, _, err = run(monkeypatch, capsys, "import", str(tmp_path / "m.skops"), "--model", "Cards",
                       "--field", "risk_tier=3", *as_("dana"), stdin=pw + "\n")
    assert code == 0, err
    code, _, err = run(monkeypatch, capsys, "report", "documentation", "Cards@1", "-o",
                       str(tmp_path / "d.pdf"), *as_("dana"), stdin=pw + "\n")
    assert code == 0, err
    # The signature needs the password a second time: a missing or wrong one changes nothing.
    code, _, err = run(monkeypatch, capsys, "submit", "Cards@1", "--reason", "ready",
                       *as_("dana"), stdin=pw + "\n")
    assert code == 1 and "standard input is empty" in err
    code, _, err = run(monkeypatch, capsys, "submit", "Cards@1", "--reason", "ready",
                       *as_("dana"), stdin=pw + "\nwrong\n")
    assert code == 1 and "Wrong" in err
    code, out, err = run(monkeypatch, capsys, "submit", "Cards@1", "--reason", "ready", "--json",
                         *as_("dana"), stdin=f"{pw}\n{pw}\n")
    assert code == 0 and json.loads(out)["state"] == "submitted", err
    code, out, err = run(monkeypatch, capsys, "findings", "add", "Cards@1", "--title", "Drift",
                         "--severity", "low", "--owner", "dana", "--json", *as_("victor"),
                         stdin=pw + "\n")
    assert code == 0 and json.loads(out)["status"] == "open", err
    code, out, _ = run(monkeypatch, capsys, "findings", "list", "--mine", *as_("dana"),
                       stdin=pw + "\n")
    assert "Drift" in out and "low" in out
    code, out, err = run(monkeypatch, capsys, "approve", "Cards@1", "--reason", "fine",
                         "--expect-state", "submitted", *as_("max"), stdin=f"{pw}\n{pw}\n")
    assert code == 0 and "now approved" in out and "Signed (approved)" in out, err
    code, out, _ = run(monkeypatch, capsys, "signatures", "Cards@1", "--json", *as_("max"),
                       stdin=pw + "\n")
    assert [(g["meaning"], g["valid"]) for g in json.loads(out)] == [
        ("authored", True), ("approved", True)]
    code, _, err = run(monkeypatch, capsys, "approve", "Cards@1", "--reason", "again",
                       *as_("max"), stdin=f"{pw}\n{pw}\n")
    assert code == 1 and "approved meanwhile" in err
