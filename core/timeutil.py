"""UTC timestamps. Everything in the store is UTC; only the views convert to local time."""

from __future__ import annotations

from datetime import UTC, datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC text ("2026-11-23T10:53:46.123456Z"): sorts like time does."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not allowed; use UTC-aware values")
    return value.astimezone(UTC).strftime(ISO_FORMAT)


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=UTC)


def parse_user_time(text: str) -> datetime:
    """Parse a time a person typed (ISO date or date-time; no zone means UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
