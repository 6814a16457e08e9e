"""The organiser forms: the event form's local times, zones and deadlines, and its errors.

Filled in and posted as a browser does; what was stored is read back from the database.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.web.organiser.event_form import (
    OSLO,
    START,
    count,
    create,
    event_by_slug,
    field_error,
    form,
    post,
)
from webinars.models import Event

# --- the event form -------------------------------------------------------------------------


def test_the_new_event_form_offers_oslo_time_by_default(signed_in):
    page = signed_in.get("/organiser/events/new")
    assert page.status_code == 200
    assert re.search(r'<option selected value="Europe/Oslo">', page.text)
    assert 'value="America/New_York"' in page.text
    # Regions and counties come from the municipality register.
    assert 'value="Midt-Norge"' in page.text
    assert re.search(r'value="03"[^>]*>\s*<label[^>]*>Oslo</label>', page.text)


def test_an_empty_slug_is_made_from_the_title(app, signed_in):
    event = create(signed_in, app, slug="", title="Webinar 2: Intensjonserklæringen for Bø og Å")
    assert event.slug == "webinar-2-intensjonserklaeringen-for-bo-og-a"


def test_a_time_in_the_spring_gap_moves_forward(app, signed_in):
    # 02:30 on 30 March 2031 does not exist in Oslo; calendars read it as 03:30 CEST.
    event = create(signed_in, app, start_date="2031-03-30", start_time="02:30", end_time="04:00")
    assert event.starts_at == datetime(2031, 3, 30, 1, 30, tzinfo=UTC)
    assert event.local_start.hour == 3


def test_another_zone_is_stored_as_utc(app, signed_in):
    event = create(
        signed_in, app, timezone="America/New_York", start_time="09:00", end_time="10:00"
    )
    local = datetime.combine(START, datetime.min.time()).replace(
        hour=9, tzinfo=ZoneInfo("America/New_York")
    )
    assert event.starts_at == local.astimezone(UTC)
    assert event.timezone == "America/New_York"


def test_an_absolute_deadline_without_time_lasts_the_whole_day(app, signed_in):
    day = START - timedelta(days=3)
    event = create(signed_in, app, deadline_mode="absolute", deadline_date=day.isoformat())
    deadline = event.deadline
    assert deadline.astimezone(OSLO).replace(tzinfo=None) == datetime.combine(
        day, datetime.min.time()
    ).replace(hour=23, minute=59, second=59)
    # Shown with an empty time, so saving the form again keeps it.
    page = signed_in.get("/organiser/events/akson-test/edit")
    assert re.search(
        r'<input id="deadline_time" name="deadline_time" type="time" value="">', page.text
    )
    again = form(deadline_mode="absolute", deadline_date=day.isoformat(), title="Nytt navn")
    assert post(signed_in, "/organiser/events/akson-test/edit", again).status_code == 303
    assert event_by_slug(app, "akson-test").title == "Nytt navn"
    assert event_by_slug(app, "akson-test").deadline == deadline


def test_registration_can_stay_open_until_the_start(app, signed_in):
    event = create(signed_in, app, deadline_mode="start")
    assert event.deadline_at is None and event.deadline_days_before is None
    assert event.deadline == event.starts_at


BAD = [
    ("end before start", {"end_time": "13:00"}, "end_time", "etter starten"),
    (
        "absolute deadline after the start",
        {"deadline_mode": "absolute", "deadline_date": (START + timedelta(days=1)).isoformat()},
        "deadline_date",
        "før arrangementet starter",
    ),
    (
        "relative deadline after the start",
        {"deadline_days": "0", "deadline_days_time": "15:00"},
        "deadline_days",
        "før arrangementet starter",
    ),
    ("javascript link", {"join_url": "javascript:alert(1)"}, "join_url", "https://"),
    ("ftp link", {"join_url": "ftp://files.example.org/x"}, "join_url", "https://"),
    ("link without scheme", {"join_url": "meet.example.org/akson"}, "join_url", "https://"),
    ("unknown time zone", {"timezone": "Mars/Olympus"}, "timezone", "tidssone"),
    ("bad slug", {"slug": "Akson test!"}, "slug", "små bokstaver"),
    ("reserved slug", {"slug": "new"}, "slug", "reservert"),
    ("no capacity", {"capacity": "0"}, "capacity", "fra 1"),
    ("no title", {"title": "  "}, "title", "tittel"),
    (
        "opens after the deadline",
        {"opens_date": (START - timedelta(days=1)).isoformat(), "opens_time": "23:59"},
        "opens_date",
        "før fristen",
    ),
    ("region not in the register", {"regions": ["Atlantis"]}, "regions", "alternativene"),
]


@pytest.mark.parametrize(("case", "changes", "field", "text"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_stored(
    app, signed_in, case, changes, field, text
):
    response = post(signed_in, "/organiser/events/new", form(**changes))
    assert response.status_code == 422
    assert text in field_error(response, field)
    assert count(app, Event) == 0


def test_the_edit_form_shows_local_times(app, signed_in):
    create(signed_in, app, start_time="09:15", end_time="10:45", capacity="40", waitlist="y")
    page = signed_in.get("/organiser/events/akson-test/edit")
    assert re.search(r'name="start_time"[^>]*type="time" value="09:15"', page.text)
    assert re.search(r'name="end_time"[^>]*type="time" value="10:45"', page.text)
    assert re.search(r'name="capacity"[^>]*value="40"', page.text)
    assert re.search(r'<input checked id="waitlist"', page.text)
    checked = re.findall(
        r'<input checked id="(?:regions|deadline_mode)-\d+"[^>]*value="([^"]+)"', page.text
    )
    assert checked == ["relative", "Nord", "Vest", "Sør-Øst"]
