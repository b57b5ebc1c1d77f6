"""`charter prior-validation record|list` and `charter due`: a model validated before Charter
shows as overdue by its tier's interval; bad input is refused and records nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta

from test_cli import ADMIN_PW, _isolated_dirs, run, store  # noqa: F401 - shared fixtures

from core.permissions import Role

PW = "a wholly separate passphrase"


def test_prior_validation_and_the_calendar_through_the_cli(store, monkeypatch,  # noqa: F811
                                                           capsys):
    from app.container import open_services

    svc = open_services(store)
    admin = svc.auth.sign_in("root", ADMIN_PW)
    for name, role in (("dana", "data_scientist"), ("cora", "compliance_officer")):
        issued = svc.users.add(admin, name, name.title(), [Role(role)])
        svc.auth.set_password_with_code(name, issued.code, PW)
    svc.inventory.create(svc.auth.sign_in("dana", PW), "Legacy scorecard",
                         {"risk_tier": 2, "status": "in_use"})
    svc.close()

    def cli(*args, who="cora", again=True):
        stdin = PW + "\n" + (PW + "\n" if again else "")
        return run(monkeypatch, capsys, *args, "--user", who, "--password-stdin", "--db", store,
                   stdin=stdin)

    code, out, _ = cli("due", again=False)
    assert code == 0 and "Nothing due for revalidation within 30 days." in out
    when = (date.today() - timedelta(days=800)).isoformat()
    record = ("prior-validation", "record", "Legacy scorecard", "--on", when, "--reference",
              "MRM-2023-114", "--validated-by", "Model Risk Office", "--reason", "onboarding")
    code, _, err = cli(*record, who="dana")
    assert code == 1 and "validator or compliance officer" in err
    code, _, err = cli(*record[:4], (date.today() + timedelta(days=3)).isoformat(),
                       *record[5:])
    assert code == 1 and "between 1990-01-01 and today" in err
    code, out, err = cli("prior-validation", "list", "Legacy scorecard", again=False)
    assert code == 0 and "No validation before Charter is recorded" in out, err
    code, out, err = cli(*record)
    assert code == 0 and f"validated on {when} by Model Risk Office" in out, err
    code, out, err = cli("due", "--json", again=False)
    rows = json.loads(out)["revalidation"]
    assert [(r["model"], r["version"], r["tier"], r["overdue"]) for r in rows] == [
        ("Legacy scorecard", None, 2, True)], err
    code, out, _ = cli("due", again=False)
    assert out.startswith("OVERDUE ") and "(no approval in Charter)" in out
    assert "report MRM-2023-114" in out
