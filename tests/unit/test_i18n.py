"""The reader's language: which locale a request gets, and numbers, dates and times written
out in it (in the event's own time zone, summer time included)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import session

from webinars import create_app, i18n
from webinars.models import Event

NBSP = "\xa0"
OSLO = ZoneInfo("Europe/Oslo")
# Oslo moved its clocks from 02:00 to 03:00 at 01:00 UTC on 29 March 2020.
WINTER = datetime(2020, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET, UTC+1
SUMMER = datetime(2020, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST, UTC+2
# Tuesday 5 May 2020, 14:00 in Oslo.
START = datetime(2020, 5, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path):
    """i18n reads no database: one app for these tests, not one per database backend."""
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite'}",
            "SECRET_KEY": "test-secret",
            "MAIL_DELIVERY_THREAD": False,
            "MAIL_SERVER": None,
        }
    )


@pytest.fixture(params=["nb", "en"])
def lang(request, app):
    """A request in bokmål or English (chosen with ?lang=, as the language link does)."""
    with app.test_request_context(f"/?lang={request.param}"):
        yield request.param


def event(starts_at: datetime, ends_at: datetime, zone: str = "Europe/Oslo") -> Event:
    return Event(starts_at=starts_at, ends_at=ends_at, timezone=zone)


# --- choosing the locale ----------------------------------------------------------------------


def test_bokmal_unless_asked_otherwise(app):
    with app.test_request_context("/"):
        assert i18n.select_locale() == "nb"
        assert "lang" not in session


def test_lang_en_is_remembered_in_the_session(app):
    with app.test_request_context("/?lang=en"):
        assert i18n.select_locale() == "en"
        assert session["lang"] == "en"
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))

    # The next request, without ?lang=, carries the session cookie back.
    headers = {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={cookie}"}
    with app.test_request_context("/events", headers=headers):
        assert i18n.select_locale() == "en"

    with app.test_request_context("/events?lang=nb", headers=headers):
        assert i18n.select_locale() == "nb"
        assert session["lang"] == "nb"


@pytest.mark.parametrize("asked", ["de", "EN", "en-GB", ""])
def test_an_unknown_lang_is_ignored(app, asked):
    with app.test_request_context(f"/?lang={asked}"):
        assert i18n.select_locale() == "nb"
        assert "lang" not in session

    with app.test_request_context(f"/?lang={asked}"):
        session["lang"] = "en"  # chosen earlier
        assert i18n.select_locale() == "en"
        assert session["lang"] == "en"


def test_a_tampered_session_language_is_ignored(app):
    with app.test_request_context("/"):
        session["lang"] = "xx"
        assert i18n.select_locale() == "nb"


def test_outside_a_request_it_is_bokmal(app):
    with app.app_context():
        assert i18n.select_locale() == "nb"


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, nb, en",
    [
        (2_316_821, f"2{NBSP}316{NBSP}821", "2,316,821"),
        (4_633_640, f"4{NBSP}633{NBSP}640", "4,633,640"),
        (999, "999", "999"),
        (0, "0", "0"),
    ],
)
def test_number(lang, value, nb, en):
    assert i18n.number(value) == {"nb": nb, "en": en}[lang]


@pytest.mark.parametrize(
    "value, nb, en",
    [
        (0.5, f"50,0{NBSP}%", "50.0%"),
        (0.2114, f"21,1{NBSP}%", "21.1%"),
        (0.0004, f"0,0{NBSP}%", "0.0%"),
        (0.0006, f"0,1{NBSP}%", "0.1%"),  # a small step forward still shows
        (1.0, f"100,0{NBSP}%", "100.0%"),
    ],
)
def test_percent(lang, value, nb, en):
    assert i18n.percent(value) == {"nb": nb, "en": en}[lang]


# --- short forms across the change to summer time -------------------------------------------


def test_short_datetime_in_winter_and_summer(app):
    with app.app_context():
        assert i18n.short_datetime(WINTER, "Europe/Oslo") == "29.03.2020 01:30"
        assert i18n.short_datetime(SUMMER, "Europe/Oslo") == "29.03.2020 03:30"
        # The service's own zone (Europe/Oslo) when none is given.
        assert i18n.short_datetime(SUMMER) == "29.03.2020 03:30"
        assert i18n.short_datetime(SUMMER, "UTC") == "29.03.2020 01:30"
        assert i18n.short_datetime(None) == ""


def test_short_datetime_is_the_same_in_english(app):
    with app.test_request_context("/?lang=en"):
        assert i18n.short_datetime(WINTER, "Europe/Oslo") == "29.03.2020 01:30"


def test_stamp_in_winter_and_summer():
    assert i18n.stamp(WINTER, OSLO) == "2020-03-29 01:30"
    assert i18n.stamp(SUMMER, OSLO) == "2020-03-29 03:30"
    assert i18n.stamp(datetime(2020, 1, 15, 8, 30, tzinfo=UTC), OSLO) == "2020-01-15 09:30"
    assert i18n.stamp(SUMMER, ZoneInfo("UTC")) == "2020-03-29 01:30"


# --- long forms and an event's time ---------------------------------------------------------


@pytest.mark.parametrize(
    "when, nb, en",
    [
        (START, "tirsdag 5. mai 2020 kl. 14:00", "Tuesday 5 May 2020 at 14:00"),
        (WINTER, "søndag 29. mars 2020 kl. 01:30", "Sunday 29 March 2020 at 01:30"),
        (SUMMER, "søndag 29. mars 2020 kl. 03:30", "Sunday 29 March 2020 at 03:30"),
    ],
)
def test_long_datetime(lang, when, nb, en):
    assert i18n.long_datetime(when, "Europe/Oslo") == {"nb": nb, "en": en}[lang]


def test_long_date(lang):
    expected = {"nb": "tirsdag 5. mai 2020", "en": "Tuesday 5 May 2020"}[lang]
    assert i18n.long_date(START, "Europe/Oslo") == expected
    # 23:30 UTC on 5 May is already the 6th in Oslo.
    late = datetime(2020, 5, 5, 23, 30, tzinfo=UTC)
    assert i18n.long_date(late, "Europe/Oslo").startswith(
        {"nb": "onsdag 6.", "en": "Wednesday 6"}[lang]
    )


def test_clock(lang):
    assert i18n.clock(START, "Europe/Oslo") == "14:00"
    assert i18n.clock(WINTER, "Europe/Oslo") == "01:30"
    assert i18n.clock(SUMMER, "Europe/Oslo") == "03:30"


@pytest.mark.parametrize(
    "starts_at, ends_at, nb, en",
    [
        (
            START,
            datetime(2020, 5, 5, 13, 30, tzinfo=UTC),
            "tirsdag 5. mai 2020 kl. 14:00–15:30 norsk tid",
            "Tuesday 5 May 2020 at 14:00–15:30 Oslo time",
        ),
        (
            START,
            datetime(2020, 5, 6, 10, 0, tzinfo=UTC),
            "tirsdag 5. mai 2020 kl. 14:00 – onsdag 6. mai 2020 kl. 12:00 norsk tid",
            "Tuesday 5 May 2020 at 14:00 – Wednesday 6 May 2020 at 12:00 Oslo time",
        ),
        (
            # One UTC day, but past midnight in Oslo: two days for the reader.
            datetime(2020, 5, 5, 21, 0, tzinfo=UTC),
            datetime(2020, 5, 5, 22, 30, tzinfo=UTC),
            "tirsdag 5. mai 2020 kl. 23:00 – onsdag 6. mai 2020 kl. 00:30 norsk tid",
            "Tuesday 5 May 2020 at 23:00 – Wednesday 6 May 2020 at 00:30 Oslo time",
        ),
    ],
    ids=["same-day", "two-days", "past-midnight-in-oslo"],
)
def test_event_when(lang, starts_at, ends_at, nb, en):
    assert i18n.event_when(event(starts_at, ends_at)) == {"nb": nb, "en": en}[lang]


def test_event_when_in_another_zone_names_it(lang):
    when = event(START, datetime(2020, 5, 5, 13, 0, tzinfo=UTC), zone="America/New_York")

    expected = {
        "nb": "tirsdag 5. mai 2020 kl. 08:00–09:00 EDT",
        "en": "Tuesday 5 May 2020 at 08:00–09:00 EDT",
    }[lang]
    assert i18n.event_when(when) == expected


def test_a_zone_without_an_abbreviation_is_named_not_given_as_its_iana_name(lang):
    when = event(START, datetime(2020, 5, 5, 13, 0, tzinfo=UTC), zone="America/Sao_Paulo")

    text = i18n.event_when(when)

    assert "America/Sao_Paulo" not in text and "-03" not in text
    assert text.endswith({"nb": " normaltid for Brasilia", "en": " Brasilia Standard Time"}[lang])


# --- one date format per kind of use on organiser pages -------------------------------------

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "organiser"
#: Filters that write a date or a time, and the ones organiser pages may use.
DATE_FILTERS = {"long_datetime", "long_date", "long_day", "short_datetime", "stamp", "clock"}


def test_organiser_pages_use_one_date_format_per_kind_of_use():
    allowed = set(i18n.ORGANISER_DATE_FORMATS.values())
    used: dict[str, set[str]] = {}
    for path in sorted(TEMPLATES.rglob("*")):
        if path.suffix not in (".html", ".txt", ".svg"):
            continue
        text = path.read_text()
        for name in re.findall(r"\|\s*(\w+)", text):
            if name in DATE_FILTERS:
                used.setdefault(name, set()).add(path.name)
        assert "strftime" not in text and "isoformat" not in text, path.name
    assert set(used) <= allowed, {name: used[name] for name in set(used) - allowed}
    # Each of the three is in use, so the rule is not met by showing no dates at all.
    assert set(used) == allowed


def test_the_three_organiser_formats(app):
    at = datetime(2020, 5, 4, 11, 5, tzinfo=UTC)
    with app.test_request_context("/"):
        assert i18n.long_datetime(at, "Europe/Oslo") == "mandag 4. mai 2020 kl. 13:05"
        assert i18n.long_day(at.date()) == "4. mai 2020"
        assert i18n.short_datetime(at, "Europe/Oslo") == "04.05.2020 13:05"
