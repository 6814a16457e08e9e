"""The outgoing mail as organisers see it: listing, counts by state, and retrying failures."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, Update, func, select, update

from . import mail
from .extensions import db
from .models import Event, OutboxMessage, utcnow

PAGE_SIZE = 100
S = TypeVar("S", Select, Update)

#: The delivery states, in the order a message goes through them.
STATUS_LABELS = {
    "queued": _l("I kø"),
    "sending": _l("Sendes nå"),
    "retrying": _l("Prøver igjen"),
    "sent": _l("Sendt"),
    "failed": _l("Feilet"),
}

#: What each kind of message is; kinds not listed here are shown as they are stored.
KIND_LABELS = {
    "confirmation": _l("Bekreftelse"),
    "cancellation": _l("Avbestilling"),
    "promoted": _l("Plass fra ventelisten"),
    "update": _l("Endring"),
    "event_cancelled": _l("Arrangementet er avlyst"),
    "reminder_day": _l("Påminnelse dagen før"),
    "reminder_hour": _l("Påminnelse en time før"),
    "recording": _l("Opptak tilgjengelig"),
}


def _scoped(statement: S, event: Event | None) -> S:
    """Limit a SELECT or UPDATE to one event's messages, or leave it for all."""
    return statement if event is None else statement.where(OutboxMessage.event_id == event.id)


def messages(event: Event | None, status: str | None, page: int) -> tuple[list[OutboxMessage], int]:
    """One page of messages, newest first, and how many match in all."""
    query = _scoped(select(OutboxMessage), event)
    if status:
        query = query.where(OutboxMessage.status == status)
    total = db.session.scalar(query.with_only_columns(func.count(OutboxMessage.id)).order_by(None))
    rows = db.session.scalars(
        query.order_by(OutboxMessage.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return list(rows), total or 0


def counts(event: Event | None) -> dict[str, int]:
    """How many messages are in each state (every state present, zero when none)."""
    query = _scoped(
        select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status),
        event,
    )
    found = {status: count for status, count in db.session.execute(query)}
    return {status: found.get(status, 0) for status in STATUS_LABELS}


def _retryable():
    # Messages are rendered at delivery, so a failed one can always go again.
    return (OutboxMessage.status == "failed",)


def retry(message_id: int, event: Event | None = None, now: datetime | None = None) -> bool:
    """Put one failed message back in the queue, due now; commits. False if it was not failed.

    The last error stays until a delivery succeeds, so the page still says what went wrong.
    The attempt count stays too: if the server refuses again for good, it fails again.
    """
    return (
        _requeue(_scoped(update(OutboxMessage), event).where(OutboxMessage.id == message_id), now)
        == 1
    )


def retry_failed(event: Event | None = None, now: datetime | None = None) -> int:
    """Put every failed message (of one event, or all) back in the queue; commits."""
    return _requeue(_scoped(update(OutboxMessage), event), now)


def _requeue(statement, now: datetime | None) -> int:
    # Conditional on the state, so a double click or two organisers requeue a message once.
    result = db.session.execute(
        statement.where(*_retryable())
        .values(
            status="queued",
            next_attempt_at=now or utcnow(),
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount:
        mail.wake()
    return result.rowcount
