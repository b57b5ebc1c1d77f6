"""The dialog of one workflow step. A step that signs shows what the electronic signature will
record (printed name, meaning, time in UTC and local time, the SHA-256 of the artifact and of
the newest documentation PDF) and asks for a reason and the signer's password again; a step
that does not sign asks only for the reason.

The screen runs the transition with ``expected_state`` = the state shown here, so a version
that moved on while the dialog was open is refused ("changed while you were deciding") and
the message appears in the dialog; nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QFormLayout, QFrame, QLineEdit, QWidget

from core.entities import Principal
from core.entities_registry import ModelVersion
from core.entities_validation import Documentation
from core.errors import AccountDisabled, AccountLocked, AuthenticationFailed
from core.workflow.lifecycle import STATE_LABELS, Transition
from views.approvals_tables import MEANING_LABELS
from views.error_dialog import error_text
from views.widgets import FormDialog, plain_label, reason_field

MEANING_TEXT = {
    "authored": "I authored this version and submit it for independent validation.",
    "validated": "I independently validated this version.",
    "reviewed": "I reviewed this version for compliance.",
    "approved": "I approve this version for use.",
    "rejected": "I reject this version for use.",
}


def time_text(now: datetime) -> str:
    local = now.astimezone()
    return (f"{now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"({local:%H:%M:%S %Z} local), recorded when you sign")


class SignDialog(FormDialog):
    def __init__(self, principal: Principal, version: ModelVersion, step: Transition,
                 documentation: Documentation | None, parent: QWidget | None = None) -> None:
        signs = step.meaning is not None
        super().__init__(f"{step.label} — {version.model_name} version {version.number}",
                         "Sign" if signs else step.label, parent)
        self.setMinimumWidth(640)
        self.step = step
        self.expected_state = version.state
        self.body.addWidget(plain_label(
            f"{step.label}: {version.model_name} version {version.number}, now "
            f"{STATE_LABELS.get(version.state, version.state)}.", "sectionTitle"))
        self.time_value = plain_label("")
        self.password: QLineEdit | None = None
        if signs:
            self.body.addWidget(self._record_card(principal, version, step, documentation))
        self.reason = reason_field()
        self.body.addWidget(plain_label("Reason", "fieldLabel"))
        self.body.addWidget(self.reason)
        if signs:
            self.password = QLineEdit()
            self.password.setEchoMode(QLineEdit.EchoMode.Password)
            self.password.setAccessibleName("Password")
            self.password.setPlaceholderText(f"Password of {principal.username}")
            self.body.addWidget(plain_label(
                "Your password, entered again: it makes this your signature.", "fieldLabel"))
            self.body.addWidget(self.password)
            self.password.textChanged.connect(self._update_ok)
        self.reason.textChanged.connect(self._update_ok)
        self.reason.setFocus()
        self._update_ok()
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._tick)
        self._tick()
        if signs:
            self.clock.start()

    def _record_card(self, principal: Principal, version: ModelVersion, step: Transition,
                     documentation: Documentation | None) -> QFrame:
        card = QFrame()
        card.setObjectName("card")
        form = QFormLayout(card)
        form.setContentsMargins(14, 10, 14, 10)
        form.setVerticalSpacing(6)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        def row(label: str, text: str, *, fixed: bool = False) -> None:
            value = plain_label(text)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if fixed:
                value.setFont(mono)
            form.addRow(plain_label(label, "fieldLabel", wrap=False), value)

        row("Signer", f"{principal.display_name} ({principal.username}, "
                      f"{principal.role.label})")
        row("Meaning", f"{MEANING_LABELS[step.meaning]}: {MEANING_TEXT[step.meaning]}")
        form.addRow(plain_label("Time", "fieldLabel", wrap=False), self.time_value)
        row("Artifact SHA-256", version.artifact_sha256, fixed=True)
        if documentation is not None:
            row("Documentation PDF", f"#{documentation.id}, SHA-256 "
                                     f"{documentation.pdf_sha256}", fixed=True)
        else:
            row("Documentation PDF",
                "none generated yet" + ("" if step.meaning == "authored" else
                                        ": generate it on the Validation tab first"))
        return card

    def _tick(self) -> None:
        self.time_value.setText(time_text(datetime.now(UTC)))

    def _update_ok(self) -> None:
        ready = bool(self.reason.text().strip())
        if self.password is not None:
            ready = ready and bool(self.password.text())
        self.ok_button.setEnabled(ready)
        if ready:  # a disabled default button loses the role to Cancel; give it back
            self.ok_button.setDefault(True)

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if not busy:
            self._update_ok()

    def reason_text(self) -> str:
        return self.reason.text().strip()

    def password_text(self) -> str | None:
        return self.password.text() if self.password is not None else None


def password_refused(dialog: QDialog, err: BaseException,
                     end_session: Callable[[str], None]) -> None:
    """After a dialog's password was refused: a locked or disabled account closes the dialog
    and ends the session (``end_session`` gets the message); a wrong password is cleared for
    another try. ``dialog.password`` is its password field (None: it has none)."""
    if isinstance(err, AccountLocked | AccountDisabled):
        dialog.reject()
        end_session(error_text(err))
    elif isinstance(err, AuthenticationFailed) and getattr(dialog, "password", None) is not None:
        dialog.password.clear()
        dialog.password.setFocus()
