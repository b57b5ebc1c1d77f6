"""The model inventory: create, edit, retire, search and read models and their versions.

Models are retired, never deleted (database triggers refuse deletes); a retired model stays
searchable. Every change is audited with old and new values.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from core.entities import Changes, Page, Principal
from core.entities_registry import (
    DATA_CLASSIFICATIONS,
    SOURCES,
    STATUSES,
    Model,
    ModelFilter,
    ModelVersion,
)
from core.errors import AlreadyExists, InvalidInput, NotFound
from core.permissions import Action, require
from core.store.orm_registry import SqlDataset, SqlModel, SqlModelVersion, SqlVersionDataset
from core.store.uow import Store, UnitOfWork
from core.timeutil import utcnow

EDITABLE = ("purpose", "intended_use", "restrictions", "products", "methodology",
            "business_owner", "developer", "risk_tier", "data_classification",
            "uses_personal_data", "source", "vendor_name", "status", "limitations",
            "monitoring_plan")
_TEXT_LIMITS = {"business_owner": 200, "developer": 200, "vendor_name": 200}
_BIDI_AND_CONTROL = {"Cc", "Cf"}  # control characters; Cf holds the bidirectional overrides


def check_text(label: str, value: str, *, limit: int = 20_000, multiline: bool = True) -> str:
    """Refuse control and bidirectional-formatting characters (they can make a name read
    differently from what it is) and overlong text; returns the stripped text."""
    value = value.strip()
    for ch in value:
        if multiline and ch in "\n\t":
            continue
        if unicodedata.category(ch) in _BIDI_AND_CONTROL:
            raise InvalidInput(
                f"The {label} contains an invisible control or direction character "
                f"(U+{ord(ch):04X}).", hint="Retype it without pasting formatted text.")
    if len(value) > limit:
        raise InvalidInput(f"The {label} is longer than {limit:,} characters.")
    return value


def check_model_name(name: str) -> str:
    name = check_text("model name", name, limit=200, multiline=False)
    if len(name) < 2:
        raise InvalidInput("A model name needs at least two characters.")
    return name


def _clean(field: str, value: Any) -> Any:
    """Validate one inventory field; raises InvalidInput naming the field and the rule."""
    if field == "risk_tier":
        if value in (None, ""):
            return None
        try:
            tier = int(value)
        except (TypeError, ValueError):
            tier = 0
        if tier not in (1, 2, 3):
            raise InvalidInput(f"Risk tier must be 1 (high), 2 or 3; got {value!r}.")
        return tier
    if field == "uses_personal_data":
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"yes", "true", "1"}:
            return True
        if text in {"no", "false", "0"}:
            return False
        raise InvalidInput(f"'Uses personal data' must be yes or no; got {value!r}.")
    choices = {"data_classification": DATA_CLASSIFICATIONS, "source": SOURCES,
               "status": STATUSES}.get(field)
    text = check_text(field.replace("_", " "), str(value or ""),
                      limit=_TEXT_LIMITS.get(field, 20_000),
                      multiline=field not in _TEXT_LIMITS)
    if choices is not None and text and text not in choices:
        raise InvalidInput(f"{field.replace('_', ' ').capitalize()} must be one of "
                           f"{', '.join(choices)}; got {text!r}.")
    return text


def clean_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validated inventory fields; raises InvalidInput naming an unknown field or a bad value."""
    return {k: _clean(k, v) for k, v in values.items() if InventoryService._known(k)}


def add_model(uow: UnitOfWork, principal: Principal, name: str,
              fields: Mapping[str, Any]) -> SqlModel:
    """Insert a model with already-checked name and fields, inside the caller's unit of work.
    Audit: ``model.created``."""
    now = utcnow()
    row = SqlModel(name=name, created_at=now, updated_at=now, created_by=principal.username,
                   **fields)
    uow.session.add(row)
    uow.session.flush()
    uow.record("model.created", "model", name, new={"name": name, **fields})
    return row


def model_row(session: Session, name: str) -> SqlModel:
    row = session.execute(select(SqlModel).where(SqlModel.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"There is no model named {name!r}.",
                       hint="`charter models list` shows the inventory.")
    return row


def _entity(session: Session, row: SqlModel) -> Model:
    count, latest = session.execute(
        select(func.count(SqlModelVersion.id), func.max(SqlModelVersion.number))
        .where(SqlModelVersion.model_id == row.id)).one()
    return row.to_entity(count, latest)


def version_entity(session: Session, row: SqlModelVersion, model_name: str) -> ModelVersion:
    links = session.execute(
        select(SqlDataset, SqlVersionDataset.role).join(SqlVersionDataset)
        .where(SqlVersionDataset.version_id == row.id).order_by(SqlVersionDataset.role)).all()
    return row.to_entity(model_name, tuple(ds.to_entity(role) for ds, role in links))


class InventoryService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, principal: Principal, name: str, values: Mapping[str, Any] | None = None
               ) -> tuple[Model, Changes]:
        """Add a model to the inventory. Raises PermissionDenied, InvalidInput, AlreadyExists.
        Audit: ``model.created`` with every field given."""
        require(principal.role, Action.MODEL_IMPORT)
        name = check_model_name(name)
        given = clean_fields(values or {})
        with self.store.unit_of_work(principal) as uow:
            if uow.session.execute(select(SqlModel.id).where(SqlModel.name == name)).scalar():
                raise AlreadyExists(f"A model named {name!r} is already in the inventory.",
                                    hint="Import a new version of it instead.")
            model = _entity(uow.session, add_model(uow, principal, name, given))
        return model, Changes(kinds=frozenset({"models"}), audit=True)

    def update(self, principal: Principal, name: str, values: Mapping[str, Any], *,
               reason: str) -> tuple[Model, Changes]:
        """Change inventory fields (not the name). Audit: ``model.updated`` with old and new
        values of the fields that changed."""
        require(principal.role, Action.MODEL_EDIT)
        if not reason.strip():
            raise InvalidInput("Say why the inventory record changes; it goes into the audit "
                               "trail.")
        given = clean_fields(values)
        with self.store.unit_of_work(principal) as uow:
            row = model_row(uow.session, name)
            if row.status == "retired" and given.get("status", "retired") == "retired":
                raise InvalidInput(f"{name} is retired; its record is kept as it was.",
                                   hint="Set its status back to in use first, with a reason.")
            old = {k: getattr(row, k) for k, v in given.items() if getattr(row, k) != v}
            if not old:
                return _entity(uow.session, row), Changes()
            for key in old:
                setattr(row, key, given[key])
            row.updated_at = utcnow()
            row.retired_at = utcnow() if row.status == "retired" else None
            uow.record("model.updated", "model", name, old=old,
                       new={k: given[k] for k in old}, reason=check_text("reason", reason))
            model = _entity(uow.session, row)
        return model, Changes(kinds=frozenset({"models"}), audit=True)

    def retire(self, principal: Principal, name: str, *, reason: str) -> tuple[Model, Changes]:
        """Retire a model: it stays in the inventory and in searches. Audit: ``model.updated``."""
        return self.update(principal, name, {"status": "retired"}, reason=reason)

    def get(self, principal: Principal, name: str) -> Model:
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            return _entity(uow.session, model_row(uow.session, name))

    def versions(self, principal: Principal, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first, with its datasets."""
        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            model = model_row(uow.session, name)
            rows = uow.session.execute(
                select(SqlModelVersion).where(SqlModelVersion.model_id == model.id)
                .order_by(SqlModelVersion.number.desc())).scalars().all()
            return [version_entity(uow.session, r, model.name) for r in rows]

    def reference_profile(self, principal: Principal, dataset_sha256: str) -> dict | None:
        """The stored reference profile of a dataset (per feature: bins and histogram, or
        category frequencies, null rate), or None when the dataset has none."""
        from core.registry.profile import load_profile

        require(principal.role, Action.MODEL_READ)
        with self.store.unit_of_work(principal, write=False) as uow:
            text = uow.session.execute(select(SqlDataset.profile).where(
                SqlDataset.sha256 == dataset_sha256)).scalar()
        return None if text is None else load_profile(text)

    def page(self, principal: Principal, flt: ModelFilter | None = None, *,
             after_name: str | None = None, limit: int = 200) -> Page[Model]:
        """Models by name, one keyset page (``after_name`` = the previous page's cursor)."""
        require(principal.role, Action.MODEL_READ)
        flt = flt or ModelFilter()
        conds = []
        if after_name is not None:  # names sort as people read them: case-insensitively
            conds.append(tuple_(func.lower(SqlModel.name), SqlModel.name)
                         > tuple_(func.lower(literal(after_name)), literal(after_name)))
        if flt.text:
            like = f"%{flt.text.strip().lower()}%"
            conds.append(or_(func.lower(SqlModel.name).like(like),
                             func.lower(SqlModel.purpose).like(like),
                             func.lower(SqlModel.business_owner).like(like)))
        if flt.status:
            conds.append(SqlModel.status == flt.status)
        elif not flt.include_retired:
            conds.append(SqlModel.status != "retired")
        if flt.risk_tier:
            conds.append(SqlModel.risk_tier == flt.risk_tier)
        if flt.owner:
            conds.append(SqlModel.business_owner == flt.owner)
        counts = (select(SqlModelVersion.model_id, func.count().label("n"),
                         func.max(SqlModelVersion.number).label("latest"))
                  .group_by(SqlModelVersion.model_id).subquery())
        q = (select(SqlModel, counts.c.n, counts.c.latest)
             .outerjoin(counts, counts.c.model_id == SqlModel.id)
             .order_by(func.lower(SqlModel.name), SqlModel.name).limit(limit + 1))
        if conds:
            q = q.where(and_(*conds))
        with self.store.unit_of_work(principal, write=False) as uow:
            rows = uow.session.execute(q).all()
        items = [row.to_entity(n or 0, latest) for row, n, latest in rows[:limit]]
        return Page(items, items[-1].name if len(rows) > limit and items else None)

    @staticmethod
    def _known(key: str) -> bool:
        if key not in EDITABLE:
            known = ", ".join(EDITABLE)
            raise InvalidInput(f"{key!r} is not an inventory field.", hint=f"Fields: {known}.")
        return True


__all__ = ["InventoryService", "check_text", "check_model_name", "version_entity"]
