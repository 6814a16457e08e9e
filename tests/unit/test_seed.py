"""The Akson programme of spring 2020: one meeting and three webinars, loaded once."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, update

from webinars import programmes, registrations, seed
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Event, Material, Municipality, Programme, utcnow

OSLO = ZoneInfo("Europe/Oslo")
SLUGS = ["akson-stormote", "akson-webinar-1", "akson-webinar-2", "akson-webinar-3"]


def _events() -> dict[str, Event]:
    return {e.slug: e for e in db.session.scalars(select(Event))}


def _snapshot() -> list:
    """Every column of every event, material and programme, to prove a second run changes
    nothing."""
    db.session.expire_all()
    rows = []
    for model in (Event, Material, Programme):
        table = model.__table__
        rows += [
            dict(row) for row in db.session.execute(select(table).order_by(table.c.id)).mappings()
        ]
    return rows


def test_seed_akson_creates_the_programme_once(ctx):
    assert sorted(seed.seed_akson()) == ["akson", *SLUGS]
    assert sorted(_events()) == SLUGS
    before = _snapshot()

    assert seed.seed_akson() == []
    assert _snapshot() == before
    assert db.session.scalar(select(func.count()).select_from(Municipality)) == 356


def test_seed_akson_places_the_programme_in_the_future(ctx):
    seed.seed_akson()
    events = _events()
    meeting = events["akson-stormote"]
    day = utcnow().astimezone(OSLO).date() + timedelta(days=14)
    assert meeting.local_start.replace(tzinfo=None) == datetime.combine(day, time(14, 0))
    assert meeting.local_end.replace(tzinfo=None) == datetime.combine(day, time(15, 30))
    deadline = meeting.deadline.astimezone(OSLO)
    assert (deadline.date(), deadline.time()) == (day - timedelta(days=1), time(23, 59))
    assert registrations.is_open(meeting)
    starts = [events[slug].starts_at for slug in SLUGS]
    assert starts == sorted(starts) and starts[1] - starts[0] > timedelta(days=6)
    for event in events.values():
        assert event.status == Event.PUBLISHED
        assert event.join_url.startswith("https://")
        assert registrations.is_open(event)


def test_seed_akson_with_original_dates(ctx):
    seed.seed_akson(original_dates=True)
    events = _events()
    meeting = events["akson-stormote"]
    assert meeting.starts_at == datetime(2020, 5, 5, 12, 0, tzinfo=UTC)
    assert meeting.ends_at == datetime(2020, 5, 5, 13, 30, tzinfo=UTC)
    deadline = meeting.deadline.astimezone(OSLO)
    assert deadline.date() == date(2020, 5, 4) and deadline.time() >= time(23, 59)
    assert meeting.deadline < meeting.starts_at
    assert meeting.kind == "meeting"
    assert meeting.region_list == ["Nord", "Vest", "Sør-Øst"]
    assert "Ordførere, kommunedirektører" in meeting.target_group
    assert "KS" in meeting.organiser_name and "e-helse" in meeting.organiser_name
    assert all(e.join_url for e in events.values())
    assert not registrations.is_open(meeting)


@pytest.mark.usefixtures("restore_register")
def test_seed_akson_loads_the_register_into_an_empty_database(ctx):
    with write_transaction():
        db.session.execute(delete(Municipality))
    seed.seed_akson()
    assert db.session.scalar(select(func.count()).select_from(Municipality)) == 356
    assert registrations.eligible_count(_events()["akson-stormote"]) == 292


# --- the programme and its campaign ---------------------------------------------------------


def _akson() -> Programme:
    return db.session.scalar(select(Programme).where(Programme.slug == "akson"))


def test_seed_akson_makes_the_campaign_with_the_2020_deadline(ctx):
    seed.seed_akson(original_dates=True)
    akson = _akson()
    assert akson.declarations_due == date(2020, 7, 1)
    assert sorted(event.slug for event in akson.events) == SLUGS
    goal = programmes.goal(akson)
    assert (goal.municipalities, goal.population, goal.people) == (292, 4_633_640, 2_316_821)


def test_seed_akson_in_the_future_keeps_57_days_to_sign(ctx):
    seed.seed_akson()
    meeting = _events()["akson-stormote"]
    assert _akson().declarations_due == meeting.local_start.date() + timedelta(days=57)


def test_a_database_seeded_before_programmes_gets_the_programme_once(ctx):
    seed.seed_akson(original_dates=True)
    with write_transaction():  # as it was before this change: events, no programme
        db.session.execute(update(Event).values(programme_id=None))
        db.session.execute(delete(Programme))
    events_before = _snapshot()

    assert seed.seed_akson() == ["akson"]
    akson = _akson()
    assert akson.declarations_due == date(2020, 7, 1)  # from the meeting already there
    assert sorted(event.slug for event in akson.events) == SLUGS
    after = _snapshot()
    assert seed.seed_akson() == [] and _snapshot() == after
    assert len(after) == len(events_before) + 1
