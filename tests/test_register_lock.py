"""A public registration on SQLite holds the write lock only for its writes.

The confirmation (mail and invite) is built before the lock from what the database says
then; under the lock the facts it was built on are read again, and a confirmation built on
facts that changed in between is built again. Found with bench/register.py: with the whole
POST under the lock, two gunicorn workers registered one at a time.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, update

from webinars import mail, services
from webinars.extensions import db
from webinars.models import Event, OutboxMessage, Registration


@pytest.fixture
def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the confirmation is built before the lock only on SQLite")


@pytest.fixture
def after_draft(monkeypatch):
    """Run a change from another connection right after the confirmation was drafted."""
    calls = []

    def install(change):
        original = services._draft

        def draft_then_change(registration, token):
            result = original(registration, token)
            calls.append(result)
            with db.engine.begin() as other:
                change(other)
            return result

        monkeypatch.setattr(services, "_draft", draft_then_change)
        return calls

    return install


def test_the_mail_is_rendered_outside_the_write_lock(
    sqlite_only, app, client, create_event, monkeypatch
):
    create_event(slug="stormote")
    page = client.get("/events/stormote")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    # As in a server, the POST starts with no transaction open (the test client shares the
    # fixture's app context, and with it the GET's session).
    db.session.remove()
    begins = []
    sa_event.listen(db.engine, "begin", lambda conn: begins.append(conn.info["immediate"]))
    rendered_under_lock = []
    original_render = mail.render

    def render(*args, **kwargs):
        rendered_under_lock.append(db.session.connection().info["immediate"])
        return original_render(*args, **kwargs)

    monkeypatch.setattr(mail, "render", render)
    response = client.post(
        "/events/stormote/register",
        data={
            "name": "Ola Nordmann",
            "email": "Ola@Kommune.no",
            "role": "ordforer",
            "municipality": "0301",
            "organisation": "",
            "csrf_token": token,
        },
    )

    assert response.status_code == 303
    assert rendered_under_lock == [False]
    # One deferred transaction for the form and the draft, one write-locked for the inserts.
    assert begins == [False, True]
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_an_event_changed_after_the_draft_gets_a_confirmation_built_again(
    sqlite_only, app, create_event, register, after_draft
):
    event = create_event(slug="stormote", title="Stormøte om Akson")
    event_id, later = event.id, event.starts_at.replace(hour=(event.starts_at.hour + 2) % 24)
    calls = after_draft(
        lambda conn: conn.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(
                title="Stormøte om Akson (ny tid)",
                starts_at=later,
                ends_at=later.replace(minute=59),
                sequence=Event.sequence + 1,
            )
        )
    )

    response = register("stormote", email="ola@kommune.no")

    assert response.status_code == 303
    assert len(calls) == 1 and calls[0] is not None
    message = db.session.scalars(select(OutboxMessage)).one()
    assert "(ny tid)" in message.subject
    assert "SEQUENCE:1" in _calendar(message.raw)
    registration = db.session.scalars(select(Registration)).one()
    assert registration.ical_sequence == 1
    assert message.registration_id == registration.id


def test_a_seat_taken_after_the_draft_puts_the_registrant_on_the_waiting_list(
    sqlite_only, app, create_event, register, after_draft
):
    event = create_event(slug="lite", capacity=1, waitlist=True)
    event_id = event.id
    calls = after_draft(
        lambda conn: conn.execute(update(Event).where(Event.id == event_id).values(seats_taken=1))
    )

    response = register("lite", email="ola@kommune.no")

    assert response.status_code == 303
    assert calls and calls[0] is not None  # drafted as confirmed: the seat was free then
    registration = db.session.scalars(select(Registration)).one()
    assert registration.status == "waitlisted"
    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.subject.startswith("Du står på ventelisten")
    assert "text/calendar" not in message.raw


def test_an_unchanged_draft_is_the_message_stored(
    sqlite_only, app, create_event, register, monkeypatch
):
    create_event(slug="stormote")
    drafts = []
    original = services._draft
    monkeypatch.setattr(
        services, "_draft", lambda *args: drafts.append(original(*args)) or drafts[-1]
    )

    assert register("stormote", email="ola@kommune.no").status_code == 303

    message = db.session.scalars(select(OutboxMessage)).one()
    assert message.message_id == drafts[0].message.message_id
    registration = db.session.scalars(select(Registration)).one()
    assert (registration.status, registration.ical_sequence) == ("confirmed", 0)
    assert "SEQUENCE:0" in _calendar(message.raw)


def _calendar(raw: str) -> str:
    """The decoded text/calendar part of a stored message."""
    from email import message_from_string
    from email.policy import default

    parsed = message_from_string(raw, policy=default)
    for part in parsed.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_content().replace("\r\n ", "")
    raise AssertionError("no text/calendar part")
