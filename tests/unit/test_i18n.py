"""The reader's language: which locale a request gets, and numbers, dates and times written
out in it (in the event's own time zone, summer time included)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import session
from flask_babel import force_locale, gettext

from webinars import create_app, i18n
from webinars.models import Event

NBSP = "\xa0"
ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "webinars" / "translations"
#: Bokmål is the source language (the msgids); every other language needs a catalogue.
TRANSLATED = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]
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


@pytest.fixture(params=["nb", "nn", "en"])
def lang(request, app):
    """A request in bokmål, nynorsk or English (chosen with ?lang=, as the language links do)."""
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


def test_lang_nn_is_remembered_in_the_session(app):
    with app.test_request_context("/?lang=nn"):
        assert i18n.select_locale() == "nn"
        assert session["lang"] == "nn"
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    headers = {"Cookie": f"{app.config['SESSION_COOKIE_NAME']}={cookie}"}
    with app.test_request_context("/events", headers=headers):
        assert i18n.select_locale() == "nn"


@pytest.mark.parametrize("header", ["nn-NO,nn;q=0.9", "en-GB,en;q=0.8", "no-NN"])
def test_the_browser_language_does_not_change_the_default(app, header):
    """Bokmål is every page's default; only the visitor's own choice (?lang=) changes it."""
    with app.test_request_context("/", headers={"Accept-Language": header}):
        assert i18n.select_locale() == "nb"


def test_a_tampered_session_language_is_ignored(app):
    with app.test_request_context("/"):
        session["lang"] = "xx"
        assert i18n.select_locale() == "nb"


def test_outside_a_request_it_is_bokmal(app):
    with app.app_context():
        assert i18n.select_locale() == "nb"


# --- the language choice on every page --------------------------------------------------------


def links_of(app, path: str, method: str = "GET") -> dict[str, i18n.LanguageLink]:
    with app.test_request_context(path, method=method):
        return {link.code: link for link in i18n.language_links()}


def test_each_language_is_named_in_itself_and_the_current_one_is_marked(app):
    links = links_of(app, "/?lang=nn")
    assert [(link.code, link.name) for link in links.values()] == [
        ("nb", "Bokmål"),
        ("nn", "Nynorsk"),
        ("en", "English"),
    ]
    assert [code for code, link in links.items() if link.current] == ["nn"]


def test_the_links_keep_the_page_and_its_query(app):
    links = links_of(app, "/organiser/contacts?county=46&page=2&lang=en")
    # A reference by query alone leads to the same page; the old lang is replaced.
    assert links["nn"].href == "?county=46&page=2&lang=nn"
    assert links["nb"].href == "?county=46&page=2&lang=nb"


def test_the_query_is_escaped(app):
    links = links_of(app, "/?q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E&lang=nb")
    assert links["en"].href == "?q=%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E&lang=en"


def test_a_page_answering_a_post_links_to_the_page_of_its_form(app):
    links = links_of(app, "/events/akson-stormote/register", method="POST")
    assert links["nn"].href == "/events/akson-stormote?lang=nn"


@pytest.mark.parametrize(
    "path",
    ["//evil.example/register", "/\\evil.example/register", "/%2F%2Fevil.example/x/register"],
)
def test_a_crafted_path_cannot_send_the_reader_to_another_site(app, path):
    for link in links_of(app, path, method="POST").values():
        assert link.href.startswith("/") and not link.href.startswith("//")
        assert "\\" not in link.href


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
    # Nynorsk writes numbers as bokmål does.
    assert i18n.number(value) == {"nb": nb, "nn": nb, "en": en}[lang]


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
    assert i18n.percent(value) == {"nb": nb, "nn": nb, "en": en}[lang]


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
    # Nynorsk's day names are its own ("tysdag"); the rest is written as in bokmål.
    nn = nb.replace("tirsdag", "tysdag")
    assert i18n.long_datetime(when, "Europe/Oslo") == {"nb": nb, "nn": nn, "en": en}[lang]


def test_long_date(lang):
    expected = {
        "nb": "tirsdag 5. mai 2020",
        "nn": "tysdag 5. mai 2020",
        "en": "Tuesday 5 May 2020",
    }[lang]
    assert i18n.long_date(START, "Europe/Oslo") == expected
    # 23:30 UTC on 5 May is already the 6th in Oslo.
    late = datetime(2020, 5, 5, 23, 30, tzinfo=UTC)
    assert i18n.long_date(late, "Europe/Oslo").startswith(
        {"nb": "onsdag 6.", "nn": "onsdag 6.", "en": "Wednesday 6"}[lang]
    )


def test_days_and_short_dates(lang):
    due = datetime(2020, 7, 1, tzinfo=UTC).date()
    assert (
        i18n.long_day(due)
        == {"nb": "1. juli 2020", "nn": "1. juli 2020", "en": "1 July 2020"}[lang]
    )
    assert i18n.short_date(due) == {"nb": "1. juli", "nn": "1. juli", "en": "1 Jul"}[lang]


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
    nn = nb.replace("tirsdag", "tysdag")
    assert i18n.event_when(event(starts_at, ends_at)) == {"nb": nb, "nn": nn, "en": en}[lang]


def test_event_when_in_another_zone_names_it(lang):
    when = event(START, datetime(2020, 5, 5, 13, 0, tzinfo=UTC), zone="America/New_York")

    expected = {
        "nb": "tirsdag 5. mai 2020 kl. 08:00–09:00 EDT",
        "nn": "tysdag 5. mai 2020 kl. 08:00–09:00 EDT",
        "en": "Tuesday 5 May 2020 at 08:00–09:00 EDT",
    }[lang]
    assert i18n.event_when(when) == expected


def test_a_zone_without_an_abbreviation_is_named_not_given_as_its_iana_name(lang):
    when = event(START, datetime(2020, 5, 5, 13, 0, tzinfo=UTC), zone="America/Sao_Paulo")

    text = i18n.event_when(when)

    assert "America/Sao_Paulo" not in text and "-03" not in text
    assert text.endswith(
        {
            "nb": " normaltid for Brasilia",
            "nn": " normaltid for Brasilia",
            "en": " Brasilia Standard Time",
        }[lang]
    )


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


# --- the catalogues -------------------------------------------------------------------------


def catalogue(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=lang)


PLACEHOLDER = re.compile(r"%\((\w+)\)")


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_entry_of_the_catalogue_is_translated(lang):
    """No empty msgstr, no fuzzy entry, every plural form, no placeholder the code lacks."""
    found = catalogue(lang)
    # `pybabel compile` (make) skips a catalogue whose header is fuzzy: nothing would show.
    assert not found.fuzzy, f"the {lang} catalogue's header is marked fuzzy"
    problems = []
    for message in found:
        if not message.id:
            continue
        forms = message.string if message.pluralizable else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        if not all(forms) or (message.pluralizable and len(forms) != found.num_plurals):
            problems.append(f"untranslated: {message.id!r}")
        known = set(
            PLACEHOLDER.findall(" ".join(message.id if message.pluralizable else [message.id]))
        )
        for form in forms:
            unknown = set(PLACEHOLDER.findall(form)) - known
            if unknown:
                problems.append(f"placeholders {sorted(unknown)} not in {message.id!r}")
    problems += [f"{message.id!r}: {errors}" for message, errors in found.check()]
    assert problems == []


def source_messages() -> set[str]:
    """Every msgid in the code and templates, extracted as `make messages` does."""
    method_map = [
        ("webinars/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "_l": None,
        "lazy_gettext": None,
        "N_": None,
        "counted": (1, 2),
    }
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_catalogue_has_every_string_of_the_code(lang):
    """A string added without `make messages` would show untranslated: none is missing."""
    known = {message.id[0] if message.pluralizable else message.id for message in catalogue(lang)}
    assert sorted(source_messages() - known) == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_language_has_a_compiled_catalogue_the_app_reads(app, lang):
    # The session's first fixture compiles the .po files, as `make` does.
    assert (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").is_file()
    with app.app_context(), force_locale(lang):
        # The 404 page's title, read from the compiled file: in the language, not in bokmål.
        assert gettext("Fant ikke siden") != "Fant ikke siden"
