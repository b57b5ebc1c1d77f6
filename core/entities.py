"""Plain domain entities. Views and the CLI only ever see these, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from core.permissions import Action, Role, allowed

T = TypeVar("T")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    email: str | None
    roles: tuple[Role, ...]
    disabled: bool
    locked: bool
    must_set_password: bool
    failed_sign_ins: int
    created_at: datetime
    last_sign_in_at: datetime | None
    password_changed_at: datetime | None

    @property
    def status(self) -> str:
        if self.disabled:
            return "disabled"
        if self.locked:
            return "locked"
        if self.must_set_password:
            return "awaiting first sign-in"
        return "active"


@dataclass(frozen=True)
class Principal:
    """Who is acting: a signed-in user, acting in one of their roles, at one workstation."""

    user_id: int
    username: str
    display_name: str
    role: Role
    roles: tuple[Role, ...]
    workstation: str

    def may(self, action: Action) -> bool:
        return allowed(self.role, action)


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts: datetime
    actor: str | None
    role: str | None
    workstation: str
    action: str
    object_type: str
    object_id: str
    old_values: str | None
    new_values: str | None
    reason: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." such as "user."
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: int | None  # keyset cursor: pass it back to get the next page; None at the end


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    count: int
    last_hash: str | None
    first_bad_seq: int | None = None
    problem: str | None = None  # "altered", "removed", "reordered", "truncated"
    message: str = ""


@dataclass(frozen=True)
class Changes:
    """What a service call changed; views broadcast it and each screen decides to refresh."""

    users: bool = False
    audit: bool = False
    settings: bool = False
    kinds: frozenset[str] = field(default_factory=frozenset)
