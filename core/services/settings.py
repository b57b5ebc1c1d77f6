"""Store-wide settings (policy shared by everyone on a store)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import settings as schema
from core.entities import Changes, Principal
from core.errors import InvalidInput
from core.permissions import Action, require
from core.store.orm import SqlStoreSetting
from core.store.uow import Store
from core.timeutil import utcnow


@dataclass(frozen=True)
class SettingValue:
    spec: schema.SettingSpec
    value: Any
    is_default: bool


def read(session: Session, key: str) -> Any:
    """A store setting's value inside an open session, or its default."""
    spec = schema.spec(key)
    raw = session.execute(select(SqlStoreSetting.value).where(SqlStoreSetting.key == key)).scalar()
    return spec.default if raw is None else spec.parse(json.loads(raw))


class SettingsService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self, principal: Principal) -> list[SettingValue]:
        """Every store setting with its value; anyone signed in may read policy."""
        with self.store.unit_of_work(principal, write=False) as uow:
            stored = dict(uow.session.execute(
                select(SqlStoreSetting.key, SqlStoreSetting.value)).all())
        out = []
        for spec in schema.store_specs():
            if spec.key in stored:
                out.append(SettingValue(spec, spec.parse(json.loads(stored[spec.key])), False))
            else:
                out.append(SettingValue(spec, spec.default, True))
        return out

    def get(self, key: str) -> Any:
        with self.store.unit_of_work(None, write=False) as uow:
            return read(uow.session, key)

    def set(self, principal: Principal, key: str, raw: Any, *, reason: str) -> Changes:
        """Change a store setting. Raises PermissionDenied, NotFound (unknown key), InvalidInput.
        Audit: ``setting.changed`` with old and new values and the reason."""
        require(principal.role, Action.SETTINGS_MANAGE)
        spec = schema.spec(key)
        if spec.scope != "store":
            raise InvalidInput(f"{key} belongs to this workstation, not to the store.")
        if not reason.strip():
            raise InvalidInput("Say why the setting changes; the reason goes into the audit trail.")
        value = spec.parse(raw)
        with self.store.unit_of_work(principal) as uow:
            row = uow.session.get(SqlStoreSetting, key)
            old = spec.default if row is None else spec.parse(json.loads(row.value))
            if old == value:
                return Changes()
            if row is None:
                row = SqlStoreSetting(key=key, value="", updated_at=utcnow())
                uow.session.add(row)
            row.value = json.dumps(value)
            row.updated_at = utcnow()
            uow.record("setting.changed", "setting", key, old={"value": old},
                       new={"value": value}, reason=reason.strip())
        return Changes(settings=True, audit=True)
