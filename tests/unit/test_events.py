"""Event services: validation, and changes and cancellations reaching registrants' calendars.

Mail goes through the outbox to a real SMTP server; invites are read back with icalendar.
"""

from __future__ import annotations

import threading
import time as time_module
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import icalendar
import pytest
from sqlalchemy import func, select, text

from webinars import events, ical, registrations
from webinars.extensions import db
from webinars.i18n import clock
from webinars.mail import messages, worker
from webinars.models import Event, OutboxMessage, Registration, utcnow


def fields_of(event: Event, **changes) -> events.EventFields:
    """The event's current values as the form would submit them, with some changed."""
    current = events.EventFields(
        slug=event.slug,
        title=event.title,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        kind=event.kind,
        description=event.description,
        target_group=event.target_group,
        location=event.location,
        timezone=event.timezone,
        registration_opens_at=event.registration_opens_at,
        deadline_at=event.deadline_at,
        deadline_days_before=event.deadline_days_before,
        deadline_local_time=event.deadline_local_time,
        capacity=event.capacity,
        waitlist=event.waitlist,
        eligible_regions=event.region_list,
        eligible_counties=event.county_list,
        join_url=event.join_url,
        organiser_name=event.organiser_name,
        organiser_email=event.organiser_email,
    )
    return replace(current, **changes)


def add(event: Event, *emails: str) -> list[Registration]:
    return [
        registrations.register(
            event,
            name=f"Navn {email[0].upper()}",
            email=email,
            role="ordforer",
            municipality="0301",
        )[0]
        for email in emails
    ]


def deliver(smtp) -> dict[str, object]:
    """Deliver the outbox; what each recipient got, by address (one message each)."""
    smtp.messages.clear()
    worker.deliver_all()
    received = {}
    for envelope, message in smtp.messages:
        assert envelope.rcpt_tos[0] not in received, "two messages for one recipient"
        received[envelope.rcpt_tos[0]] = message
    return received


def invite(message) -> tuple[str | None, icalendar.Event | None, icalendar.Calendar | None]:
    """The MIME method, the VEVENT and the calendar of the message's text/calendar part."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            calendar = icalendar.Calendar.from_ical(part.get_content())
            return part.get_param("method"), calendar.walk("VEVENT")[0], calendar
    return None, None, None


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def reload(event_id: int) -> Event:
    db.session.expire_all()
    return db.session.get(Event, event_id)


def outbox_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


@pytest.fixture
def busy(ctx, mail_app, smtp, create_event):
    """A published webinar with two seats taken and one on the waiting list; inbox emptied."""
    event_id = create_event(slug="flyttes", capacity=2, waitlist=True).id
    add(reload(event_id), "anne@kommune.no", "bjorn@kommune.no", "cecilie@kommune.no")
    # Delivering ends the session (as the delivery loop does): load the event again after.
    first = deliver(smtp)
    assert invite(first["anne@kommune.no"])[1]["SEQUENCE"] == 0
    return reload(event_id)


# --- validation -----------------------------------------------------------------------------


def test_validate_names_every_problem_by_field(ctx, create_event):
    event = create_event(slug="finnes")
    start = datetime(2031, 5, 5, 12, tzinfo=UTC)
    bad = events.EventFields(
        slug="finnes",
        title="x",
        starts_at=start,
        ends_at=start - timedelta(minutes=1),
        deadline_at=start + timedelta(hours=1),
        join_url="javascript:alert(1)",
        registration_opens_at=start + timedelta(hours=2),
    )
    assert set(events.validate(bad)) == {
        "ends_at",
        "deadline",
        "registration_opens_at",
        "join_url",
        "slug",
    }
    assert events.validate(replace(bad, timezone="Europe/Atlantis")).keys() == {"timezone"}
    assert events.validate(replace(bad, slug="finnes"), event).keys() == {
        "ends_at",
        "deadline",
        "registration_opens_at",
        "join_url",
    }


def test_a_relative_deadline_is_checked_in_the_events_zone(ctx):
    # 14:00 Oslo on 5 May 2031 is 12:00 UTC; "0 days before at 13:00" is still before it.
    start = datetime(2031, 5, 5, 12, tzinfo=UTC)
    fields = events.EventFields(
        slug="x",
        title="x",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        deadline_days_before=0,
        deadline_local_time=time(13, 0),
    )
    assert events.validate(fields) == {}
    assert "deadline" in events.validate(replace(fields, deadline_local_time=time(14, 30)))
    # In New York the same wall-clock deadline is hours after a start at 12:00 UTC.
    assert "deadline" in events.validate(replace(fields, timezone="America/New_York"))


def test_capacity_below_the_seats_taken_is_refused_and_nothing_changes(busy):
    queued = outbox_count()
    with pytest.raises(events.InvalidEvent) as error:
        events.update_event(busy, fields_of(busy, capacity=1, title="Nytt"))
    assert "2" in str(error.value.errors["capacity"])
    event = reload(busy.id)
    assert (event.capacity, event.title, event.sequence) == (2, "Webinar 1", 0)
    assert outbox_count() == queued


def test_a_new_slug_on_an_old_uid_gets_a_uid_of_its_own(ctx):
    start = utcnow() + timedelta(days=20)
    fields = events.EventFields(
        slug="gjenbruk", title="Første", starts_at=start, ends_at=start + timedelta(hours=1)
    )
    first = events.create_event(fields)
    events.update_event(first, replace(fields, slug="nytt-navn"))
    second = events.create_event(replace(fields, title="Andre"))
    assert first.ical_uid == "gjenbruk@webinars.test"
    assert second.ical_uid == "gjenbruk.2@webinars.test"


# --- changes reach the calendars ------------------------------------------------------------


def test_a_time_change_updates_every_calendar(busy, smtp):
    event_id = busy.id
    old_start = busy.starts_at
    new_start = old_start + timedelta(hours=1)
    outcome = events.update_event(
        busy, fields_of(busy, starts_at=new_start, ends_at=busy.ends_at + timedelta(hours=1))
    )
    assert (outcome.updated, outcome.waitlisted_told, outcome.promoted) == (2, 1, 0)
    assert set(outcome.changes) == {"time"}
    assert reload(event_id).sequence == 1

    received = deliver(smtp)
    assert set(received) == {"anne@kommune.no", "bjorn@kommune.no", "cecilie@kommune.no"}
    for address in ("anne@kommune.no", "bjorn@kommune.no"):
        message = received[address]
        method, vevent, calendar = invite(message)
        assert method == "REQUEST"
        assert calendar["METHOD"] == "REQUEST"
        assert vevent["UID"] == "flyttes@webinars.test"
        assert vevent["SEQUENCE"] == 1
        assert vevent.decoded("DTSTART") == new_start
        assert vevent.decoded("DTEND") == new_start + timedelta(hours=1)
        assert vevent["ATTENDEE"] == f"mailto:{address}"
        text = body(message)
        # Old and new, in the event's own (Oslo) time.
        assert f"kl. {clock(old_start, 'Europe/Oslo')}" in text
        assert f"kl. {clock(new_start, 'Europe/Oslo')}" in text
        assert "→" in text
        assert "https://meet.example.org/secret-1" in text
        assert message["Subject"] == "Endret: Webinar 1"

    waiting = received["cecilie@kommune.no"]
    assert invite(waiting) == (None, None, None)
    assert "ventelisten" in body(waiting)
    assert "meet.example.org" not in waiting.as_string()

    # The public calendar file (what /events/<slug>/calendar.ics serves) has the same SEQUENCE.
    public = icalendar.Calendar.from_ical(ical.public_calendar([reload(event_id)]))
    assert public.walk("VEVENT")[0]["UID"] == "flyttes@webinars.test"
    assert public.walk("VEVENT")[0]["SEQUENCE"] == 1


def test_a_relative_deadline_moves_and_an_absolute_one_is_checked(busy):
    deadline = busy.deadline
    later = busy.starts_at + timedelta(days=2)
    events.update_event(busy, fields_of(busy, starts_at=later, ends_at=later + timedelta(hours=1)))
    assert reload(busy.id).deadline == deadline + timedelta(days=2)

    event = reload(busy.id)
    fixed = fields_of(
        event, deadline_days_before=None, deadline_at=event.starts_at - timedelta(hours=1)
    )
    events.update_event(event, fixed)
    earlier = event.starts_at - timedelta(hours=3)
    with pytest.raises(events.InvalidEvent) as error:
        events.update_event(
            event, replace(fixed, starts_at=earlier, ends_at=earlier + timedelta(hours=1))
        )
    assert set(error.value.errors) == {"deadline"}


def test_only_a_description_change_sends_nothing(busy):
    queued = outbox_count()
    outcome = events.update_event(
        busy, fields_of(busy, description="Ny tekst.", target_group="Alle", capacity=3)
    )
    assert outcome.changes == {}
    assert reload(busy.id).sequence == 0
    # The capacity went up, so the one waiting got the seat (and that mail only).
    assert outcome.promoted == 1
    assert outbox_count() == queued + 1


def test_a_title_change_is_a_calendar_change(busy, smtp):
    events.update_event(busy, fields_of(busy, title="Webinar 1 (nytt navn)"))
    received = deliver(smtp)
    method, vevent, _ = invite(received["anne@kommune.no"])
    assert (method, vevent["SUMMARY"], vevent["SEQUENCE"]) == (
        "REQUEST",
        "Webinar 1 (nytt navn)",
        1,
    )
    assert "Webinar 1 → Webinar 1 (nytt navn)" in body(received["anne@kommune.no"])
    assert "cecilie@kommune.no" in received


def test_a_new_place_is_sent_and_a_new_join_link_only_to_the_confirmed(busy, smtp):
    event_id = busy.id
    events.update_event(busy, fields_of(busy, location="Teams"))
    received = deliver(smtp)
    assert len(received) == 3
    assert "Digitalt → Teams" in body(received["cecilie@kommune.no"])

    event = reload(event_id)
    events.update_event(event, fields_of(event, join_url="https://meet.example.org/ny-lenke"))
    received = deliver(smtp)
    assert set(received) == {"anne@kommune.no", "bjorn@kommune.no"}
    method, vevent, _ = invite(received["bjorn@kommune.no"])
    assert vevent["SEQUENCE"] == 2
    assert "https://meet.example.org/ny-lenke" in vevent["DESCRIPTION"]
    assert "https://meet.example.org/ny-lenke" in body(received["bjorn@kommune.no"])


def test_a_zone_change_alone_is_a_time_change(busy, smtp):
    start = busy.starts_at
    outcome = events.update_event(busy, fields_of(busy, timezone="Europe/London"))
    assert set(outcome.changes) == {"time"}
    _, vevent, calendar = invite(deliver(smtp)["anne@kommune.no"])
    assert vevent["DTSTART"].params["TZID"] == "Europe/London"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    assert vevent.decoded("DTSTART") == start


def test_the_update_is_above_what_a_returning_registrant_had(ctx, mail_app, smtp, create_event):
    event = create_event(slug="tilbake")
    event_id = event.id
    anne, _ = add(event, "anne@kommune.no", "bjorn@kommune.no")
    anne_id = anne.id
    deliver(smtp)
    anne = db.session.get(Registration, anne_id)
    # Anne cancels (CANCEL at 1) and registers again (REQUEST at 2): her calendar is at 2.
    registrations.cancel(anne)
    assert invite(deliver(smtp)["anne@kommune.no"])[1]["SEQUENCE"] == 1
    add(reload(event_id), "anne@kommune.no")
    assert invite(deliver(smtp)["anne@kommune.no"])[1]["SEQUENCE"] == 2

    event = reload(event_id)
    later = event.starts_at + timedelta(hours=2)
    events.update_event(
        event, fields_of(event, starts_at=later, ends_at=later + timedelta(hours=1))
    )
    assert reload(event.id).sequence == 1
    sequences = {address: invite(m)[1]["SEQUENCE"] for address, m in deliver(smtp).items()}
    # Anne's is above the 2 her calendar has, not the event's 1; Bjørn's above his 0.
    assert sequences == {"anne@kommune.no": 3, "bjorn@kommune.no": 1}


def test_more_seats_promote_the_waiting_list_with_the_new_details(busy, smtp):
    later = busy.starts_at + timedelta(days=1)
    outcome = events.update_event(
        busy,
        fields_of(busy, capacity=None, starts_at=later, ends_at=later + timedelta(hours=1)),
    )
    assert (outcome.updated, outcome.promoted, outcome.waitlisted_told) == (2, 1, 0)
    received = deliver(smtp)
    promoted = received["cecilie@kommune.no"]
    assert "fått plass" in promoted["Subject"]
    method, vevent, _ = invite(promoted)
    assert (method, vevent["SEQUENCE"]) == ("REQUEST", 1)
    assert vevent.decoded("DTSTART") == later


def test_a_draft_without_registrants_keeps_its_sequence(ctx, create_event):
    event = create_event(status=Event.DRAFT)
    later = event.starts_at + timedelta(hours=1)
    outcome = events.update_event(
        event, fields_of(event, starts_at=later, ends_at=later + timedelta(hours=1))
    )
    assert set(outcome.changes) == {"time"}
    assert reload(event.id).sequence == 0
    assert outbox_count() == 0


# --- publish, unpublish, cancel -------------------------------------------------------------


def test_unpublishing_is_refused_while_anyone_is_registered(busy):
    with pytest.raises(events.CannotUnpublish):
        events.unpublish_event(busy)
    assert reload(busy.id).status == Event.PUBLISHED


def test_unpublishing_is_allowed_once_everyone_cancelled(ctx, mail_app, create_event):
    event = create_event()
    (registration,) = add(event, "anne@kommune.no")
    registrations.cancel(registration)
    events.unpublish_event(reload(event.id))
    assert reload(event.id).status == Event.DRAFT
    events.publish_event(reload(event.id))
    assert reload(event.id).status == Event.PUBLISHED


def test_cancelling_sends_cancel_to_the_confirmed_and_a_mail_to_the_waiting(busy, smtp):
    event_id = busy.id
    gone = add(busy, "dag@kommune.no")[0]  # waitlisted, then cancels himself
    registrations.cancel(gone)
    worker.deliver_all()
    confirmed, waitlisted = events.cancel_event(reload(event_id), "Vi kommer tilbake med ny dato.")
    assert (confirmed, waitlisted) == (2, 1)
    event = reload(event_id)
    assert (event.status, event.sequence) == (Event.CANCELLED, 1)

    received = deliver(smtp)
    assert set(received) == {"anne@kommune.no", "bjorn@kommune.no", "cecilie@kommune.no"}
    for address in ("anne@kommune.no", "bjorn@kommune.no"):
        method, vevent, calendar = invite(received[address])
        assert method == "CANCEL"
        assert calendar["METHOD"] == "CANCEL"
        assert vevent["UID"] == "flyttes@webinars.test"
        assert vevent["SEQUENCE"] == 1
        assert vevent["STATUS"] == "CANCELLED"
        assert "meet.example.org" not in received[address].as_string()
        assert "Vi kommer tilbake med ny dato." in body(received[address])
        assert received[address]["Subject"] == "Avlyst: Webinar 1"
    waiting = received["cecilie@kommune.no"]
    assert invite(waiting) == (None, None, None)
    assert "avlyst" in body(waiting)

    event = reload(event_id)
    with pytest.raises(registrations.EventCancelled):
        registrations.check_open(event)
    with pytest.raises(events.CannotCancel):
        events.cancel_event(event)
    with pytest.raises(events.CannotPublish):
        events.publish_event(event)


def test_a_past_event_cannot_be_cancelled(ctx, create_event):
    start = utcnow() - timedelta(days=2)
    event = create_event(starts_at=start, ends_at=start + timedelta(hours=1))
    with pytest.raises(events.CannotCancel):
        events.cancel_event(event)
    assert reload(event.id).status == Event.PUBLISHED


def test_slugify():
    assert events.slugify("Webinar 1: Støttemateriellet om Akson") == (
        "webinar-1-stottemateriellet-om-akson"
    )
    assert events.slugify("Æ Ø Å é") == "ae-o-a-e"
    assert events.slugify("!!!") == "arrangement"
    assert len(events.slugify("a" * 200)) == 80


# --- races with registrations ---------------------------------------------------------------


def wait_until_blocked() -> None:
    """Until another connection waits for a lock (PostgreSQL), or a moment (SQLite)."""
    if db.engine.dialect.name != "postgresql":
        time_module.sleep(0.5)
        return
    with db.engine.connect() as watch:
        for _ in range(500):
            waiting = watch.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            # pg_stat_activity is a snapshot for the whole transaction: end it to look again.
            watch.rollback()
            if waiting:
                return
            time_module.sleep(0.02)
    raise AssertionError("nothing ever waited for the lock")


def test_a_registration_racing_an_edit_gets_the_new_time(ctx, create_event):
    """The edit holds the event row; a registration that read the old time waits for it.

    It must then build its confirmation from the new time: the edit's update went only to
    those registered when it committed, so nobody else would tell this registrant.
    """
    event = create_event(slug="kappløp", capacity=10)
    event_id, moved = event.id, event.starts_at + timedelta(hours=3)
    edit = db.engine.connect()
    transaction = edit.begin()
    # The organiser's transaction: the row is locked and the time changed, not committed.
    edit.execute(
        Event.__table__.update()
        .where(Event.id == event_id)
        .values(starts_at=moved, ends_at=moved + timedelta(hours=1), sequence=1)
    )
    errors = []

    def registrant():
        with ctx.app_context():
            try:
                racing = db.session.get(Event, event_id)
                assert racing.starts_at != moved  # read before the edit committed
                add(racing, "anne@kommune.no")
            except Exception as exc:  # reported below
                errors.append(exc)

    thread = threading.Thread(target=registrant)
    thread.start()
    try:
        wait_until_blocked()
    finally:
        # Always let go, or a failure here would leave the thread and the database waiting.
        transaction.commit()
        edit.close()
        thread.join(30)
    assert not errors, errors
    db.session.rollback()  # a fresh snapshot: see what the other thread committed
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "confirmation"))
    parsed = messages.compose(message)
    method, vevent, _ = invite(parsed)
    assert vevent.decoded("DTSTART") == moved
    assert vevent["SEQUENCE"] == 1


def test_an_edit_racing_a_registration_tells_that_registrant_too(ctx, mail_app, smtp, create_event):
    """A registration commits while the edit is being prepared: the edit must include it."""
    event = create_event(slug="kappløp")
    add(event, "anne@kommune.no")
    event_id = event.id
    later = event.starts_at + timedelta(hours=2)
    fields = fields_of(event, starts_at=later, ends_at=later + timedelta(hours=1))
    deliver(smtp)
    # A registration in flight: it has taken its seat (locking the event row), not committed.
    other = db.engine.connect()
    transaction = other.begin()
    other.execute(
        Event.__table__.update()
        .where(Event.id == event_id)
        .values(seats_taken=Event.__table__.c.seats_taken + 1)
    )
    other.execute(
        Registration.__table__.insert().values(
            event_id=event_id,
            name="Bjørn",
            email="bjorn@kommune.no",
            role="ordforer",
            municipality_number="0301",
            status=Registration.CONFIRMED,
            ical_sequence=0,
            locale="nb",
            organisation="",
            created_at=utcnow(),
            updated_at=utcnow(),
        )
    )
    errors, outcomes = [], []

    def organiser():
        with mail_app.app_context():
            try:
                outcomes.append(events.update_event(db.session.get(Event, event_id), fields))
            except Exception as exc:  # reported below
                errors.append(exc)

    thread = threading.Thread(target=organiser)
    thread.start()
    try:
        wait_until_blocked()
    finally:
        transaction.commit()
        other.close()
        thread.join(30)
    assert not errors, errors
    assert outcomes[0].updated == 2
    db.session.rollback()
    received = deliver(smtp)
    assert set(received) == {"anne@kommune.no", "bjorn@kommune.no"}
    assert invite(received["bjorn@kommune.no"])[1].decoded("DTSTART") == later


# --- authoring: copies, previews, the organiser's defaults ----------------------------------


def test_free_slug_takes_the_first_free_number(ctx, create_event):
    assert events.free_slug("akson-webinar-1") == "akson-webinar-1-2"
    create_event(slug="akson-webinar-1-2")
    create_event(slug="akson-webinar-1-3")
    create_event(slug="akson-webinar-1x-4")  # another base: does not count
    assert events.free_slug("akson-webinar-1") == "akson-webinar-1-4"
    # Room for the number within the 80 characters a slug may have.
    assert len(events.free_slug("a" * 80)) <= 80


def test_organiser_defaults_programme_then_my_last_event_then_anyone_s_then_mine(
    ctx, create_event, create_programme
):
    from_programme = create_programme(organiser_name="HOD", organiser_email="akson@hod.test")
    silent = create_programme(slug="uten", organiser_name="", organiser_email="")
    assert events.organiser_defaults(None, None, "meg@ks.test") == events.OrganiserDefaults(
        "", "meg@ks.test"
    )

    create_event(organiser_name="Andre", organiser_email="andre@ks.test")
    assert events.organiser_defaults(1, None).email == "andre@ks.test"
    create_event(organiser_name="Meg", organiser_email="meg@ks.test", created_by_id=None)
    assert events.organiser_defaults(1, None).email == "meg@ks.test"  # the newest

    assert events.organiser_defaults(1, from_programme) == events.OrganiserDefaults(
        "HOD", "akson@hod.test"
    )
    # A programme that names no organiser leaves it to the events.
    assert events.organiser_defaults(1, silent).email == "meg@ks.test"


def test_a_preview_shows_a_draft_as_published_and_changes_nothing(ctx, create_event):
    draft = create_event(status=Event.DRAFT)
    preview = events.Preview(draft)
    assert preview.status == Event.PUBLISHED and preview.is_draft
    assert (preview.title, preview.deadline) == (draft.title, draft.deadline)
    assert registrations.is_open(preview) and not registrations.is_open(draft)
    assert draft.status == Event.DRAFT

    cancelled = events.Preview(create_event(status=Event.CANCELLED))
    assert cancelled.status == Event.CANCELLED and not cancelled.is_draft
