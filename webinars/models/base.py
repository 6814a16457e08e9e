"""What every entity module shares: aware UTC instants, local wall-clock times, marking text."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, TypeDecorator


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which stores naive values) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone` as a UTC instant; a time in the spring gap moves forward.

    02:30 on the last Sunday of March does not exist in Europe/Oslo. With fold=0 (PEP 495)
    a time in the gap takes the offset from before the change, which normalises it the way
    calendars do (to 03:30); fold=1 would move it back to 01:30. In the autumn fold, fold=0
    is the first of the two occurrences.
    """
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where shown."""
    return message
