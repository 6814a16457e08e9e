"""Reminders a day and an hour before the start: once per registrant and start, via the outbox."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from tests.support import deliver
from webinars import registrations, reminders
from webinars.db import lock_event, write_transaction
from webinars.extensions import db
from webinars.models import Event, OutboxMessage, Registration, utcnow


@pytest.fixture
def event(ctx, create_event, create_registration):
    """Two weeks ahead, two seats and a waiting list: Kari and Nils confirmed, Ola waiting,
    Per cancelled."""
    event = create_event(title="Akson stormøte", capacity=2, waitlist=True)
    create_registration(event, "kari@kommune.no", name="Kari Nordmann")
    create_registration(event, "nils@kommune.no", name="Nils Bodø", municipality="1804")
    create_registration(event, "ola@kommune.no", name="Ola Venteliste", municipality="4601")
    registrations.cancel(
        create_registration(event, "per@kommune.no", name="Per", municipality="1103")
    )
    with write_transaction():
        db.session.execute(delete(OutboxMessage))
    return event


def reminded(kind: str | None = None) -> list[str]:
    """Recipients of queued reminders (of one kind), in order."""
    db.session.rollback()  # a fresh look: what other sessions committed
    query = select(OutboxMessage.recipient).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    else:
        query = query.where(OutboxMessage.kind.like("reminder%"))
    return list(db.session.scalars(query))


def move(event, by: timedelta) -> Event:
    """Reschedule the event the way an organiser's edit does (start and end together)."""
    with write_transaction():
        db.session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values(
                starts_at=event.starts_at + by,
                ends_at=event.ends_at + by,
                sequence=Event.sequence + 1,
            )
        )
    db.session.expire_all()
    return db.session.get(Event, event.id)


def test_day_and_hour_reminders_go_to_confirmed_registrants_once(event, mail_app, smtp):
    start, join_url, slug = event.starts_at, event.join_url, event.slug

    reminders.send_reminders(start - timedelta(hours=25))
    assert reminded() == []
    for minutes in (23 * 60, 20 * 60, 2 * 60):
        reminders.send_reminders(start - timedelta(minutes=minutes))
    assert reminded("reminder_day") == ["kari@kommune.no", "nils@kommune.no"]
    for minutes in (59, 30, 1):
        reminders.send_reminders(start - timedelta(minutes=minutes))
    reminders.send_reminders(start + timedelta(minutes=5))
    assert reminded("reminder_hour") == ["kari@kommune.no", "nils@kommune.no"]
    assert len(reminded()) == 4

    deliver(mail_app)
    received = [(envelope.rcpt_tos[0], message) for envelope, message in smtp.messages]
    assert [to for to, _ in received] == ["kari@kommune.no", "nils@kommune.no"] * 2
    day, hour = received[0][1], received[2][1]
    assert day["Subject"].startswith("Påminnelse: Akson stormøte, ")
    assert hour["Subject"].startswith("Starter snart: Akson stormøte kl. ")
    for message in (day, hour):
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        assert join_url in text and f'href="{join_url}"' in html
        assert f"http://webinars.test/events/{slug}" in text
        # A manage link of its own, made at delivery; no pointer to the confirmation.
        assert "http://webinars.test/r/" in text
        assert "bekreftelsen" not in text


def test_when_the_day_window_was_missed_only_the_hour_reminder_goes(event):
    reminders.send_reminders(event.starts_at - timedelta(minutes=40))
    reminders.send_reminders(event.starts_at - timedelta(minutes=20))

    assert reminded("reminder_day") == []
    assert reminded("reminder_hour") == ["kari@kommune.no", "nils@kommune.no"]


def test_a_moved_event_is_reminded_again_for_its_new_start(event):
    reminders.send_reminders(event.starts_at - timedelta(hours=23))
    assert len(reminded("reminder_day")) == 2

    moved = move(event, timedelta(days=2))
    reminders.send_reminders(moved.starts_at - timedelta(hours=47))  # the old window: nothing new
    assert len(reminded("reminder_day")) == 2
    reminders.send_reminders(moved.starts_at - timedelta(hours=22))
    reminders.send_reminders(moved.starts_at - timedelta(hours=21))

    assert reminded("reminder_day") == ["kari@kommune.no", "nils@kommune.no"] * 2
    db.session.expire_all()
    fors = db.session.scalars(
        select(Registration.reminded_day_for).where(Registration.status == Registration.CONFIRMED)
    ).all()
    assert fors == [moved.starts_at, moved.starts_at]


def test_no_reminder_for_who_registered_after_the_window_opened(event, create_registration):
    start = event.starts_at
    late = create_registration(event, "sen@kommune.no", name="Sen", municipality="3024")
    # Registered 10 hours before the start: the confirmation had the link a moment ago.
    with write_transaction():
        db.session.execute(
            update(Registration)
            .where(Registration.id == late.id)
            .values(created_at=start - timedelta(hours=10), status=Registration.CONFIRMED)
        )

    reminders.send_reminders(start - timedelta(hours=5))
    reminders.send_reminders(start - timedelta(minutes=30))

    assert "sen@kommune.no" not in reminded("reminder_day")
    assert "sen@kommune.no" in reminded("reminder_hour")


@pytest.mark.parametrize("status", [Event.CANCELLED, Event.DRAFT])
def test_no_reminders_for_cancelled_or_unpublished_events(event, status):
    with write_transaction():
        db.session.execute(update(Event).where(Event.id == event.id).values(status=status))

    reminders.send_reminders(event.starts_at - timedelta(hours=23))
    reminders.send_reminders(event.starts_at - timedelta(minutes=30))

    assert reminded() == []


def test_cancelled_get_no_reminder_and_who_got_their_seat_does(event):
    kari = db.session.scalar(select(Registration).where(Registration.email == "kari@kommune.no"))
    registrations.cancel(kari)  # Ola moves up from the waiting list

    reminders.send_reminders(event.starts_at - timedelta(hours=23))

    assert reminded() == ["nils@kommune.no", "ola@kommune.no"]


def test_two_workers_at_once_remind_each_registrant_once(ctx, create_event, create_registration):
    event = create_event()
    for n in range(30):
        create_registration(event, f"p{n}@kommune.no", name=f"Person {n}")
    when, event_id = event.starts_at - timedelta(hours=23), event.id
    db.session.remove()
    barrier = threading.Barrier(3)
    errors = []

    def worker():
        with ctx.app_context():
            try:
                barrier.wait()
                reminders.send_reminders(when)
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    sent = reminded("reminder_day")
    assert len(sent) == 30 and len(set(sent)) == 30
    assert db.session.get(Event, event_id).starts_at == when + timedelta(hours=23)


def test_nothing_is_due_long_before_or_after(event):
    assert reminders.due_reminder(event, event.starts_at - timedelta(days=2)) is None
    assert reminders.due_reminder(event, event.starts_at) is None
    assert reminders.due_reminder(event, utcnow()) is None


def test_an_edit_holding_the_event_and_the_job_do_not_deadlock(
    ctx, create_event, create_registration
):
    """An organiser's edit locks the event, then touches every registration; the job waits."""
    event = create_event()
    for n in range(10):
        create_registration(event, f"p{n}@kommune.no", name=f"Person {n}")
    event_id, when = event.id, event.starts_at - timedelta(hours=23)
    db.session.remove()
    locked, errors = threading.Event(), []

    def edit():
        with ctx.app_context():
            try:
                with write_transaction():
                    lock_event(db.session.get(Event, event_id))
                    locked.set()
                    time.sleep(0.3)  # the job starts meanwhile
                    db.session.execute(
                        update(Registration)
                        .where(Registration.event_id == event_id)
                        .values(ical_sequence=Registration.ical_sequence + 1)
                    )
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def job():
        with ctx.app_context():
            try:
                locked.wait(5)
                reminders.send_reminders(when)
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=edit), threading.Thread(target=job)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    assert len(reminded("reminder_day")) == 10
