"""Screenshots of the Findings screen for a visual check (not a test): the demo store with its
portfolio in /tmp/findshotstore, a few more findings across the models (one overdue, one whose
title starts with "=" and whose description looks like markup); PNGs in /tmp/shots/findings-*.png.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python tests/gui/make_findings_screenshots.py
"""
from tests.gui.shotkit import settle, start

kit = start("findshotstore", "", portfolio=True)
app, svc, pw, STORE, qs = kit.app, kit.svc, kit.pw, kit.folder, kit.qsettings
from datetime import date, timedelta

from core.store.orm_workflow import SqlFinding
from views.findings_screen import FindingsScreen
from views.main_window import MainWindow


def shot(widget, name: str) -> None:
    kit.shot(widget, f"findings-{name}")


def who(user: str):
    return svc.auth.sign_in(user, pw[user])


victor, today = who("victor"), date.today()
for model, number, title, description, severity, owner, due in (
        ("Diabetes progression", 1, "Residuals widen above the 90th percentile",
         "Prediction intervals are too narrow for the highest-risk decile.", "medium", "dana",
         7),
        ("Wine cultivar", 1, "=Vendor documentation missing",
         "<b>No</b> training-data description from the vendor & no licence terms.", "high",
         "dana", 14),
        ("Screening classifier", 1, "Baseline lacks a challenger comparison",
         "Compare against the gradient-boosting version on the same holdout.", "low", "cora",
         None),
        ("Retail credit default", 1, "Reject inference not documented",
         "Say how declined applicants were treated when building the training set.", "high",
         "dana", 10)):
    svc.findings.record(victor, model, number, title=title, description=description,
                        severity=severity, owner=owner,
                        due_date=today + timedelta(days=due) if due is not None else None)
with svc.store.unit_of_work() as uow:  # time passes: the Retail credit finding is 4 days late
    late = uow.session.query(SqlFinding).filter_by(title="Reject inference not documented").one()
    late.due_date = today - timedelta(days=4)
print("findings set up")


def window(user: str) -> tuple[MainWindow, FindingsScreen]:
    w = MainWindow(svc, who(user), qsettings=qs, idle_interval_ms=3_600_000)
    w.resize(1300, 860)
    w.show()
    index = w.screen_titles().index("Findings")
    w.show_screen(index)
    settle()
    return w, w.screens[index]


# A model-risk validator: every finding not closed, one selected with its details.
w, screen = window("victor")
screen.select(screen.findings[1].id)
shot(w, "validator")
screen.close_button.click()
settle()
screen.dialog.reason.setText("Reject inference documented in section 4.2")
shot(screen.dialog, "close-dialog")
screen.dialog.reject()
w.close()

# Compliance: everything, high only; then overdue only.
w, screen = window("cora")
bar = screen.filters
bar.choose(bar.status, "Any status")
bar.choose(bar.severity, "High")
settle()
screen.select(next(f.id for f in screen.findings if f.title.startswith("=")))
shot(w, "compliance-high")
bar.choose(bar.severity, "Any severity")
bar.choose(bar.status, "Not closed")
bar.overdue.setChecked(True)
settle()
shot(w, "overdue")
bar.overdue.setChecked(False)
bar.text.setText("no such model")
bar.apply()
settle()
shot(w, "empty")
w.close()

# The owner: answer a finding of hers.
w, screen = window("dana")
mine = next(f for f in screen.findings if f.owner == "dana" and f.severity == "high")
screen.select(mine.id)
shot(w, "data-scientist")
screen.answer_button.click()
settle()
screen.dialog.text.setPlainText("Added the reject-inference method and its rationale to the "
                                "documentation, section 4.2.")
shot(screen.dialog, "answer-dialog")
screen.dialog.reject()
screen.open_button.click()
settle()
shot(w, "opened-version")
w.close()
