"""The outbox: messages stored with the change that causes them, and their delivery states.

A message is queued in the caller's write transaction: its kind, template, recipient, the
registration and event it is about, a JSON context and, for invites, the calendar METHOD and
SEQUENCE reserved for the registrant. The deliverer (mail/worker.py) claims due messages
(FOR UPDATE SKIP LOCKED on PostgreSQL) for a lease it renews before each send, so any
number of deliverers can run without sending one twice, and settles each one as sent,
logged (no MAIL_SERVER), retrying or failed. When a transaction that queued mail commits,
this process's deliverer is woken.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Select,
    Update,
    and_,
    bindparam,
    case,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, joinedload

from ..db import execute, write_transaction
from ..extensions import db
from ..models import Event, OutboxMessage, Registration, utcnow

# --- states ---------------------------------------------------------------------------------

QUEUED = "queued"
SENDING = "sending"
RETRYING = "retrying"
SENT = "sent"
#: Written to the log because no MAIL_SERVER is set: nobody received it.
LOGGED = "logged"
FAILED = "failed"

#: The delivery states, in the order a message goes through them.
STATUS_LABELS = {
    QUEUED: _l("I kø"),
    SENDING: _l("Sendes nå"),
    RETRYING: _l("Prøver igjen"),
    SENT: _l("Sendt"),
    LOGGED: _l("Bare logget (ikke sendt)"),
    FAILED: _l("Feilet"),
}
#: States a message leaves only when an organiser retries it (or never).
DONE = (SENT, LOGGED, FAILED)

#: How long a deliverer holds its claim. It renews the claim before each message, so this
#: only has to outlast one message (a connect and a few commands, each bounded by
#: MAIL_TIMEOUT); a crashed deliverer's messages are due again after it.
CLAIM_LEASE = timedelta(minutes=10)
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=2)
PAGE_SIZE = 100


# --- kinds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A kind of message: its stored name, its template triplet and what organisers call it.

    `link`: it carries the registrant's personal manage link. A message queued without a
    token (the mails sent to every registrant of an event at once) gets a fresh one when it
    is delivered, as does one retried after failing (a failed message's token is cleared);
    each is one more link, the links mailed before keep working.
    """

    name: str
    template: str
    label: object  # a lazy string: translated where it is shown
    link: bool = False


#: Every kind that can be queued, by name.
KINDS: dict[str, Kind] = {}


def _kind(name: str, label, template: str | None = None, *, link: bool = False) -> Kind:
    kind = Kind(name, template or name, label, link)
    KINDS[name] = kind
    return kind


CONFIRMATION = _kind("confirmation", _l("Bekreftelse"), link=True)
PROMOTED = _kind("promoted", _l("Plass fra ventelisten"), link=True)
CANCELLATION = _kind("cancellation", _l("Avbestilling"), link=True)
EVENT_UPDATED = _kind("event_updated", _l("Endring"), link=True)
EVENT_CANCELLED = _kind("event_cancelled", _l("Arrangementet er avlyst"), link=True)
REMINDER_DAY = _kind("reminder_day", _l("Påminnelse dagen før"), "reminder", link=True)
REMINDER_HOUR = _kind("reminder_hour", _l("Påminnelse en time før"), "reminder", link=True)
RECORDING = _kind("recording", _l("Opptak tilgjengelig"), link=True)
#: Asked for on the event page ("send me my link again").
MANAGE_LINK = _kind("manage_link", _l("Lenken på nytt"), link=True)
INVITATION = _kind("invitation", _l("Invitasjon"))
INVITATION_REMINDER = _kind("invitation_reminder", _l("Påminnelse om invitasjon"), "invitation")
SUBMISSION_LINK = _kind("submission_link", _l("Lenke for å sende inn erklæringen"))


def label(name: str):
    """What organisers call a stored kind (the name itself for one no longer registered)."""
    kind = KINDS.get(name)
    return kind.label if kind else name


# --- queueing -------------------------------------------------------------------------------


def queue(
    kind: Kind,
    *,
    subject: str,
    recipient: str,
    recipient_name: str,
    message_id: str,
    event: Event | None = None,
    registration: Registration | None = None,
    invite: str | None = None,
    sequence: int | None = None,
    token: str | None = None,
    locale: str = "nb",
    context: dict | None = None,
) -> None:
    """Add a message in the caller's write transaction; it is rendered when delivered.

    `invite` (REQUEST or CANCEL) attaches the registrant's calendar invite with `sequence`;
    `token` makes the personal manage link; `context` must be JSON-able (datetimes and
    dataclasses are fine). The registration must be written already (it has its id): the
    message is one plain INSERT, no object of the session.
    """
    if KINDS.get(getattr(kind, "name", None)) is not kind:
        raise ValueError(f"{kind!r} is not a registered kind of message")
    if registration is not None and registration.id is None:
        raise ValueError("a registration's message is queued once the registration is written")
    execute(
        _QUEUE,
        {
            "kind": kind.name,
            "template": kind.template,
            "recipient": recipient,
            "recipient_name": recipient_name,
            "subject": subject,
            "message_id": message_id,
            "event_id": event.id if event is not None else None,
            "registration_id": registration.id if registration is not None else None,
            "invite_method": invite,
            "invite_sequence": sequence,
            "token": token,
            "locale": locale,
            "context": json.dumps(context or {}, default=_encode),
        },
    )
    db.session.info["outbox_queued"] = True


#: Built once: every registration queues its confirmation with it. The parameters name the
#: columns; the table's own defaults (queued, no attempts, due now) fill in the rest.
_QUEUE = insert(OutboxMessage.__table__)


def queue_selected(
    kind: Kind,
    registration_ids: Select,
    *,
    subjects: dict[str, str],
    message_id: str,
    event: Event,
    context: dict | None = None,
    now: datetime | None = None,
) -> None:
    """Queue a message to the registration `registration_ids` selects, if it selects one, in
    one INSERT … SELECT: the same statement whether it selects none or one.

    For mail whose asking must not tell whether it was sent. `subjects` holds the subject in
    each language (the registrant's is picked in SQL); the manage link is made at delivery.
    """
    if KINDS.get(getattr(kind, "name", None)) is not kind or not kind.link:
        raise ValueError(f"{kind!r} is not a registered kind of message with a link")
    table = OutboxMessage.__table__
    when = bindparam("queued_at", now or utcnow(), type_=table.c.created_at.type)
    default = next(iter(subjects.values()))
    subject = case(
        *[(Registration.locale == locale, literal(text)) for locale, text in subjects.items()],
        else_=literal(default),
    )
    values = {
        "kind": literal(kind.name),
        "template": literal(kind.template),
        "recipient": Registration.email,
        "recipient_name": Registration.name,
        "subject": subject,
        "message_id": literal(message_id),
        "event_id": literal(event.id),
        "registration_id": Registration.id,
        "locale": Registration.locale,
        "context": literal(json.dumps(context or {}, default=_encode)),
        "status": literal(QUEUED),
        "attempts": literal(0),
        "next_attempt_at": when,
        "created_at": when,
    }
    rows = select(*values.values()).where(Registration.id.in_(registration_ids.scalar_subquery()))
    db.session.execute(insert(OutboxMessage).from_select(list(values), rows))
    db.session.info["outbox_queued"] = True


def context_of(row: OutboxMessage) -> dict:
    """The JSON context a row was queued with, datetimes and objects restored."""
    return json.loads(row.context or "{}", object_hook=_decode)


def _encode(value):
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if dataclasses.is_dataclass(value):
        return {"$object": {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}}
    raise TypeError(f"{type(value).__name__} cannot be stored in a mail's context")


def _decode(obj: dict):
    if "$datetime" in obj:
        return datetime.fromisoformat(obj["$datetime"])
    if "$object" in obj:
        return SimpleNamespace(**obj["$object"])
    return obj


# --- waking this process's deliverer --------------------------------------------------------

_queued = threading.Event()


@event.listens_for(db.session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop("outbox_queued", False):
        _queued.set()


@event.listens_for(db.session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous) -> None:
    session.info.pop("outbox_queued", None)


def wake() -> None:
    """Ask this process's deliverer to look at the outbox now."""
    _queued.set()


def wait_for_mail(timeout: float) -> None:
    """Block until mail is queued in this process (or `timeout` seconds pass)."""
    _queued.wait(timeout)
    _queued.clear()


# --- claiming and settling ------------------------------------------------------------------


def _due(now: datetime):
    return or_(
        and_(OutboxMessage.status.in_((QUEUED, RETRYING)), OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == SENDING, OutboxMessage.claimed_until < now),
    )


def claim(limit: int, worker: str, now: datetime | None = None) -> list[int]:
    """Take up to `limit` due messages for this worker; each is claimed by one worker only.

    On PostgreSQL the due rows are locked with FOR UPDATE SKIP LOCKED, so deliverers that
    claim at the same moment take different messages instead of waiting for each other; on
    SQLite the write transaction (BEGIN IMMEDIATE) already lets one claim at a time.
    """
    now = now or utcnow()
    with write_transaction():
        ids = list(
            db.session.scalars(
                select(OutboxMessage.id)
                .where(_due(now))
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(status=SENDING, claimed_by=worker, claimed_until=now + CLAIM_LEASE)
                .execution_options(synchronize_session=False)
            )
    return ids


def held(ids: Sequence[int], worker: str) -> list[OutboxMessage]:
    """The messages of `ids` this worker still holds, in order, with what composing needs."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.claimed_by == worker,
                OutboxMessage.status == SENDING,
            )
            .order_by(OutboxMessage.id)
            .options(joinedload(OutboxMessage.registration), joinedload(OutboxMessage.event))
            .execution_options(populate_existing=True)
        )
    )


def settle_and_renew(
    worker: str,
    done: Sequence[tuple[int, dict]],
    next_id: int | None,
    now: datetime | None = None,
) -> bool:
    """Record what delivery did with messages (id, values) and renew the claim on the next
    one, in one transaction; False if the next one's claim was lost.

    A batch can outlive its first lease behind a slow relay; another deliverer may then have
    claimed the rest. Renewing right before each send, and skipping what was lost, means
    no message is sent by two deliverers.
    """
    if not done and next_id is None:
        return False
    now = now or utcnow()
    renewed = False
    with write_transaction() as session:
        # Core statements built once, on the transaction's connection: this runs twice per
        # message, and the ORM's per-statement work was a third of a delivery's time.
        connection = session.connection()
        for message_id, values in done:
            connection.execute(
                _settle_statement(frozenset(values)),
                {
                    "b_id": message_id,
                    "b_worker": worker,
                    **{f"v_{k}": v for k, v in values.items()},
                },
            )
        if next_id is not None:
            result = connection.execute(
                _RENEW, {"b_id": next_id, "b_worker": worker, "b_until": now + CLAIM_LEASE}
            )
            renewed = result.rowcount == 1
    return renewed


_TABLE = OutboxMessage.__table__
_HELD = and_(
    _TABLE.c.id == bindparam("b_id"),
    _TABLE.c.claimed_by == bindparam("b_worker"),
    _TABLE.c.status == SENDING,
)
_RENEW = _TABLE.update().where(_HELD).values(claimed_until=bindparam("b_until"))


@lru_cache(maxsize=16)
def _settle_statement(columns: frozenset[str]):
    """UPDATE … SET the given columns (and release the claim) for one held message."""
    return (
        _TABLE.update()
        .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.claimed_by == bindparam("b_worker"))
        .values(claimed_by=None, claimed_until=None, **{c: bindparam(f"v_{c}") for c in columns})
    )


def release(ids: Sequence[int], worker: str, due: datetime) -> None:
    """Give back claimed messages that were not tried, due again at `due` (no attempt counted)."""
    if not ids:
        return
    with write_transaction():
        db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.claimed_by == worker,
                OutboxMessage.status == SENDING,
            )
            .values(
                status=case((OutboxMessage.attempts == 0, QUEUED), else_=RETRYING),
                claimed_by=None,
                claimed_until=None,
                next_attempt_at=due,
            )
            .execution_options(synchronize_session=False)
        )


def backoff(attempts: int) -> timedelta:
    """How long to wait before the next try after `attempts` temporary failures."""
    return min(RETRY_BASE * (2 ** (attempts - 1)), RETRY_MAX)


def sent_values(attempts: int, now: datetime, status: str = SENT) -> dict:
    """A delivered (or logged) message: its manage link went out, so only its hash is kept."""
    return {
        "status": status,
        "attempts": attempts,
        "sent_at": now,
        "token": None,
        "last_error": None,
    }


def failed_values(attempts: int, error: str) -> dict:
    """A message that will not be sent (until an organiser retries it): no plaintext token
    stays in the database; a retry mails a new link."""
    return {"status": FAILED, "attempts": attempts, "last_error": error[:2000], "token": None}


def retry_values(attempts: int, error: str, now: datetime) -> dict:
    """A temporary failure: try again after the backoff."""
    return {
        "status": RETRYING,
        "attempts": attempts,
        "last_error": error[:2000],
        "next_attempt_at": now + backoff(attempts),
    }


def forget_recipients(registration_ids: Sequence[int]) -> None:
    """Anonymise the mail of these registrations: no address, no name, no link, none unsent."""
    rows = update(OutboxMessage).where(OutboxMessage.registration_id.in_(registration_ids))
    db.session.execute(rows.values(recipient="anonymisert@invalid", recipient_name="", token=None))
    db.session.execute(
        rows.where(OutboxMessage.status.not_in((SENT, LOGGED))).values(
            status=FAILED, last_error="anonymised before it could be sent"
        )
    )


# --- what organisers see and do -------------------------------------------------------------

S = TypeVar("S", Select, Update)


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
    """How many messages are in each state (every state present, zero when none; *logged*
    only when there are some)."""
    query = _scoped(
        select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status),
        event,
    )
    found = {status: count for status, count in db.session.execute(query)}
    # "Logged" exists only where no MAIL_SERVER is set: shown when there are such messages.
    return {
        status: found.get(status, 0)
        for status in STATUS_LABELS
        if status != LOGGED or found.get(status)
    }


def retry(message_id: int, event: Event | None = None, now: datetime | None = None) -> bool:
    """Put one failed message back in the queue, due now. False if it was not failed.

    The last error stays until a delivery succeeds, so the page still says what went wrong.
    The attempt count stays too: if the server refuses again for good, it fails again.
    """
    statement = _scoped(update(OutboxMessage), event).where(OutboxMessage.id == message_id)
    return _requeue(statement, now) == 1


def retry_failed(event: Event | None = None, now: datetime | None = None) -> int:
    """Put every failed message (of one event, or all) back in the queue."""
    return _requeue(_scoped(update(OutboxMessage), event), now)


def _requeue(statement, now: datetime | None) -> int:
    # Conditional on the state, so a double click or two organisers requeue a message once.
    # Messages are rendered at delivery, so a failed one can always go again.
    with write_transaction():
        result = db.session.execute(
            statement.where(OutboxMessage.status == FAILED)
            .values(
                status=QUEUED, next_attempt_at=now or utcnow(), claimed_by=None, claimed_until=None
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:
            db.session.info["outbox_queued"] = True
    return result.rowcount
