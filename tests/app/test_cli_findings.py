"""`charter findings list` across all models: --status, --severity, --owner, --model, --overdue,
--by-due, text and --json, on a real store."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from test_cli import ADMIN_PW, _isolated_dirs, run, store  # noqa: F401 - shared fixtures

from core.permissions import Role

PW = "a wholly separate passphrase"
TODAY = date.today()


@pytest.fixture
def portfolio(store, tmp_path):  # noqa: F811
    """Cards v1, v2 and Loans v1; findings 1-4 (see the table), #2 three days late."""
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from app.container import open_services
    from core.services.importer import ImportRequest, ImportService
    from core.store.orm_workflow import SqlFinding

    x = np.random.default_rng(4).normal(size=(80, 2))
    for i in range(2):  # two different artifacts: a version is one artifact
        sio.dump(LogisticRegression().fit(x, (x[:, i] > 0).astype(int)), tmp_path / f"m{i}.skops")
    svc = open_services(store)
    admin = svc.auth.sign_in("root", ADMIN_PW)
    for name, role in (("dana", "data_scientist"), ("erin", "data_scientist"),
                       ("victor", "validator")):
        issued = svc.users.add(admin, name, name.title(), [Role(role)])
        svc.auth.set_password_with_code(name, issued.code, PW)
    dana, victor = svc.auth.sign_in("dana", PW), svc.auth.sign_in("victor", PW)
    importer = ImportService(svc.store, svc.artifacts)
    for model, artifact in (("Cards", 0), ("Cards", 1), ("Loans", 0)):
        importer.import_version(dana, ImportRequest(model, tmp_path / f"m{artifact}.skops",
                                                    model_fields={"risk_tier": 2}))
    for model, number, title, severity, owner, due in (
            ("Cards", 1, "Thin-file segment", "high", "dana", 10),     # 1
            ("Cards", 2, "Calibration drift", "medium", "dana", 3),    # 2 (made late below)
            ("Loans", 1, "Income as a proxy", "high", "erin", None),   # 3
            ("Loans", 1, "Stale reference", "low", "erin", 20)):       # 4 (closed below)
        svc.findings.record(victor, model, number, title=title, description="", owner=owner,
                            severity=severity,
                            due_date=TODAY + timedelta(days=due) if due is not None else None)
    svc.findings.close(victor, 4, reason="Refreshed")
    with svc.store.unit_of_work() as uow:
        uow.session.get(SqlFinding, 2).due_date = TODAY - timedelta(days=3)
    svc.close()
    return store


def listed(monkeypatch, capsys, db, *args, who="erin") -> tuple[int, object, str]:
    code, out, err = run(monkeypatch, capsys, "findings", "list", *args, "--user", who,
                         "--password-stdin", "--db", db, stdin=PW + "\n")
    data = json.loads(out) if "--json" in args and code == 0 else out
    return code, data, err


def test_list_across_models_with_filters(portfolio, monkeypatch, capsys) -> None:
    def ids(*args) -> list[int]:
        code, data, err = listed(monkeypatch, capsys, portfolio, *args, "--json")
        assert code == 0, err
        return [f["id"] for f in data]

    assert ids() == [4, 3, 2, 1]
    assert ids("--status", "open") == [3, 2, 1]
    assert ids("--status", "open", "--status", "closed") == [4, 3, 2, 1]
    assert ids("--severity", "high") == [3, 1]
    assert ids("--severity", "high", "--owner", "dana") == [1]
    assert ids("--owner", "erin") == [4, 3]
    assert ids("--model", "loa") == [4, 3]
    assert ids("--overdue") == [2]
    assert ids("--by-due") == [2, 1, 4, 3]
    _, data, _ = listed(monkeypatch, capsys, portfolio, "--overdue", "--json")
    assert (data[0]["model_name"], data[0]["version_number"], data[0]["overdue"],
            data[0]["due_date"]) == ("Cards", 2, True, (TODAY - timedelta(days=3)).isoformat())


def test_text_output_flags_overdue_and_bad_combinations(portfolio, monkeypatch,
                                                        capsys) -> None:
    code, out, _ = listed(monkeypatch, capsys, portfolio, "--severity", "medium")
    assert code == 0
    late = (TODAY - timedelta(days=3)).isoformat()
    assert out.strip() == (f"#2    medium open       Cards v2: Calibration drift (owner dana, "
                           f"due {late}, OVERDUE)")
    code, out, _ = listed(monkeypatch, capsys, portfolio, "--owner", "nobody")
    assert code == 0 and out.strip() == "No findings."
    code, _, err = listed(monkeypatch, capsys, portfolio, "Cards@1", "--overdue")
    assert code == 1 and "leave out MODEL@VERSION" in err
    with pytest.raises(SystemExit) as stop:
        listed(monkeypatch, capsys, portfolio, "--status", "pending")
    assert stop.value.code == 2 and "invalid choice: 'pending'" in capsys.readouterr().err
    # A version's findings and --mine work as before.
    code, out, _ = listed(monkeypatch, capsys, portfolio, "Loans@1", "--json")
    assert [f["id"] for f in out] == [3, 4]
    code, out, _ = listed(monkeypatch, capsys, portfolio, "--mine", "--json", who="dana")
    assert [f["id"] for f in out] == [1, 2]
