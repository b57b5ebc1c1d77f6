"""Home: a welcome page that says which screens this role has now and which are coming."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget

from core.entities import Principal
from views.screen import PLANNED, Screen
from views.services import ServicesLike
from views.widgets import plain_label


class HomeScreen(Screen):
    def __init__(self, services: ServicesLike, principal: Principal,
                 available: list[str], parent: QWidget | None = None) -> None:
        super().__init__(services, principal, parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(14)
        self.welcome = plain_label(f"Welcome, {principal.display_name}", "screenTitle")
        layout.addWidget(self.welcome)
        layout.addWidget(plain_label(
            f"You are working as {principal.role.label} on this store.", "screenSubtitle"))
        card = QFrame()
        card.setObjectName("card")
        box = QVBoxLayout(card)
        box.setContentsMargins(18, 14, 18, 16)
        box.setSpacing(6)
        if available:
            box.addWidget(plain_label("Available to you now", "sectionTitle"))
            box.addWidget(plain_label("   •  " + "\n   •  ".join(available)))
        else:
            box.addWidget(plain_label(
                "Your role has no screens in this version of Charter yet.", "sectionTitle"))
        coming = [p for p in PLANNED if principal.may(p.action)]
        if coming:
            box.addWidget(plain_label("Coming in later versions", "sectionTitle"))
            self.coming = plain_label("\n".join(f"   •  {p.title} — {p.summary}"
                                                for p in coming))
            box.addWidget(self.coming)
        else:
            self.coming = plain_label("")
        layout.addWidget(card)
        layout.addWidget(plain_label(
            "Keyboard: Ctrl+1…9 open screens, F5 refreshes, Ctrl+F goes to a filter, "
            "Ctrl+L locks the console, Ctrl+Q quits.", "hint"))
        layout.addStretch(1)
