"""The console's status bar: who, in which role, on which store, and the audit trail's state."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from core.entities import Principal, VerifyReport
from core.errors import KnownError
from core.permissions import Action, Role
from views.services import ServicesLike
from views.widgets import plain_label


class StatusPanel(QWidget):
    role_requested = Signal(object)  # Role

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.principal = principal
        self.verify_text: str | None = None
        self.verify_ok = True
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.setSpacing(4)
        if services.demo:
            self.demo_badge = plain_label("DEMO", "demoBadge", wrap=False)
            self.demo_badge.setToolTip("This is a demo store: its users and data are not real.")
            row.addWidget(self.demo_badge)
        else:
            self.demo_badge = None
        self.user_label = plain_label(principal.display_name, wrap=False)
        self.user_label.setToolTip(f"Signed in as {principal.username}")
        row.addWidget(self.user_label)
        self.role_combo: QComboBox | None = None
        if len(principal.roles) > 1:
            self.role_combo = QComboBox()
            self.role_combo.setToolTip("Switch role (recorded in the audit trail)")
            self.role_combo.setAccessibleName("Role")
            for role in principal.roles:
                self.role_combo.addItem(role.label, role.value)
            self.role_combo.setCurrentIndex(principal.roles.index(principal.role))
            self.role_combo.activated.connect(self._role_chosen)
            row.addWidget(self.role_combo)
            self.role_label = None
        else:
            self.role_label = plain_label(principal.role.label, wrap=False)
            row.addWidget(self.role_label)
        self.store_label = plain_label(f"Store: {services.store.location}", wrap=False)
        row.addWidget(self._sep())
        row.addWidget(self.store_label)
        self.audit_label = plain_label("", wrap=False)
        if principal.may(Action.AUDIT_READ):
            row.addWidget(self._sep())
            row.addWidget(self.audit_label)
            self.refresh_audit()
        else:
            self.audit_label.hide()

    @staticmethod
    def _sep() -> QLabel:
        sep = QLabel("·")
        sep.setObjectName("separator")
        return sep

    def _role_chosen(self, index: int) -> None:
        role = Role(self.role_combo.itemData(index))
        if role != self.principal.role:
            self.role_requested.emit(role)

    def show_role(self, role: Role) -> None:
        if self.role_combo is not None:
            self.role_combo.setCurrentIndex(self.principal.roles.index(role))

    def refresh_audit(self) -> None:
        if not self.principal.may(Action.AUDIT_READ):
            return
        try:
            count, _hash = self.services.audit.head(self.principal)
        except KnownError as err:
            self.audit_label.setText(f"Audit trail: unavailable ({err.message})")
            return
        text = f"Audit trail: {count:,} events"
        if self.verify_text:
            text += f" · {self.verify_text}"
        self.audit_label.setText(text)
        self.audit_label.setObjectName("auditOk" if self.verify_ok else "auditBad")
        self.audit_label.style().unpolish(self.audit_label)
        self.audit_label.style().polish(self.audit_label)

    def set_verify_result(self, report: VerifyReport) -> None:
        when = QDateTime.currentDateTime().toString("HH:mm")
        self.verify_ok = report.ok
        if report.ok:
            self.verify_text = f"verified intact at {when}"
        else:
            self.verify_text = f"BROKEN at event #{report.first_bad_seq} (checked {when})"
        self.refresh_audit()


def set_elided(label: QLabel, text: str, width: int) -> None:
    metrics = label.fontMetrics()
    label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, width))
    label.setToolTip(text)
