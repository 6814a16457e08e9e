"""Dates and times written out in the reader's language, in the event's own time zone."""

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from flask import Flask
from flask_babel import get_locale

from .ical import event_url


def _locale() -> str:
    return str(get_locale() or "nb")


def long_datetime(value: datetime, zone: str) -> str:
    """'tirsdag 5. mai 2020 kl. 14:00' in the given zone."""
    local = value.astimezone(ZoneInfo(zone))
    if _locale().startswith("en"):
        return format_datetime(local, "EEEE d MMMM y 'at' HH:mm", locale="en_GB")
    return format_datetime(local, "EEEE d. MMMM y 'kl.' HH:mm", locale="nb_NO")


def long_date(value: datetime, zone: str) -> str:
    """'tirsdag 5. mai 2020' in the given zone."""
    local = value.astimezone(ZoneInfo(zone))
    pattern = "EEEE d MMMM y" if _locale().startswith("en") else "EEEE d. MMMM y"
    return format_date(local, pattern, locale="en_GB" if _locale().startswith("en") else "nb_NO")


def clock(value: datetime, zone: str) -> str:
    """'14:00' in the given zone."""
    return format_time(value.astimezone(ZoneInfo(zone)), "HH:mm", locale="nb_NO")


def zone_label(value: datetime, zone: str) -> str:
    """A short zone name for the reader, e.g. 'CEST' or 'norsk tid'."""
    if zone == "Europe/Oslo":
        return "" if not _locale().startswith("en") else "Oslo time"
    return value.astimezone(ZoneInfo(zone)).tzname() or zone


def event_when(event) -> str:
    """'tirsdag 5. mai 2020 kl. 14:00–15:30' for an event, in its own zone."""
    start, end = event.starts_at, event.ends_at
    label = zone_label(start, event.timezone)
    zone = ZoneInfo(event.timezone)
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        text = f"{long_datetime(start, event.timezone)}–{clock(end, event.timezone)}"
    else:
        text = f"{long_datetime(start, event.timezone)} – {long_datetime(end, event.timezone)}"
    return f"{text} ({label})" if label else text


def register_filters(app: Flask) -> None:
    """Expose the formatters to templates."""
    app.jinja_env.filters["long_datetime"] = long_datetime
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["clock"] = clock
    app.jinja_env.globals["event_when"] = event_when
    app.jinja_env.globals["event_url"] = event_url
    app.jinja_env.globals["get_locale"] = _locale
