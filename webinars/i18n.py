"""The reader's language: which locale a request gets, and dates, times and numbers written
out in it (dates in the event's own time zone)."""

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal, format_percent, get_group_symbol
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale, get_translations

from .ical import event_url

#: The languages of pages and e-mails; the first is the default.
LANGUAGES = ("nb", "en")


def select_locale() -> str:
    """Bokmål unless the visitor chose another language with ?lang= (kept in the session)."""
    if not has_request_context():  # commands and the delivery loop: mails set their own
        return LANGUAGES[0]
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        return lang
    return session.get("lang") if session.get("lang") in LANGUAGES else LANGUAGES[0]


def _locale() -> str:
    return str(get_locale() or "nb")


def _babel_locale() -> str:
    return "en_GB" if _locale().startswith("en") else "nb_NO"


@lru_cache(maxsize=8)
def _group_symbol(locale: str) -> str:
    return get_group_symbol(locale)


def number(value: int) -> str:
    """'2 316 821' in Norwegian (a no-break space between groups), '2,316,821' in English."""
    if isinstance(value, int):
        # Babel's own formatting takes ~20 µs; the campaign page writes a thousand numbers.
        return f"{value:,}".replace(",", _group_symbol(_babel_locale()))
    return format_decimal(value, locale=_babel_locale())


_TENTH = Decimal("0.1")


def counted(singular: str, plural: str) -> Callable[[int], str]:
    """A function writing "1 innbygger", "283 929 innbyggere" without a lookup each time.

    For pages that write hundreds of counts: the message is translated once (bokmål and
    English have one form for 1 and one for every other number), numbers as `number` does.
    """
    translations = get_translations()
    one = translations.ungettext(singular, plural, 1) % {"num": "\x00"}
    other = translations.ungettext(singular, plural, 2) % {"num": "\x00"}
    group = _group_symbol(_babel_locale())
    return lambda n: (one if n == 1 else other).replace("\x00", f"{n:,}".replace(",", group))


def percent(value: float) -> str:
    """'50,0 %' in Norwegian (no-break space), '50.0%' in English; one decimal, so a small
    step forward still shows."""
    locale = _babel_locale()
    if 0 <= value < 10:  # no thousands to group: written directly, ~10 times faster
        # Rounded as Babel does (half to even, on the decimal value), so both agree.
        text = str((Decimal(repr(value)) * 100).quantize(_TENTH, ROUND_HALF_EVEN))
        return f"{text}%" if locale == "en_GB" else f"{text.replace('.', ',')}\u00a0%"
    pattern = "#,##0.0%" if locale == "en_GB" else "#,##0.0\u00a0%"
    return format_percent(value, pattern, locale=locale)


def short_datetime(value: datetime | None, zone: str | None = None) -> str:
    """'05.05.2020 14:03' in the given zone (the service's own when none is given)."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone or current_app.config["DEFAULT_TIMEZONE"]))
    return format_datetime(local, "dd.MM.y HH:mm", locale="nb_NO")


def stamp(value: datetime, zone: ZoneInfo) -> str:
    """'2020-05-04 13:05': an instant as wall-clock time in a zone, as the exports write it."""
    # isoformat is a good deal faster than strftime, which counts on 100,000 rows.
    return value.astimezone(zone).isoformat(" ", "minutes")[:16]


def short_date(value: date) -> str:
    """'5. mai' in Norwegian, '5 May' in English (chart axes)."""
    if _locale().startswith("en"):
        return format_date(value, "d MMM", locale="en_GB")
    return format_date(value, "d. MMM", locale="nb_NO")


def long_day(value: date) -> str:
    """'1. juli 2020' in Norwegian, '1 July 2020' in English."""
    if _locale().startswith("en"):
        return format_date(value, "d MMMM y", locale="en_GB")
    return format_date(value, "d. MMMM y", locale="nb_NO")


def local_today(zone: ZoneInfo | None = None) -> date:
    """Today's date in `zone` (the service's own zone when none is given)."""
    zone = zone or ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return datetime.now(zone).date()


def long_datetime(value: datetime, zone: str) -> str:
    """'tirsdag 5. mai 2020 kl. 14:00' in the given zone."""
    return _long_datetime(value, zone, _locale())


@lru_cache(maxsize=1024)
def _long_datetime(value: datetime, zone: str, locale: str) -> str:
    """The same, kept per language (`locale` is the current one): Babel takes ~0.1 ms, and
    every event page and the programme write deadlines."""
    local = value.astimezone(ZoneInfo(zone))
    if _locale().startswith("en"):
        return format_datetime(local, "EEEE d MMMM y 'at' HH:mm", locale="en_GB")
    return format_datetime(local, "EEEE d. MMMM y 'kl.' HH:mm", locale="nb_NO")


def long_date(value: datetime, zone: str) -> str:
    """'tirsdag 5. mai 2020' in the given zone."""
    return _long_date(value, zone, _locale())


@lru_cache(maxsize=1024)
def _long_date(value: datetime, zone: str, locale: str) -> str:
    """The same, kept per language (`locale` is the current one)."""
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
    return _event_when(event.starts_at, event.ends_at, event.timezone, _locale())


@lru_cache(maxsize=256)
def _event_when(start: datetime, end: datetime, timezone: str, locale: str) -> str:
    """The same, kept: every mail about an event writes it, in one of two languages."""
    label = zone_label(start, timezone)
    zone = ZoneInfo(timezone)
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        text = f"{long_datetime(start, timezone)}–{clock(end, timezone)}"
    else:
        text = f"{long_datetime(start, timezone)} – {long_datetime(end, timezone)}"
    return f"{text} ({label})" if label else text


def init_app(app: Flask) -> None:
    """Expose the formatters to templates."""
    app.jinja_env.filters.update(
        long_datetime=long_datetime,
        long_date=long_date,
        clock=clock,
        short_datetime=short_datetime,
        number=number,
        percent=percent,
        stamp=stamp,
        short_date=short_date,
        long_day=long_day,
    )
    app.jinja_env.globals.update(event_when=event_when, event_url=event_url, get_locale=_locale)
