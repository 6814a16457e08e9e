"""The reader's language: which locale a request gets, and dates, times and numbers written
out in it (dates in the event's own time zone).

Organiser pages use one format per kind of use, all from here (tests/unit/test_i18n.py
checks the templates):

- a date with a time: `long_datetime` ("tirsdag 5. mai 2020 kl. 14:00"), and `event_when`
  for an event's start and end;
- a date alone: `long_day` ("5. mai 2020");
- a timestamp in a list or a table: `short_datetime` ("04.05.2020 13:05").

Exports write `stamp` ("2020-05-04 13:05"), which spreadsheets read as a date; chart axes
`short_date` ("5. mai").
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, get_timezone_name
from babel.numbers import format_decimal, format_percent, get_group_symbol
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale, get_translations

from .ical import event_url

#: The languages of pages and e-mails, each named in itself; the first is the default.
#: The one list: the locale selector, the language choice on every page, the catalogues
#: the tests require and the languages a registration or a mail may have all read it.
LANGUAGES = {"nb": "Bokmål", "nn": "Nynorsk", "en": "English"}
DEFAULT = "nb"
#: The Babel (CLDR) locale each language writes its dates and numbers in.
_BABEL = {"nb": "nb_NO", "nn": "nn_NO", "en": "en_GB"}


def select_locale() -> str:
    """Bokmål unless the visitor chose another language with ?lang= (kept in the session).

    The browser's Accept-Language is not consulted on purpose: bokmål is every page's
    default, and a page in a language the visitor did not pick would surprise them.
    """
    if not has_request_context():  # commands and the delivery loop: mails set their own
        return DEFAULT
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        return lang
    return session.get("lang") if session.get("lang") in LANGUAGES else DEFAULT


def _locale() -> str:
    return str(get_locale() or DEFAULT)


def _babel_locale() -> str:
    return _BABEL.get(_locale(), _BABEL[DEFAULT])


@dataclass(frozen=True)
class LanguageLink:
    """One entry of the language choice: the language, its name in itself, where it leads."""

    code: str
    name: str
    href: str
    current: bool


def language_links() -> list[LanguageLink]:
    """The language choice of the current page: the same page and query in each language.

    A page reached by GET links to itself by its query alone ("?lang=nn&county=46"), a
    reference that can only ever lead to the same address. A page answering a POST (a form
    shown again with its errors) links to the page the form lives on, its parent path,
    written as a path on this site only: no scheme or host, leading slashes collapsed and
    every character outside a path's own escaped, so no address can send the reader away.
    """
    current = _locale()
    if request.method in ("GET", "HEAD"):
        base = ""
        args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    else:
        parent = request.path.rstrip("/").rsplit("/", 1)[0]
        base = "/" + quote(parent.lstrip("/"), safe="/-._~")
        args = []
    return [
        LanguageLink(code, name, f"{base}?{urlencode([*args, ('lang', code)])}", code == current)
        for code, name in LANGUAGES.items()
    ]


@lru_cache(maxsize=8)
def _group_symbol(locale: str) -> str:
    return get_group_symbol(locale)


def number(value: int) -> str:
    """'2 316 821' in bokmål and nynorsk (a no-break space between groups), '2,316,821' in
    English."""
    if isinstance(value, int):
        # Babel's own formatting takes ~20 µs; the campaign page writes a thousand numbers.
        return f"{value:,}".replace(",", _group_symbol(_babel_locale()))
    return format_decimal(value, locale=_babel_locale())


_TENTH = Decimal("0.1")


def counted(singular: str, plural: str) -> Callable[[int], str]:
    """A function writing "1 innbygger", "283 929 innbyggere" without a lookup each time.

    For pages that write hundreds of counts: the message is translated once (bokmål and
    nynorsk and English have one form for 1 and one for every other number), numbers as
    `number` does.
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
    if _locale() == "en":
        return format_date(value, "d MMM", locale="en_GB")
    return format_date(value, "d. MMM", locale=_babel_locale())


def long_day(value: date) -> str:
    """'1. juli 2020' in Norwegian, '1 July 2020' in English."""
    if _locale() == "en":
        return format_date(value, "d MMMM y", locale="en_GB")
    return format_date(value, "d. MMMM y", locale=_babel_locale())


def local_today(zone: ZoneInfo | None = None) -> date:
    """Today's date in `zone` (the service's own zone when none is given)."""
    zone = zone or ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return datetime.now(zone).date()


def long_datetime(value: datetime, zone: str) -> str:
    """'tirsdag 5. mai 2020 kl. 14:00' in the given zone ('tysdag …' in nynorsk)."""
    return _long_datetime(value, zone, _locale())


@lru_cache(maxsize=1024)
def _long_datetime(value: datetime, zone: str, locale: str) -> str:
    """The same, kept per language (`locale` is the current one): Babel takes ~0.1 ms, and
    every event page and the programme write deadlines."""
    local = value.astimezone(ZoneInfo(zone))
    if _locale() == "en":
        return format_datetime(local, "EEEE d MMMM y 'at' HH:mm", locale="en_GB")
    return format_datetime(local, "EEEE d. MMMM y 'kl.' HH:mm", locale=_babel_locale())


def long_date(value: datetime, zone: str) -> str:
    """'tirsdag 5. mai 2020' in the given zone ('tysdag 5. mai 2020' in nynorsk)."""
    return _long_date(value, zone, _locale())


@lru_cache(maxsize=1024)
def _long_date(value: datetime, zone: str, locale: str) -> str:
    """The same, kept per language (`locale` is the current one)."""
    local = value.astimezone(ZoneInfo(zone))
    pattern = "EEEE d MMMM y" if _locale() == "en" else "EEEE d. MMMM y"
    return format_date(local, pattern, locale=_babel_locale())


def clock(value: datetime, zone: str) -> str:
    """'14:00' in the given zone."""
    return format_time(value.astimezone(ZoneInfo(zone)), "HH:mm", locale="nb_NO")


def zone_label(value: datetime, zone: str) -> str:
    """The zone as people read it: 'norsk tid', or for another zone its abbreviation on that
    date ('EDT', 'BST') or, where it has none, its name ('normaltid for Brasilia'); never
    the IANA name."""
    if zone == "Europe/Oslo":
        return "Oslo time" if _locale().startswith("en") else "norsk tid"
    local = value.astimezone(ZoneInfo(zone))
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    return get_timezone_name(local, width="long", locale=_babel_locale())


def event_when(event) -> str:
    """'tirsdag 5. mai 2020 kl. 14:00–15:30 norsk tid' for an event, in its own zone."""
    return _event_when(event.starts_at, event.ends_at, event.timezone, _locale())


@lru_cache(maxsize=256)
def _event_when(start: datetime, end: datetime, timezone: str, locale: str) -> str:
    """The same, kept: every mail about an event writes it, in one of the languages."""
    label = zone_label(start, timezone)
    zone = ZoneInfo(timezone)
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        text = f"{long_datetime(start, timezone)}–{clock(end, timezone)}"
    else:
        text = f"{long_datetime(start, timezone)} – {long_datetime(end, timezone)}"
    # Without brackets: the time is often written inside brackets itself ("… (%(when)s)").
    return f"{text} {label}" if label else text


#: The date filters organiser pages may use, by kind of use (see the module's docstring).
ORGANISER_DATE_FORMATS = {
    "date and time": "long_datetime",
    "date": "long_day",
    "timestamp in a list": "short_datetime",
}


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
    app.jinja_env.globals.update(
        event_when=event_when,
        event_url=event_url,
        get_locale=_locale,
        language_links=language_links,
    )
