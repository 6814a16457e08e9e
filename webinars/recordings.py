"""Recordings and material after an event, and the one "the recording is available" mail.

Each registrant who did not cancel (confirmed, and waitlisted too: they wanted to come and
the recording is exactly what they missed) gets the mail once. "Once" is kept by the
database, not by the caller: `recording_mailed_at` is claimed with a conditional
UPDATE ... WHERE recording_mailed_at IS NULL in the same transaction that queues the mail,
so two organisers saving at the same moment, or the job running beside them, cannot send
it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from . import mail
from .extensions import db
from .models import Event, Material, Registration, utcnow

#: Registrants who hear about the recording: everyone who did not cancel.
RECIPIENT_STATUSES = ("confirmed", "waitlisted")


@dataclass
class MaterialLink:
    """A material link as the organiser entered it."""

    title: str
    url: str


@dataclass
class RecordingSaved:
    """What saving did: how many mails were queued, and why none were when none were."""

    mailed: int = 0
    #: The event has not ended (or is not published): the job mails once it has.
    waiting_for_end: bool = False
    #: "Notify again" was asked for, but someone else did it since the page was loaded.
    already_notified: bool = False


def lock_event(event: Event) -> Event:
    """Lock the event row and reload it, so work on one event's registrants runs in turn.

    Everything that changes an event's registrants in bulk takes this lock first (event,
    then registrations), so they cannot deadlock each other. FOR NO KEY UPDATE, not FOR
    UPDATE: new registrations and outbox rows take a key-share lock on the event for their
    foreign key, and must not wait for us. SQLite leaves the clause out; there the write
    transaction (BEGIN IMMEDIATE) already serialises writers.
    """
    return db.session.scalars(
        select(Event)
        .where(Event.id == event.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()


def mailable(event: Event, now: datetime) -> bool:
    """Whether the recording mail may go out for this event now."""
    return bool(event.recording_url) and event.status == "published" and event.is_past(now)


def save_recording(
    event: Event,
    *,
    recording_url: str,
    materials: list[MaterialLink],
    notify_again: bool = False,
    seen_round: datetime | None = None,
    now: datetime | None = None,
) -> RecordingSaved:
    """Save the recording link and the material, and mail registrants who were not told yet.

    Call inside a write transaction (a POST request, or `writing()`); commits. With
    `notify_again`, everyone is mailed once more, unless the round the organiser saw
    (`seen_round`, the event's `recording_published_at` when the page was shown) is no
    longer the latest: then a double submit or a colleague already did it.
    """
    now = now or utcnow()
    event = lock_event(event)
    result = RecordingSaved()
    recording_url = recording_url.strip()
    event.recording_url = recording_url
    event.materials = [
        Material(title=" ".join(m.title.split()), url=m.url.strip(), position=i)
        for i, m in enumerate(materials)
    ]
    if recording_url and event.recording_published_at is None:
        event.recording_published_at = now
    elif recording_url and notify_again:
        if event.recording_published_at != seen_round:
            result.already_notified = True
        else:
            event.recording_published_at = now
            _forget_mailed(event)
    if mailable(event, now):
        result.mailed = mail_recording(event, now, again=notify_again)
    elif recording_url:
        result.waiting_for_end = True
    db.session.commit()
    if result.mailed:
        mail.wake()
    return result


def _forget_mailed(event: Event) -> None:
    """Mark every active registrant as not yet told, so the next claim mails them again."""
    db.session.execute(
        update(Registration)
        .where(
            Registration.event_id == event.id,
            Registration.status.in_(RECIPIENT_STATUSES),
            Registration.recording_mailed_at.is_not(None),
        )
        .values(recording_mailed_at=None)
    )


def mail_recording(event: Event, now: datetime, *, again: bool = False) -> int:
    """Claim the registrants not yet told and queue their mail (no commit); returns how many.

    The conditional UPDATE is the claim: on PostgreSQL a second transaction waits for the
    first one's row locks and then finds recording_mailed_at set, so it claims nothing.
    """
    claimed = db.session.scalars(
        update(Registration)
        .where(
            Registration.event_id == event.id,
            Registration.status.in_(RECIPIENT_STATUSES),
            Registration.anonymised_at.is_(None),
            Registration.recording_mailed_at.is_(None),
        )
        .values(recording_mailed_at=now)
        .returning(Registration.id)
    ).all()
    for start in range(0, len(claimed), 500):
        chunk = claimed[start : start + 500]
        registrations = db.session.scalars(
            select(Registration).where(Registration.id.in_(chunk)).order_by(Registration.id)
        )
        for registration in registrations:
            queue_recording_mail(registration, again=again)
    return len(claimed)


def queue_recording_mail(registration: Registration, *, again: bool = False):
    """Queue one "the recording is available" mail: recording, material, page; no join link."""
    return mail.queue(
        "recording",
        "recording",
        recipient=registration.email,
        recipient_name=registration.name,
        event=registration.event,
        registration=registration,
        locale=registration.locale,
        again=again,
    )


def mail_due_recordings(now: datetime) -> int:
    """The post-event job: mail registrants of ended events with a recording who were not told.

    Covers a recording saved before the event ended and registrants an organiser added
    afterwards. Commits after each event; returns how many mails were queued.
    """
    event_ids = db.session.scalars(
        select(Event.id)
        .where(
            Event.status == "published",
            Event.recording_url != "",
            Event.ends_at <= now,
            select(Registration.id)
            .where(
                Registration.event_id == Event.id,
                Registration.status.in_(RECIPIENT_STATUSES),
                Registration.anonymised_at.is_(None),
                Registration.recording_mailed_at.is_(None),
            )
            .exists(),
        )
        .order_by(Event.id)
    ).all()
    queued = 0
    for event_id in event_ids:
        event = lock_event(db.session.get(Event, event_id))
        if mailable(event, now):  # checked again under the lock: it may have changed
            queued += mail_recording(event, now)
        db.session.commit()
    if queued:
        mail.wake()
    return queued
