"""What every screen of the console shares, and the list of screens with their permissions."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from core.entities import Changes, Principal
from core.permissions import Action
from views.services import ServicesLike


class Screen(QWidget):
    """A page of the console. Screens report what they changed on ``changes_made``; the main
    window broadcasts every ``Changes`` to all screens through :meth:`on_changes`."""

    changes_made = Signal(object)  # core.entities.Changes
    # The account was locked or disabled while re-entering a password to sign: the window
    # signs out, showing this message at sign-in.
    session_ended = Signal(str)

    def __init__(self, services: ServicesLike, principal: Principal,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.principal = principal

    def refresh(self) -> None:
        """Reload from the store (F5)."""

    def on_changes(self, changes: Changes) -> None:
        """Something changed somewhere; refresh if it concerns this screen."""

    def focus_filter(self) -> None:
        """Ctrl+F: put the keyboard focus in this screen's filter, if it has one."""


@dataclass(frozen=True)
class PlannedScreen:
    """A screen of a later issue: listed on the home page for the roles that will see it."""

    title: str
    action: Action
    summary: str


PLANNED: tuple[PlannedScreen, ...] = (
    PlannedScreen("Monitoring", Action.MONITORING_READ, "drift, performance and alerts"),
    PlannedScreen("Portfolio", Action.PORTFOLIO_READ, "dashboards across all models"),
)
