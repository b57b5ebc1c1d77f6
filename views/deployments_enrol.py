"""Enrolling a server: the address and login, then its host key confirmed out of band.

"Fetch host key" asks the server for its key (``ServerService.scan``, off the GUI thread) and
shows the fingerprint with the instruction to read it to the server's administrator; Enrol is
enabled only once the person ticks that they confirmed it. Any change to the host or port
forgets the fingerprint. ``enrol`` fetches the key again and refuses it if it is no longer the
confirmed one, so a key swapped in between is never pinned. A key's passphrase goes to the OS
keyring, never to the store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.entities import Changes, Principal
from core.entities_deploy import Server
from core.errors import KnownError
from core.services.servers import ServerService
from views.error_dialog import error_text
from views.task import run_call, run_from_dialog
from views.widgets import FormDialog, plain_label

DEFAULT_ROOT = "/opt/charter"
DEFAULT_AGENT_PORT = 8080
CONFIRM_TEXT = ("Read this fingerprint to the server's administrator (or compare it with "
                "`ssh-keygen -lf` run on the server) over a channel other than this network. "
                "Enrol only if it matches: from now on Charter refuses any other key.")


class EnrolServerDialog(FormDialog):
    def __init__(self, principal: Principal, servers: ServerService,
                 parent: QWidget | None = None) -> None:
        super().__init__("Enrol a server", "Enrol", parent)
        self.setMinimumWidth(600)
        self.principal = principal
        self.servers = servers
        self.fingerprint: str | None = None
        self.fetching = False
        self.body.addWidget(plain_label(
            "A server Charter deploys to over SSH. Its host key is pinned at enrolment.",
            "hint"))
        form = QFormLayout()
        form.setVerticalSpacing(7)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. prod-1")
        self.name.setMaxLength(64)
        self.host = QLineEdit()
        self.host.setPlaceholderText("host name or IP address")
        self.port = PortField(1, 22)
        self.username = QLineEdit()
        self.username.setPlaceholderText("the login Charter uses on the server")
        self.key_path = QLineEdit()
        self.key_path.setPlaceholderText("private key file on this workstation")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(lambda: self.pick_key())
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_path, 1)
        key_row.addWidget(self.browse)
        self.use_agent = QCheckBox("Use the SSH agent instead of a key file")
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("optional; kept in the OS keyring, never in the store")
        self.root = QLineEdit(DEFAULT_ROOT)
        self.agent_port = PortField(1024, DEFAULT_AGENT_PORT)
        self.description = QLineEdit()
        self.description.setMaxLength(200)
        self.description.setPlaceholderText("optional")
        for label, field in (("Server &name", self.name), ("&Host", self.host),
                             ("SSH &port", self.port), ("SSH &user", self.username)):
            form.addRow(label, field)
        key_label = QLabel("&Key file")
        key_label.setBuddy(self.key_path)
        form.addRow(key_label, key_row)
        form.addRow("", self.use_agent)
        for label, field in (("Key pass&phrase", self.passphrase),
                             ("Deployment &folder", self.root),
                             ("&Agent port", self.agent_port),
                             ("&Description", self.description)):
            form.addRow(label, field)
        self.body.addLayout(form)
        self.fetch_button = QPushButton("Fetch host key")
        self.fetch_button.setToolTip("Ask the server for its host key, to confirm it")
        self.fetch_button.clicked.connect(lambda: self.fetch())
        self.body.addLayout(_row(self.fetch_button))
        self.body.addWidget(self._key_card())
        self.name.setFocus()
        for field in (self.name, self.host, self.username, self.key_path, self.root):
            field.textChanged.connect(self._update)
        self.use_agent.toggled.connect(self._update)
        self.confirmed.toggled.connect(self._update)
        # the fingerprint belongs to this address only
        self.host.textChanged.connect(lambda _t: self.forget_key())
        self.port.valueChanged.connect(lambda _v: self.forget_key())
        self.clear_error_when_edited(self.name, self.host, self.username, self.key_path,
                                     self.root, self.use_agent, self.passphrase)
        self._update()

    def _key_card(self) -> QFrame:
        self.card = QFrame()
        self.card.setObjectName("card")
        box = QVBoxLayout(self.card)
        box.setContentsMargins(14, 10, 14, 10)
        box.setSpacing(6)
        self.key_type = plain_label("", "fieldLabel")
        self.key_value = plain_label("")
        self.key_value.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.key_value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_value.setAccessibleName("Host key fingerprint")
        self.instruction = plain_label(CONFIRM_TEXT, "notice")
        self.confirmed = QCheckBox("I confirmed this fingerprint out of band")
        for widget in (self.key_type, self.key_value, self.instruction, self.confirmed):
            box.addWidget(widget)
        self.card.hide()
        return self.card

    # -- the host key ----------------------------------------------------------------------------
    def pick_key(self) -> None:
        start = self.key_path.text() or str(Path.home() / ".ssh")
        path, _ = QFileDialog.getOpenFileName(self, "Private key for the server", start,
                                              "All files (*)")
        if path:
            self.key_path.setText(path)

    def fetch(self) -> None:
        servers, who = self.servers, self.principal
        host, port = self.host.text().strip(), self.port.value()
        self.forget_key()
        self.fetching = True
        self.fetch_button.setText("Fetching…")
        self._update()

        def shown(key) -> None:  # noqa: ANN001 - core.deploy.ssh.HostKey
            self._fetched()
            if (self.host.text().strip(), self.port.value()) != (host, port):
                return  # edited meanwhile: that key is not for what the form says now
            self.fingerprint = key.fingerprint
            self.key_type.setText(f"{host}:{port} offers this {key.key_type} host key:")
            self.key_value.setText(key.fingerprint)
            self.card.show()
            self._update()

        def failed(err: BaseException) -> bool:
            self._fetched()
            if isinstance(err, KnownError):
                self.show_error(error_text(err))
                return True
            return False

        run_call(self, f"Fetching the host key of {host}…",
                 lambda: servers.scan(who, host, port), shown, on_failure=failed)

    def _fetched(self) -> None:
        self.fetching = False
        self.fetch_button.setText("Fetch host key")
        self._update()

    def forget_key(self) -> None:
        self.fingerprint = None
        self.confirmed.setChecked(False)
        self.card.hide()
        self._update()

    # -- the form --------------------------------------------------------------------------------
    def ready(self) -> bool:
        filled = all(f.text().strip() for f in (self.name, self.host, self.username, self.root))
        key = bool(self.key_path.text().strip()) or self.use_agent.isChecked()
        return filled and key and self.fingerprint is not None and self.confirmed.isChecked()

    def _update(self) -> None:
        self.fetch_button.setEnabled(bool(self.host.text().strip()) and not self.fetching)
        self.key_path.setEnabled(not self.use_agent.isChecked())
        self.browse.setEnabled(not self.use_agent.isChecked())
        self.ok_button.setEnabled(self.ready())
        if self.ready():
            self.ok_button.setDefault(True)

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if not busy:
            self._update()

    def values(self) -> dict:
        """Keyword arguments for ``ServerService.enrol`` (read on the GUI thread)."""
        agent = self.use_agent.isChecked()
        return {"name": self.name.text().strip(), "host": self.host.text().strip(),
                "port": self.port.value(), "username": self.username.text().strip(),
                "key_path": None if agent else self.key_path.text().strip() or None,
                "use_agent": agent, "fingerprint": self.fingerprint or "",
                "root": self.root.text().strip(), "agent_port": self.agent_port.value(),
                "passphrase": self.passphrase.text() or None,
                "description": self.description.text().strip()}


class PortField(QDoubleSpinBox):
    """A port number, looking like the console's other number fields (the style sheet's
    QSpinBox look hides its arrows); ``value()`` is an int."""

    def __init__(self, lowest: int, value: int) -> None:
        super().__init__()
        self.setDecimals(0)
        self.setRange(lowest, 65535)
        self.setValue(value)

    def value(self) -> int:
        return int(super().value())


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    row.addStretch(1)
    return row


def enrol_server(parent: QWidget, servers: ServerService, who: Principal,
                 done: Callable[[Server, Changes], None]) -> EnrolServerDialog:
    """Open the enrol dialog; Enrol runs ``ServerService.enrol`` in the background and shows a
    refusal (a key changed since it was confirmed, a name in use) inside the dialog."""
    dialog = EnrolServerDialog(who, servers, parent)

    def refused(err: BaseException) -> None:
        # the server offers another key than the one confirmed: that one is worthless now
        if dialog.fingerprint and dialog.fingerprint in getattr(err, "message", ""):
            dialog.forget_key()

    def submit() -> None:
        values = dialog.values()
        task = run_from_dialog(parent, dialog, f"Enrolling {values['name']}…",
                               lambda: servers.enrol(who, **values),
                               lambda result: done(*result))
        task.failed.connect(refused)

    dialog.submitted.connect(submit)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
