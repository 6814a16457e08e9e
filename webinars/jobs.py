"""Periodic jobs run by the delivery loop: each is safe to run as often as it likes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from .extensions import db, writing
from .models import Event, OutboxMessage, Registration, hash_token, utcnow

log = logging.getLogger(__name__)


def due_jobs() -> list:
    """Every periodic job, in the order they run: callables taking `now`."""
    from . import reminders

    return [anonymise_old_registrations, reminders.send_reminders, reminders.send_recording_mails]


def run_due(now: datetime | None = None) -> None:
    """Run every periodic job once."""
    now = now or utcnow()
    for job in due_jobs():
        with writing():
            job(now)


def anonymise_old_registrations(now: datetime) -> int:
    """Blank the personal data of registrations to events that ended long enough ago."""
    cutoff = now - timedelta(days=current_app.config["ANONYMISE_AFTER_DAYS"])
    rows = db.session.scalars(
        select(Registration)
        .join(Event)
        .where(Event.ends_at < cutoff, Registration.anonymised_at.is_(None))
        .limit(1000)
    ).all()
    for registration in rows:
        # Municipality, role and status stay: they are what the statistics need.
        registration.name = ""
        registration.email = f"anonymisert-{registration.id}@invalid"
        registration.organisation = ""
        registration.token_hash = hash_token(f"anonymised:{registration.id}:{now.isoformat()}")
        registration.anonymised_at = now
    if rows:
        # Their mail too: no address, no name, no working link, and nothing left to send.
        outbox = update(OutboxMessage).where(
            OutboxMessage.registration_id.in_([r.id for r in rows])
        )
        db.session.execute(
            outbox.values(recipient="anonymisert@invalid", recipient_name="", token=None)
        )
        db.session.execute(
            outbox.where(OutboxMessage.status != "sent").values(
                status="failed", last_error="anonymised before it could be sent"
            )
        )
    db.session.commit()
    if rows:
        log.info("anonymised %d registrations", len(rows))
    return len(rows)
