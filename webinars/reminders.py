"""Periodic mail about an event: reminders before it starts, the recording after it ends.

Reminders go to confirmed registrants a day and an hour before the start, with the join
link. Each registration remembers the start instant each reminder was for
(`reminded_day_for`, `reminded_hour_for`), so a reminder goes out once per start, and again
when the event moves. The claim is a conditional UPDATE in the transaction that queues the
mail, so two workers running the job at once send each reminder once.

The reminder cannot carry the registrant's manage link: we store only a hash of its token,
and minting a new one would silently break the link in the confirmation. It links to the
event page instead and says the personal link is in the confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from .db import lock_event, write_transaction
from .extensions import db
from .mail import messages
from .models import Event, Registration


@dataclass(frozen=True)
class Reminder:
    """One kind of reminder: how long before the start, and the column that records it."""

    before: timedelta
    column: str


DAY = Reminder(timedelta(hours=24), "reminded_day_for")
HOUR = Reminder(timedelta(hours=1), "reminded_hour_for")
#: Latest window first: a reminder whose window has been overtaken by a later one is skipped.
REMINDERS = (HOUR, DAY)


def due_reminder(event: Event, now: datetime) -> Reminder | None:
    """The reminder whose window `now` is in: the hour one in the last hour, else the day one.

    If the job could not run during the whole day window (say the mail worker was down),
    the registrant gets only the hour reminder, not two mails minutes apart.
    """
    if now >= event.starts_at:
        return None
    for reminder in REMINDERS:
        if now >= event.starts_at - reminder.before:
            return reminder
    return None


def send_reminders(now: datetime) -> int:
    """Queue the reminders that are due now, one transaction per event; returns how many."""
    event_ids = db.session.scalars(
        select(Event.id)
        .where(
            Event.status == Event.PUBLISHED,
            Event.starts_at > now,
            Event.starts_at <= now + DAY.before,
        )
        .order_by(Event.starts_at, Event.id)
    ).all()
    queued = 0
    for event_id in event_ids:
        with write_transaction():
            # Under the lock an organiser's edit is either done (we see the new start) or waits.
            event = lock_event(db.session.get(Event, event_id))
            reminder = due_reminder(event, now) if event.status == Event.PUBLISHED else None
            if reminder is not None:
                queued += _remind(event, reminder)
    return queued


def _remind(event: Event, reminder: Reminder) -> int:
    """Claim the registrants not yet reminded for this start and queue their mail."""
    column = getattr(Registration, reminder.column)
    window_opened = event.starts_at - reminder.before
    claimed = db.session.scalars(
        update(Registration)
        .where(
            Registration.event_id == event.id,
            Registration.status == Registration.CONFIRMED,
            Registration.anonymised_at.is_(None),
            # Whoever registered inside the window just got the join link in the confirmation.
            Registration.created_at < window_opened,
            or_(column.is_(None), column != event.starts_at),
        )
        .values({reminder.column: event.starts_at})
        .returning(Registration.id)
    ).all()
    for start in range(0, len(claimed), 500):
        registrations = db.session.scalars(
            select(Registration)
            .where(Registration.id.in_(claimed[start : start + 500]))
            .order_by(Registration.id)
        )
        for registration in registrations:
            messages.queue_reminder(registration, hour=reminder is HOUR)
    return len(claimed)
