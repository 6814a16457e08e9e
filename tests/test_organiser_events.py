"""Organiser event pages: the list, the form (local times, validation), publish, cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from webinars import services
from webinars.extensions import db
from webinars.models import Event, OutboxMessage, utcnow
from webinars.organiser.auth import create_organiser

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
OSLO = ZoneInfo("Europe/Oslo")
START = (utcnow().astimezone(OSLO) + timedelta(days=30)).date()


def csrf(client, path: str) -> str:
    return TOKEN.search(client.get(path).text).group(1)


@pytest.fixture
def organiser(app, client):
    """The test client, logged in through the login form."""
    create_organiser("arrangor@ks.no", "et langt passord")
    db.session.commit()
    response = client.post(
        "/organiser/login",
        data={
            "email": "arrangor@ks.no",
            "password": "et langt passord",
            "csrf_token": csrf(client, "/organiser/login"),
        },
    )
    assert response.status_code == 303
    return client


def form(**overrides) -> dict:
    """The event form as a browser submits it; a webinar 30 days ahead, 14:00-15:30 Oslo."""
    data = {
        "title": "Webinar om Akson",
        "slug": "akson-test",
        "kind": "webinar",
        "description": "Om Akson.",
        "target_group": "Ordførere og kommunedirektører",
        "location": "Digitalt",
        "start_date": START.isoformat(),
        "start_time": "14:00",
        "end_date": "",
        "end_time": "15:30",
        "timezone": "Europe/Oslo",
        "opens_date": "",
        "opens_time": "",
        "deadline_mode": "relative",
        "deadline_days": "1",
        "deadline_days_time": "23:59",
        "deadline_date": "",
        "deadline_time": "",
        "capacity": "",
        "join_url": "https://meet.example.org/akson",
        "organiser_name": "KS",
        "organiser_email": "akson@ks.no",
        "regions": ["Nord", "Vest", "Sør-Øst"],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def post(client, path: str, data: dict):
    """POST like a browser: with the session's CSRF token (any organiser page carries it)."""
    return client.post(path, data={**data, "csrf_token": csrf(client, "/organiser/events")})


def create(client, **overrides) -> Event:
    response = post(client, "/organiser/events/new", form(**overrides))
    assert response.status_code == 303, response.text
    return event_by_slug(response.headers["Location"].rsplit("/", 1)[1])


def event_by_slug(slug: str) -> Event | None:
    db.session.expire_all()
    return db.session.scalar(select(Event).where(Event.slug == slug))


def field_error(response, name: str) -> str:
    match = re.search(rf'id="{name}-error">([^<]+)<', response.text)
    assert match, f"no error shown next to {name}"
    return match.group(1)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def add(event: Event, n: int, **fields):
    for i in range(n):
        services.register(
            event,
            name=f"Person {i}",
            email=f"person{i}@kommune.no",
            role="ordforer",
            municipality="0301",
            **fields,
        )


# --- creating -------------------------------------------------------------------------------


def test_the_new_event_form_offers_oslo_time_by_default(organiser):
    page = organiser.get("/organiser/events/new")
    assert page.status_code == 200
    assert re.search(r'<option selected value="Europe/Oslo">', page.text)
    assert 'value="America/New_York"' in page.text
    # Regions and counties come from the municipality register.
    assert 'value="Midt-Norge"' in page.text
    assert re.search(r'value="03"[^>]*>\s*<label[^>]*>Oslo</label>', page.text)


def test_creating_stores_utc_and_a_calendar_uid(organiser):
    event = create(organiser)
    assert event.status == "draft"
    start = datetime.combine(START, datetime.min.time()).replace(hour=14, tzinfo=OSLO)
    assert event.starts_at == start.astimezone(UTC)
    assert event.ends_at == (start + timedelta(minutes=90)).astimezone(UTC)
    assert event.ical_uid == "akson-test@webinars.test"
    assert event.eligible_regions == "Nord,Vest,Sør-Øst"
    assert event.deadline_days_before == 1
    assert event.organiser_email == "akson@ks.no"
    page = organiser.get("/organiser/events/akson-test")
    assert page.status_code == 200
    # Every municipality outside Midt-Norge may register: 356 - 64.
    assert "292 kommuner kan melde seg på" in page.text
    assert "Utkast" in page.text


def test_an_empty_slug_is_made_from_the_title(organiser):
    event = create(organiser, slug="", title="Webinar 2: Intensjonserklæringen for Bø og Å")
    assert event.slug == "webinar-2-intensjonserklaeringen-for-bo-og-a"


def test_a_time_in_the_spring_gap_moves_forward(organiser):
    # 02:30 on 30 March 2031 does not exist in Oslo; calendars read it as 03:30 CEST.
    event = create(organiser, start_date="2031-03-30", start_time="02:30", end_time="04:00")
    assert event.starts_at == datetime(2031, 3, 30, 1, 30, tzinfo=UTC)
    assert event.local_start.hour == 3


def test_another_zone_is_stored_as_utc(organiser):
    event = create(organiser, timezone="America/New_York", start_time="09:00", end_time="10:00")
    local = datetime.combine(START, datetime.min.time()).replace(
        hour=9, tzinfo=ZoneInfo("America/New_York")
    )
    assert event.starts_at == local.astimezone(UTC)
    assert event.timezone == "America/New_York"


def test_an_absolute_deadline_without_time_lasts_the_whole_day(organiser):
    day = START - timedelta(days=3)
    event = create(organiser, deadline_mode="absolute", deadline_date=day.isoformat())
    deadline = event.deadline
    assert deadline.astimezone(OSLO).replace(tzinfo=None) == datetime.combine(
        day, datetime.min.time()
    ).replace(hour=23, minute=59, second=59)
    # Shown with an empty time, so saving the form again keeps it.
    page = organiser.get("/organiser/events/akson-test/edit")
    assert re.search(
        r'<input id="deadline_time" name="deadline_time" type="time" value="">', page.text
    )
    again = form(deadline_mode="absolute", deadline_date=day.isoformat(), title="Nytt navn")
    assert post(organiser, "/organiser/events/akson-test/edit", again).status_code == 303
    assert event_by_slug("akson-test").title == "Nytt navn"
    assert event_by_slug("akson-test").deadline == deadline


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
    organiser, case, changes, field, text
):
    response = post(organiser, "/organiser/events/new", form(**changes))
    assert response.status_code == 422
    assert text in field_error(response, field)
    assert count(Event) == 0


def test_a_slug_in_use_is_a_field_error(organiser, create_event):
    create_event(slug="akson-test")
    response = post(organiser, "/organiser/events/new", form())
    assert response.status_code == 422
    assert "allerede i bruk" in field_error(response, "slug")
    assert count(Event) == 1


# --- editing --------------------------------------------------------------------------------


def test_the_edit_form_shows_local_times(organiser):
    create(organiser, start_time="09:15", end_time="10:45", capacity="40", waitlist="y")
    page = organiser.get("/organiser/events/akson-test/edit")
    assert re.search(r'name="start_time"[^>]*type="time" value="09:15"', page.text)
    assert re.search(r'name="end_time"[^>]*type="time" value="10:45"', page.text)
    assert re.search(r'name="capacity"[^>]*value="40"', page.text)
    assert re.search(r'<input checked id="waitlist"', page.text)
    checked = re.findall(
        r'<input checked id="(?:regions|deadline_mode)-\d+"[^>]*value="([^"]+)"', page.text
    )
    assert checked == ["relative", "Nord", "Vest", "Sør-Øst"]


def test_renaming_keeps_the_calendar_uid(organiser):
    create(organiser)
    response = post(organiser, "/organiser/events/akson-test/edit", form(slug="akson-nytt-navn"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/organiser/events/akson-nytt-navn")
    event = event_by_slug("akson-nytt-navn")
    assert event.ical_uid == "akson-test@webinars.test"
    assert organiser.get("/organiser/events/akson-test").status_code == 404
    # The old slug is free again; a new event there gets a UID of its own.
    assert create(organiser).ical_uid == "akson-test.2@webinars.test"


def test_a_relative_deadline_moves_with_the_start(organiser):
    event = create(organiser)
    before = event.deadline
    later = START + timedelta(days=7)
    post(organiser, "/organiser/events/akson-test/edit", form(start_date=later.isoformat()))
    assert event_by_slug("akson-test").deadline == before + timedelta(days=7)


def test_capacity_below_the_confirmed_is_refused(organiser):
    event = create(organiser, capacity="5")
    post(organiser, "/organiser/events/akson-test/publish", {})
    add(event_by_slug("akson-test"), 3)
    response = post(organiser, "/organiser/events/akson-test/edit", form(capacity="2"))
    assert response.status_code == 422
    assert "3 påmeldte" in field_error(response, "capacity")
    assert event_by_slug("akson-test").capacity == 5
    assert event.id == event_by_slug("akson-test").id


def test_an_invalid_edit_changes_nothing(organiser):
    create(organiser)
    response = post(
        organiser,
        "/organiser/events/akson-test/edit",
        form(title="Nytt navn", start_time="16:00", end_time="15:00"),
    )
    assert response.status_code == 422
    assert "etter starten" in field_error(response, "end_time")
    event = event_by_slug("akson-test")
    assert event.title == "Webinar om Akson"
    assert event.local_start.hour == 14


def test_saving_a_time_change_tells_how_many_were_updated(organiser):
    create(organiser, capacity="2", waitlist="y")
    post(organiser, "/organiser/events/akson-test/publish", {})
    add(event_by_slug("akson-test"), 3)
    queued = count(OutboxMessage)
    response = post(
        organiser,
        "/organiser/events/akson-test/edit",
        form(start_time="13:00", capacity="2", waitlist="y"),
    )
    assert response.status_code == 303
    page = organiser.get(response.headers["Location"])
    assert "2 påmeldte får oppdatert kalenderinvitasjon" in page.text
    assert "1 på ventelisten får beskjed" in page.text
    assert count(OutboxMessage) == queued + 3


def test_the_edit_form_warns_before_changes_go_out(organiser):
    create(organiser)
    post(organiser, "/organiser/events/akson-test/publish", {})
    add(event_by_slug("akson-test"), 2)
    page = organiser.get("/organiser/events/akson-test/edit")
    assert "får 2 påmeldte en oppdatert kalenderinvitasjon" in page.text


# --- the list, publishing, cancelling ------------------------------------------------------


def test_the_list_has_upcoming_past_and_drafts_with_counts(organiser, create_event):
    upcoming = create_event(title="Kommende webinar", capacity=10)
    add(upcoming, 2)
    past_start = utcnow() - timedelta(days=10)
    create_event(
        title="Gammelt webinar", starts_at=past_start, ends_at=past_start + timedelta(hours=1)
    )
    create_event(title="Uferdig webinar", status="draft")
    page = organiser.get("/organiser/events")
    assert page.status_code == 200
    sections = {
        key: page.text.split(f'id="{key}"')[1].split("</section>")[0]
        for key in ("upcoming", "past", "drafts")
    }
    assert "(1)" in sections["upcoming"] and "Kommende webinar" in sections["upcoming"]
    assert "<td>2 / 10</td>" in sections["upcoming"]
    assert "(1)" in sections["past"] and "Gammelt webinar" in sections["past"]
    assert "(1)" in sections["drafts"] and "Uferdig webinar" in sections["drafts"]


def test_publish_and_unpublish(organiser, client):
    create(organiser)
    assert client.get("/events/akson-test").status_code == 404
    assert post(organiser, "/organiser/events/akson-test/publish", {}).status_code == 303
    assert event_by_slug("akson-test").status == "published"
    assert client.get("/events/akson-test").status_code == 200
    assert post(organiser, "/organiser/events/akson-test/unpublish", {}).status_code == 303
    assert event_by_slug("akson-test").status == "draft"
    assert client.get("/events/akson-test").status_code == 404


def test_unpublishing_an_event_with_registrations_is_refused(organiser, create_event):
    event = create_event(slug="med-pameldte")
    add(event, 1)
    response = post(organiser, "/organiser/events/med-pameldte/unpublish", {})
    assert response.status_code == 409
    assert "Avlys det i stedet" in response.text
    assert event_by_slug("med-pameldte").status == "published"


def test_cancelling_asks_first(organiser, create_event):
    event = create_event(slug="avlyses", capacity=1, waitlist=True)
    add(event, 2)
    page = organiser.get("/organiser/events/avlyses/cancel")
    assert page.status_code == 200
    assert "1 påmeldt får avlysningen i kalenderen" in page.text
    assert "1 på ventelisten får en e-post" in page.text
    assert event_by_slug("avlyses").status == "published"

    response = post(
        organiser, "/organiser/events/avlyses/cancel", {"message": "Nytt tidspunkt kommer."}
    )
    assert response.status_code == 303
    assert event_by_slug("avlyses").status == "cancelled"
    assert "Arrangementet er avlyst" in organiser.get(response.headers["Location"]).text
    assert count(OutboxMessage) == 2 + 2  # two confirmations, two cancellations


def test_a_draft_cannot_be_cancelled(organiser):
    create(organiser)
    response = post(organiser, "/organiser/events/akson-test/cancel", {})
    assert response.status_code == 409
    assert event_by_slug("akson-test").status == "draft"


def test_the_overview_links_to_the_other_organiser_pages_that_exist(app, organiser, create_event):
    create_event(slug="oversikt")
    page = organiser.get("/organiser/events/oversikt")
    for endpoint, path in [
        ("organiser.participants", "/organiser/events/oversikt/participants"),
        ("organiser.recording", "/organiser/events/oversikt/recording"),
        ("organiser.outbox_event", "/organiser/events/oversikt/mail"),
        ("organiser.coverage_event", "/organiser/events/oversikt/coverage"),
    ]:
        if endpoint in app.view_functions:
            assert f'href="{path}"' in page.text, endpoint
    assert 'href="/organiser/events/oversikt/edit"' in page.text


def test_a_missing_event_is_404(organiser):
    assert organiser.get("/organiser/events/finnes-ikke").status_code == 404
    assert organiser.get("/organiser/events/finnes-ikke/edit").status_code == 404


def test_registration_can_stay_open_until_the_start(organiser):
    event = create(organiser, deadline_mode="start")
    assert event.deadline_at is None and event.deadline_days_before is None
    assert event.deadline == event.starts_at
