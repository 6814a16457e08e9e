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

from sqlalchemy import func, select, update

from .attendance import report_of
from .db import lock_event, write_transaction
from .extensions import db
from .mail import messages
from .models import Event, Material, Registration, utcnow
from .registrations import ACTIVE

#: Registrants who hear about the recording: everyone who did not cancel.
RECIPIENT_STATUSES = ACTIVE


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


def mailable(event: Event, now: datetime) -> bool:
    """Whether the recording mail may go out for this event now."""
    return bool(event.recording_url) and event.status == Event.PUBLISHED and event.is_past(now)


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

    With `notify_again`, everyone is mailed once more, unless the round the organiser saw
    (`seen_round`, the event's `recording_published_at` when the page was shown) is no
    longer the latest: then a double submit or a colleague already did it.
    """
    now = now or utcnow()
    with write_transaction():
        return _save(event, recording_url, materials, notify_again, seen_round, now)


def _save(event, recording_url, materials, notify_again, seen_round, now) -> RecordingSaved:
    event = lock_event(event)
    result = RecordingSaved()
    recording_url = recording_url.strip()
    event.recording_url = recording_url
    links = [(" ".join(m.title.split()), m.url.strip()) for m in materials]
    if links != [(m.title, m.url) for m in event.materials]:
        event.materials = [
            Material(title=title, url=url, position=i) for i, (title, url) in enumerate(links)
        ]
        # The material is part of the event as its pages show it: their kept copies are
        # keyed by the event's updated_at (registration/pages.py).
        event.updated_at = now
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
    """Claim the registrants not yet told and queue their mail; returns how many.

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
    # After a participant report, those who came and those who did not get different texts.
    reported = report_of(event) is not None
    for start in range(0, len(claimed), 500):
        chunk = claimed[start : start + 500]
        registrations = db.session.scalars(
            select(Registration).where(Registration.id.in_(chunk)).order_by(Registration.id)
        )
        for registration in registrations:
            attended = (registration.attended_minutes is not None) if reported else None
            messages.queue_recording(registration, again=again, attended=attended)
    return len(claimed)


def mail_due_recordings(now: datetime) -> int:
    """The post-event job: mail registrants of ended events with a recording who were not told.

    Covers a recording saved before the event ended and registrants an organiser added
    afterwards. One transaction per event; returns how many mails were queued.
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
        with write_transaction():
            event = lock_event(db.session.get(Event, event_id))
            if mailable(event, now):  # checked again under the lock: it may have changed
                queued += mail_recording(event, now)
    return queued


def mail_counts(event: Event) -> tuple[int, int]:
    """Registrants who get the recording mail, and how many of them got it already."""
    total, mailed = db.session.execute(
        select(func.count(Registration.id), func.count(Registration.recording_mailed_at)).where(
            Registration.event_id == event.id, Registration.status.in_(RECIPIENT_STATUSES)
        )
    ).one()
    return total, mailed
