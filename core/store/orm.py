"""Typed SQLAlchemy ORM classes (``Sql...``). Repositories and services turn them into entities.

Timestamps are stored as fixed-width ISO-8601 UTC text so that the audit hash covers exactly the
stored bytes on SQLite and PostgreSQL alike, and text order is time order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.entities import User
from core.permissions import Role
from core.timeutil import from_iso, to_iso

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid; PostgreSQL gets a real bigint.
SeqInteger = BigInteger().with_variant(Integer(), "sqlite")


class UtcTimestamp(TypeDecorator[datetime]):
    """An aware UTC datetime stored as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""

    impl = String(27)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> str | None:  # noqa: ANN001
        return None if value is None else to_iso(value)

    def process_result_value(self, value: str | None, dialect) -> datetime | None:  # noqa: ANN001
        return None if value is None else from_iso(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SqlStoreInfo(Base):
    """Facts about the store itself (its id, whether it is a demo store)."""

    __tablename__ = "store_info"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SqlUser(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    one_time_code_hash: Mapped[str | None] = mapped_column(String(255))
    one_time_code_expires_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    row_version: Mapped[int] = mapped_column(Integer)

    roles: Mapped[list[SqlUserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": row_version}

    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.roles)

    def to_entity(self) -> User:
        return User(
            id=self.id,
            username=self.username,
            display_name=self.display_name,
            email=self.email,
            roles=tuple(r for r in Role if r in self.role_set()),
            disabled=self.disabled,
            locked=self.locked_at is not None,
            must_set_password=self.password_hash is None,
            failed_sign_ins=self.failed_sign_ins,
            created_at=self.created_at,
            last_sign_in_at=self.last_sign_in_at,
            password_changed_at=self.password_changed_at,
        )


class SqlUserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[SqlUser] = relationship(back_populates="roles")


class SqlStoreSetting(Base):
    __tablename__ = "store_setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class SqlAuditEvent(Base):
    """One audit event. Append-only: triggers refuse UPDATE and DELETE (see the migration)."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(SeqInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(27))  # as hashed: fixed-width ISO UTC text
    actor: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    workstation: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(200))
    old_values: Mapped[str | None] = mapped_column(Text)
    new_values: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_event_actor_seq", "actor", "seq"),
        Index("ix_audit_event_action_seq", "action", "seq"),
        Index("ix_audit_event_object_seq", "object_type", "object_id", "seq"),
        Index("ix_audit_event_ts", "ts"),
    )


class SqlAuditHead(Base):
    """The newest link of the chain, so that removing events from the end is detected too."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(SeqInteger)
    last_hash: Mapped[str] = mapped_column(String(64))

# The registry tables live in their own module; importing it here puts them in Base.metadata.
from core.store import orm_registry  # noqa: E402, F401
from core.store import orm_validation  # noqa: E402, F401
from core.store import orm_workflow  # noqa: E402, F401
from core.store import orm_deploy  # noqa: E402, F401
