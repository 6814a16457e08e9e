"""Recordings after an event: the "recording is available" mail goes to each registrant once."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from webinars import recordings
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import outbox
from webinars.models import Event, OutboxMessage, Registration, utcnow

VIDEO = "https://video.example.org/akson-1"


def recording_mails() -> list[OutboxMessage]:
    db.session.rollback()  # a fresh look: what other sessions committed
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == outbox.RECORDING.name)
        .order_by(OutboxMessage.id)
    ).all()


# --- concurrency ------------------------------------------------------------------------------


def _at_once(app, *work):
    """Run each callable in its own thread and app context, together."""
    barrier = threading.Barrier(len(work))
    errors = []

    def run(job):
        with app.app_context():
            try:
                barrier.wait()
                job()
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def test_saves_and_jobs_at_once_mail_each_registrant_once(ctx, past_event, create_registration):
    for n in range(20):
        create_registration(
            past_event,
            f"p{n}@kommune.no",
            now=past_event.starts_at - timedelta(days=2),
            name=f"Person {n}",
        )
    # The link is there but nobody was told yet: saves and jobs all race to tell them.
    with write_transaction():
        db.session.execute(
            update(Event).where(Event.id == past_event.id).values(recording_url=VIDEO)
        )
    event_id = past_event.id
    db.session.remove()

    def save():
        recordings.save_recording(
            db.session.get(Event, event_id), recording_url=VIDEO, materials=[]
        )

    def job():
        recordings.mail_due_recordings(utcnow())

    _at_once(ctx, save, job, save, job)

    mails = recording_mails()
    active = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.event_id == event_id, Registration.status != Registration.CANCELLED
        )
    )
    assert active == 22
    assert len(mails) == active
    assert len({m.recipient for m in mails}) == active


# --- the material is part of the event's pages -------------------------------------------------


def test_new_material_moves_the_events_updated_at_the_same_material_does_not(ctx, create_event):
    event = db.session.get(Event, create_event().id)
    with write_transaction():
        event.updated_at = before = utcnow() - timedelta(hours=1)
    slides = [recordings.MaterialLink(" Lysark  fra møtet ", "https://ks.test/l.pdf ")]

    recordings.save_recording(event, recording_url="", materials=slides)
    assert [(m.title, m.url) for m in event.materials] == [
        ("Lysark fra møtet", "https://ks.test/l.pdf")
    ]
    moved = event.updated_at
    assert moved > before

    recordings.save_recording(event, recording_url="", materials=slides)  # the same again
    assert db.session.get(Event, event.id).updated_at == moved
