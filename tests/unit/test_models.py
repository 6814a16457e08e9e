"""The schema (migrations only, in step with the models) and the time rules of the models."""

import os
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, StatementError

from config import database_url
from webinars import create_app
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Event, Registration, RegistrationCount, local_to_utc

OSLO = ZoneInfo("Europe/Oslo")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):
    """A database with no tables at all, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails on CI) without PostgreSQL
    base = make_url(database_url(os.environ["TEST_DATABASE_URL"]))
    name = f"webinars_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_of_empty_database_matches_the_models(empty_db_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_db_url, "TESTING": True})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == []
        assert {"events", "registrations", "municipalities", "outbox", "organisers"} <= tables

        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_test_databases_are_built_by_the_migrations(ctx):
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == _head()


def _head() -> str:
    """The newest revision in migrations/versions."""
    return ScriptDirectory.from_config(
        current_app.extensions["migrate"].migrate.get_config()
    ).get_current_head()


# --- the partial unique index ------------------------------------------------------------


def _insert_registration(event, email, status="confirmed"):
    """A row written straight into the table, past every check in the services."""
    db.session.execute(
        insert(Registration.__table__).values(
            event_id=event.id,
            name="Kari",
            email=email,
            role="ordforer",
            municipality_number="0301",
            organisation="",
            status=status,
            locale="nb",
            ical_sequence=-1,
            created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
        )
    )


def _registrations() -> int:
    return db.session.scalar(select(func.count()).select_from(Registration))


def test_database_refuses_second_active_registration_for_same_email(ctx, create_event):
    event = create_event()
    with write_transaction():
        _insert_registration(event, "kari@kommune.no")
    with pytest.raises(IntegrityError), write_transaction():
        _insert_registration(event, "kari@kommune.no", status="waitlisted")
    assert _registrations() == 1


def test_cancelled_registration_does_not_block_a_new_one(ctx, create_event):
    event, other = create_event(), create_event()
    with write_transaction():
        _insert_registration(event, "kari@kommune.no", status="cancelled")
        _insert_registration(event, "kari@kommune.no", status="cancelled")
        _insert_registration(event, "kari@kommune.no")
        _insert_registration(other, "kari@kommune.no")  # another event is no duplicate
    assert _registrations() == 4


# --- time ---------------------------------------------------------------------------------


def test_utc_datetime_round_trips_as_aware_utc(ctx, create_event):
    start = datetime(2020, 5, 5, 14, 0, tzinfo=OSLO)
    event = create_event(starts_at=start, ends_at=start + timedelta(minutes=90))
    event_id = event.id
    db.session.expire_all()
    stored = db.session.get(Event, event_id)
    assert stored.starts_at == datetime(2020, 5, 5, 12, 0, tzinfo=UTC)
    assert stored.starts_at.utcoffset() == timedelta(0)
    assert stored.ends_at.tzinfo is not None
    raw = db.session.execute(
        text("SELECT starts_at FROM events WHERE id = :id"), {"id": event_id}
    ).scalar()
    # Stored as the UTC instant whatever zone the value came in.
    if isinstance(raw, str):  # SQLite keeps the UTC wall clock as text
        assert raw.startswith("2020-05-05 12:00:00")
    else:
        assert raw == datetime(2020, 5, 5, 12, 0, tzinfo=UTC)


def test_naive_datetime_is_refused(ctx, create_event):
    with pytest.raises(StatementError, match="naive datetime"):
        create_event(starts_at=datetime(2020, 5, 5, 14, 0))
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_absolute_deadline_stays_put_when_start_moves(ctx, create_event):
    deadline = datetime(2020, 5, 4, 21, 59, 59, tzinfo=UTC)
    start = datetime(2020, 5, 5, 12, 0, tzinfo=UTC)
    event = create_event(
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        deadline_at=deadline,
        deadline_days_before=None,
        deadline_local_time=None,
    )
    event.starts_at += timedelta(days=7)
    assert event.deadline == deadline


def test_relative_deadline_moves_with_the_start(ctx, create_event):
    start = datetime(2020, 5, 5, 12, 0, tzinfo=UTC)  # 14:00 in Oslo
    event = create_event(
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        deadline_days_before=1,
        deadline_local_time=time(23, 59),
    )
    assert event.deadline == datetime(2020, 5, 4, 21, 59, tzinfo=UTC)
    with write_transaction():
        event.starts_at += timedelta(days=7)
    assert event.deadline == datetime(2020, 5, 11, 21, 59, tzinfo=UTC)
    assert event.deadline.astimezone(OSLO).time() == time(23, 59)


def test_relative_deadline_across_the_autumn_change_keeps_local_time(ctx, create_event):
    # Start Monday 26 October 2020 14:00 CET; deadline two days before, in summer time.
    start = local_to_utc(date(2020, 10, 26), time(14, 0), OSLO)
    event = create_event(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        deadline_days_before=2,
        deadline_local_time=time(23, 59),
    )
    assert start == datetime(2020, 10, 26, 13, 0, tzinfo=UTC)
    assert event.deadline == datetime(2020, 10, 24, 21, 59, tzinfo=UTC)


def test_local_time_in_the_spring_gap_moves_forward():
    # 02:00–03:00 on 29 March 2020 does not exist in Oslo; 02:30 becomes 03:30 CEST.
    instant = local_to_utc(date(2020, 3, 29), time(2, 30), OSLO)
    assert instant == datetime(2020, 3, 29, 1, 30, tzinfo=UTC)
    assert instant.astimezone(OSLO).time() == time(3, 30)
    # Around the gap, wall-clock times map to their ordinary offsets.
    assert local_to_utc(date(2020, 3, 29), time(1, 59), OSLO).hour == 0
    assert local_to_utc(date(2020, 3, 29), time(3, 0), OSLO) == datetime(
        2020, 3, 29, 1, 0, tzinfo=UTC
    )


def test_local_time_in_the_autumn_fold_is_the_first_occurrence():
    # 02:30 happens twice on 25 October 2020; a deadline means the earlier one (CEST).
    instant = local_to_utc(date(2020, 10, 25), time(2, 30), OSLO)
    assert instant == datetime(2020, 10, 25, 0, 30, tzinfo=UTC)
    assert instant.astimezone(OSLO).utcoffset() == timedelta(hours=2)
    assert local_to_utc(date(2020, 10, 25), time(3, 30), OSLO) == datetime(
        2020, 10, 25, 2, 30, tzinfo=UTC
    )


def test_local_to_utc_in_another_zone():
    new_york = ZoneInfo("America/New_York")
    instant = local_to_utc(date(2020, 5, 5), time(8, 0), new_york)
    assert instant == datetime(2020, 5, 5, 8, 0, tzinfo=timezone(timedelta(hours=-4)))


def test_migration_0003_keeps_the_link_every_registrant_already_has(empty_db_url):
    """The manage-token hashes move from registrations to registration_tokens and back, and
    nothing that refers to a registration loses it on the way."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_db_url, "TESTING": True})
    with app.app_context():
        upgrade(revision="0002")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO municipalities (number, name, county_number, county_name, "
                    "population, health_region, active) "
                    "VALUES ('0301', 'Oslo', '03', 'Oslo', 1, 'Sør-Øst', true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO events (id, slug, kind, title, description, target_group, "
                    "location, starts_at, ends_at, timezone, status, waitlist, seats_taken, "
                    "join_url, ical_uid, sequence, organiser_name, organiser_email, "
                    "created_at, updated_at) VALUES (1, 'm', 'meeting', 'M', '', '', '', "
                    ":t, :t, 'Europe/Oslo', 'published', false, 0, '', 'm@x', 0, '', '', :t, :t)"
                ),
                {"t": datetime(2020, 5, 5, tzinfo=UTC)},
            )
            conn.execute(
                text(
                    "INSERT INTO registrations (event_id, name, email, role, "
                    "municipality_number, organisation, token_hash, status, locale, "
                    "ical_sequence, created_at, updated_at) VALUES (1, 'Kari', 'k@x.no', "
                    "'ordforer', '0301', '', :h, 'confirmed', 'nb', 0, :t, :t)"
                ),
                {"h": "a" * 64, "t": datetime(2020, 5, 1, tzinfo=UTC)},
            )
            conn.execute(
                text(
                    "INSERT INTO outbox (event_id, registration_id, kind, recipient, subject, "
                    "message_id, status, attempts, next_attempt_at, created_at) VALUES "
                    "(1, 1, 'confirmation', 'k@x.no', 'S', '<1@x>', 'queued', 0, :t, :t)"
                ),
                {"t": datetime(2020, 5, 1, tzinfo=UTC)},
            )
        upgrade()
        with db.engine.connect() as conn:
            moved = conn.execute(text("SELECT token_hash FROM registration_tokens")).all()
            pending = conn.execute(text("SELECT registration_id FROM outbox")).all()
        assert moved == [("a" * 64,)]
        assert pending == [(1,)], "rebuilding a table on SQLite must not cut the outbox off"
        downgrade(revision="0002")
        with db.engine.connect() as conn:
            back = conn.execute(text("SELECT token_hash FROM registrations")).all()
        assert back == [("a" * 64,)]
        downgrade(revision="base")
        db.engine.dispose()


def test_the_campaign_migration_keeps_and_counts_the_registrations_made_before_it(empty_db_url):
    """Upgrading a database with registrations keeps them and fills the per-hour counts."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_db_url, "TESTING": True})
    with app.app_context():
        upgrade(revision="0002")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO municipalities (number, name, county_number, county_name, "
                    "population, health_region, active) VALUES ('0301', 'Oslo', '03', 'Oslo', 1, "
                    "'Sør-Øst', true)"
                )
            )
            conn.execute(
                insert(Event.__table__).values(
                    id=1,
                    slug="m",
                    kind="meeting",
                    title="M",
                    description="",
                    target_group="",
                    location="",
                    starts_at=datetime(2020, 5, 5, 12, tzinfo=UTC),
                    ends_at=datetime(2020, 5, 5, 13, tzinfo=UTC),
                    timezone="Europe/Oslo",
                    status="published",
                    waitlist=False,
                    join_url="",
                    ical_uid="m@x",
                    sequence=0,
                    organiser_name="",
                    organiser_email="",
                    created_at=datetime(2020, 4, 1, tzinfo=UTC),
                    updated_at=datetime(2020, 4, 1, tzinfo=UTC),
                )
            )
            for n, at in enumerate(
                [
                    datetime(2020, 5, 1, 9, 15),
                    datetime(2020, 5, 1, 9, 59),
                    datetime(2020, 5, 1, 23, 1),
                ]
            ):
                conn.execute(
                    text(
                        "INSERT INTO registrations (event_id, name, email, role, "
                        "municipality_number, organisation, token_hash, status, locale, "
                        "ical_sequence, created_at, updated_at) VALUES (1, 'P', :email, "
                        "'ordforer', '0301', '', :token, 'confirmed', 'nb', 0, :at, :at)"
                    ),
                    {
                        "email": f"p{n}@x.no",
                        "token": f"t{n}",
                        "at": at if db.engine.dialect.name == "sqlite" else at.replace(tzinfo=UTC),
                    },
                )
        upgrade()
        with db.engine.connect() as conn:
            # Rebuilding `events` (SQLite's batch mode) must not cascade to its registrations.
            assert conn.scalar(text("SELECT count(*) FROM registrations")) == 3
            rows = conn.execute(
                select(RegistrationCount.day, RegistrationCount.count).order_by(
                    RegistrationCount.day
                )
            ).all()
        # 23:01 UTC on 1 May is 01:01 on 2 May in Oslo (summer time).
        assert rows == [(date(2020, 5, 1), 2), (date(2020, 5, 2), 1)]
        downgrade(revision="base")
        db.engine.dispose()


def test_the_questions_migration_keeps_events_and_registrations_both_ways(empty_db_url):
    """0005 adds the questions and the events' creator; rebuilding `events` on SQLite (batch
    mode) must not cascade to registrations, and going back keeps them too."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_db_url, "TESTING": True})
    with app.app_context():
        upgrade(revision="0004")
        at = datetime(2020, 4, 1, tzinfo=UTC)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO municipalities (number, name, county_number, county_name, "
                    "population, health_region, active) VALUES ('0301', 'Oslo', '03', 'Oslo', 1, "
                    "'Sør-Øst', true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO events (id, slug, kind, title, description, target_group, "
                    "location, starts_at, ends_at, timezone, status, waitlist, join_url, "
                    "ical_uid, sequence, organiser_name, organiser_email, seats_taken, "
                    "eligible_regions, eligible_counties, recording_url, created_at, "
                    "updated_at) VALUES (1, 'm', 'meeting', 'M', '', '', '', :t, :t, "
                    "'Europe/Oslo', 'published', false, '', 'm@x', 0, '', '', 1, '', '', '', "
                    ":t, :t)"
                ),
                {"t": at},
            )
            conn.execute(
                text(
                    "INSERT INTO registrations (id, event_id, name, email, role, "
                    "municipality_number, organisation, status, locale, ical_sequence, "
                    "created_at, updated_at) VALUES (1, 1, 'Kari', 'k@x.no', 'ordforer', "
                    "'0301', '', 'confirmed', 'nb', 0, :t, :t)"
                ),
                {"t": at},
            )
        upgrade()
        with db.engine.begin() as conn:
            assert conn.scalar(text("SELECT count(*) FROM registrations")) == 1
            assert conn.scalar(text("SELECT created_by_id FROM events")) is None
            conn.execute(
                text(
                    "INSERT INTO questions (registration_id, event_id, text, asked_at) "
                    "VALUES (1, 1, 'Hva koster det?', :t)"
                ),
                {"t": at},
            )
        downgrade(revision="0004")
        with db.engine.connect() as conn:
            assert "questions" not in inspect(conn).get_table_names()
            assert "created_by_id" not in {c["name"] for c in inspect(conn).get_columns("events")}
            assert conn.scalar(text("SELECT count(*) FROM registrations")) == 1
        downgrade(revision="base")
        db.engine.dispose()
