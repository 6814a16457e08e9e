"""State changes for registrations: register, cancel, promote from the waiting list.

Services never touch the request; they raise RegistrationError subclasses that views turn
into messages. Each commits the change together with the mail it causes (the outbox).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from . import ical, mail
from .extensions import can_end_read, db, writing
from .models import Event, Municipality, Registration, hash_token, utcnow


class RegistrationError(Exception):
    """A registration that cannot be made or changed; `message` is for the user."""

    status = 400

    def __init__(self, message=None):
        super().__init__(str(message or self.message))
        self.message = message or self.message


class EventNotFound(RegistrationError):
    status = 404
    message = _l("Fant ikke arrangementet.")


class EventCancelled(RegistrationError):
    status = 410
    message = _l("Arrangementet er avlyst, og det er ikke lenger mulig å melde seg på.")


class NotOpenYet(RegistrationError):
    status = 403
    message = _l("Påmeldingen har ikke åpnet ennå.")


class DeadlinePassed(RegistrationError):
    status = 403
    message = _l("Påmeldingsfristen har gått ut.")


class EventFull(RegistrationError):
    status = 409
    message = _l("Arrangementet er fullt, og det er ingen venteliste.")


class NotEligible(RegistrationError):
    status = 422
    message = _l("Dette arrangementet er ikke for kommuner i denne regionen.")


def new_token() -> str:
    """A manage token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def manage_url(token: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/r/{token}"


def find_by_token(token: str) -> Registration | None:
    """The registration a manage link points to, or None for unknown or tampered tokens."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Registration).where(Registration.token_hash == hash_token(token)))


def check_open(event: Event, now: datetime | None = None, *, window: bool = True) -> None:
    """Raise unless the event takes registrations right now (checked again on every POST).

    With window=False only the event's status counts: organisers may add someone before
    registration opens or after the deadline.
    """
    now = now or utcnow()
    if event.status == "cancelled":
        raise EventCancelled()
    if event.status != "published":
        raise EventNotFound()
    if not window:
        return
    if event.registration_opens_at and now < event.registration_opens_at:
        raise NotOpenYet()
    if now > event.deadline:
        raise DeadlinePassed()


def _take_seat(event: Event) -> bool:
    """Atomically take a seat if there is one; holds under concurrent registrations."""
    result = db.session.execute(
        update(Event)
        .where(Event.id == event.id)
        .where(or_(Event.capacity.is_(None), Event.seats_taken < Event.capacity))
        .values(seats_taken=Event.seats_taken + 1)
    )
    # All of it, not only the seat count: on PostgreSQL this UPDATE may have waited for an
    # organiser's edit of the event, and the invite built next must show the edited event.
    db.session.expire(event)
    return result.rowcount == 1


def _release_seat(event: Event) -> None:
    db.session.execute(
        update(Event).where(Event.id == event.id).values(seats_taken=Event.seats_taken - 1)
    )
    db.session.expire(event, ["seats_taken"])


def next_sequence(registration: Registration) -> int:
    """The SEQUENCE for this registrant's next invite or cancel: never below what they had."""
    registration.ical_sequence = max(registration.event.sequence, registration.ical_sequence + 1)
    return registration.ical_sequence


def queue_invite(registration: Registration, token: str | None, template: str, **context):
    """Queue a mail with the personal REQUEST invite (or none for the waiting list)."""
    row = prepare_invite(registration, token, template, **context)
    db.session.add(row)
    return row


def prepare_invite(registration: Registration, token: str | None, template: str, **context):
    """Build that mail as an outbox row, not yet added to the session."""
    calendar = None
    if registration.status == "confirmed":
        sequence = next_sequence(registration)
        calendar = mail.Calendar(ical.invite(registration, sequence), "REQUEST")
    return mail.prepare(
        template,
        template,
        recipient=registration.email,
        recipient_name=registration.name,
        event=registration.event,
        registration=registration,
        calendar=calendar,
        locale=registration.locale,
        manage_url=manage_url(token) if token else None,
        **context,
    )


def register(
    event: Event,
    *,
    name: str,
    email: str,
    role: str,
    municipality: str,
    organisation: str = "",
    locale: str = "nb",
    now: datetime | None = None,
    by_organiser: bool = False,
) -> tuple[Registration, bool]:
    """Register someone, or mail an existing registrant their link again.

    Returns the registration and whether it is new. The registration and its confirmation
    are committed together. An organiser (by_organiser=True) may register someone outside
    the registration window; capacity, waiting list, eligibility and duplicates still apply.
    """
    _check(event, municipality, now, by_organiser)
    email = email.strip().lower()
    token = new_token()
    registration = Registration(
        event_id=event.id,
        name=" ".join(name.split()),
        email=email,
        role=role,
        municipality_number=municipality,
        organisation=" ".join(organisation.split()),
        token_hash=hash_token(token),
        locale=locale,
    )
    # Linked one way only: the event's collection must not hold it before it is added.
    set_committed_value(registration, "event", event)
    if can_end_read():
        # So far this transaction only read (SQLite, the public form). Rendering the mail
        # and its invite is most of a registration's work, and SQLite lets one writer at a
        # time hold the lock: build it now, end the read, and take the lock for the writes.
        draft = _draft(registration, token)
        db.session.commit()
        with writing():
            return _insert(registration, token, draft, now, by_organiser)
    return _insert(registration, token, None, now, by_organiser)


def _check(event: Event, municipality: str, now: datetime | None, by_organiser: bool) -> None:
    check_open(event, now, window=not by_organiser)
    kommune = db.session.get(Municipality, municipality)
    if kommune is None or not event.eligible(kommune):
        raise NotEligible()


def _prior_sequence(event: Event, email: str) -> int | None:
    """The highest SEQUENCE an earlier (cancelled) registration of this address got."""
    return db.session.scalar(
        select(func.max(Registration.ical_sequence)).where(
            Registration.event_id == event.id, Registration.email == email
        )
    )


def _event_state(event: Event) -> tuple:
    """The event as its mails show it: every column except the seat count it changes."""
    return tuple(
        getattr(event, column.key)
        for column in Event.__mapper__.column_attrs
        if column.key not in ("seats_taken", "updated_at")
    )


class _Draft:
    """A confirmation built before the write lock, and the facts it was built on."""

    def __init__(self, message, basis: tuple):
        self.message = message
        self.basis = basis


def _draft(registration: Registration, token: str) -> _Draft | None:
    """Build the confirmation from what the database says now (None for a repeat)."""
    event = registration.event
    if _active(event, registration.email) is not None:
        return None
    prior = _prior_sequence(event, registration.email)
    if event.capacity is None or event.seats_taken < event.capacity:
        registration.status = "confirmed"
    elif event.waitlist:
        registration.status = "waitlisted"
    else:
        return None
    basis = (registration.status, prior, _event_state(event))
    registration.ical_sequence = -1 if prior is None else prior
    return _Draft(prepare_invite(registration, token, "confirmation"), basis)


def _insert(
    registration: Registration,
    token: str,
    draft: _Draft | None,
    now: datetime | None,
    by_organiser: bool,
) -> tuple[Registration, bool]:
    """Check, take a seat and insert the registration with its confirmation; commit."""
    event = registration.event
    email = registration.email
    _check(event, registration.municipality_number, now, by_organiser)
    existing = _active(event, email)
    if existing is not None:
        return _send_again(existing), False
    prior = _prior_sequence(event, email)
    if _take_seat(event):
        status = "confirmed"
    elif event.waitlist:
        status = "waitlisted"
    else:
        raise EventFull()
    # The draft holds when nothing it was built on changed since; otherwise build again.
    if draft is None or draft.basis != (status, prior, _event_state(event)):
        draft = None
        registration.status = status
        registration.ical_sequence = -1 if prior is None else prior
    db.session.add(registration)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request registered the same address a moment ago (the unique index
        # caught it): answer as for any repeated registration.
        db.session.rollback()
        existing = _active(event, email)
        if existing is None:
            raise
        return _send_again(existing), False
    if draft is None:
        queue_invite(registration, token, "confirmation")
    else:
        draft.message.registration_id = registration.id
        db.session.add(draft.message)
    db.session.commit()
    mail.wake()
    return registration, True


def _active(event: Event, email: str) -> Registration | None:
    """The active registration for this address, locked until commit (PostgreSQL).

    Repeats for one address change its token_hash, a unique (key) column; without the lock
    two of them each hold a key-share lock from their outbox row's foreign key and then
    wait for each other (a deadlock). With it they queue, and each sees the latest row.
    """
    return db.session.scalar(
        select(Registration)
        .where(
            Registration.event_id == event.id,
            Registration.email == email,
            Registration.status != "cancelled",
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _send_again(registration: Registration) -> Registration:
    """Mail the confirmation again with a fresh manage link (we keep only its hash)."""
    token = new_token()
    registration.token_hash = hash_token(token)
    queue_invite(registration, token, "confirmation", again=True)
    db.session.commit()
    mail.wake()
    return registration


def cancel(registration: Registration, *, by_organiser: bool = False) -> None:
    """Cancel a registration: CANCEL to the calendar, seat to the first on the waiting list."""
    if registration.status == "cancelled":
        return
    event = registration.event
    was_confirmed = registration.status == "confirmed"
    registration.status = "cancelled"
    registration.cancelled_at = utcnow()
    calendar = None
    if was_confirmed:
        sequence = next_sequence(registration)
        calendar = mail.Calendar(ical.invite(registration, sequence, cancel=True), "CANCEL")
        _release_seat(event)
    mail.queue(
        "cancellation",
        "cancellation",
        recipient=registration.email,
        recipient_name=registration.name,
        event=event,
        registration=registration,
        calendar=calendar,
        locale=registration.locale,
        by_organiser=by_organiser,
    )
    if was_confirmed:
        promote_waitlisted(event)
    db.session.commit()
    mail.wake()


def promote_waitlisted(event: Event) -> list[Registration]:
    """Give free seats to the waiting list, first come first served, and tell them (no commit)."""
    promoted = []
    while True:
        first = db.session.scalar(
            select(Registration)
            .where(Registration.event_id == event.id, Registration.status == "waitlisted")
            .order_by(Registration.created_at, Registration.id)
            .limit(1)
        )
        if first is None or not _take_seat(event):
            return promoted
        first.status = "confirmed"
        # A new manage link: the old one is only stored as a hash, and the mail needs one.
        token = new_token()
        first.token_hash = hash_token(token)
        queue_invite(first, token, "promoted")
        promoted.append(first)
