"""State changes for registrations: register, cancel, promote from the waiting list.

Services never touch the request; they raise RegistrationError subclasses that views turn
into messages. Each commits the change together with the mail it causes (the outbox).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from . import mail
from .extensions import db, end_read, writing
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


class EventOver(RegistrationError):
    status = 409
    message = _l("Arrangementet er over, så påmeldingen kan ikke avbestilles.")


class NotEligible(RegistrationError):
    status = 422
    message = _l("Dette arrangementet er ikke for kommuner i denne regionen.")


def new_token() -> str:
    """A manage token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


manage_url = mail.manage_url


def find_by_token(token: str) -> Registration | None:
    """The registration a manage link points to, or None for unknown or tampered tokens."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(Registration).where(Registration.token_hash == hash_token(token))
    )


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
    taken = db.session.execute(
        update(Event)
        .where(Event.id == event.id)
        .where(or_(Event.capacity.is_(None), Event.seats_taken < Event.capacity))
        .values(seats_taken=Event.seats_taken + 1)
        .returning(Event.seats_taken, Event.sequence)
    ).first()
    if taken is None:
        return False
    # On PostgreSQL this UPDATE may have waited for an organiser's edit: take the sequence
    # the edit left, so this registrant's invite is not below it.
    set_committed_value(event, "seats_taken", taken.seats_taken)
    set_committed_value(event, "sequence", taken.sequence)
    return True


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
    """Queue a mail with the personal REQUEST invite (none for the waiting list; no commit)."""
    confirmed = registration.status == "confirmed"
    return mail.queue(
        template,
        template,
        recipient=registration.email,
        recipient_name=registration.name,
        event=registration.event,
        registration=registration,
        invite="REQUEST" if confirmed else None,
        sequence=next_sequence(registration) if confirmed else None,
        token=token,
        locale=registration.locale,
        status=registration.status,
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
    # On SQLite the write lock is the whole database's: end the reads, take it for the writes.
    end_read()
    with writing():
        db.session.refresh(event)
        check_open(event, now, window=not by_organiser)  # again, under the lock
        earlier = _registrations(event, email)
        existing = next((r for r in earlier if r.status != "cancelled"), None)
        if existing is not None:
            return _send_again(existing), False
        prior = max((r.ical_sequence for r in earlier), default=None)
        if _take_seat(event):
            status = "confirmed"
        elif event.waitlist:
            status = "waitlisted"
        else:
            raise EventFull()
        token = new_token()
        registration = Registration(
            event=event,
            name=" ".join(name.split()),
            email=email,
            role=role,
            municipality_number=municipality,
            organisation=" ".join(organisation.split()),
            token_hash=hash_token(token),
            status=status,
            locale=locale,
            # Above any CANCEL an earlier registration of this address got.
            ical_sequence=-1 if prior is None else prior,
        )
        db.session.add(registration)
        queue_invite(registration, token, "confirmation")
        try:
            db.session.commit()
        except IntegrityError:
            # Another request registered the same address a moment ago (the unique index
            # caught it): nothing of this one is stored; answer as for any repeat.
            db.session.rollback()
            existing = _active(event, email)
            if existing is None:
                raise
            return _send_again(existing), False
    mail.wake()
    return registration, True


def _check(event: Event, municipality: str, now: datetime | None, by_organiser: bool) -> None:
    check_open(event, now, window=not by_organiser)
    kommune = db.session.get(Municipality, municipality)
    if kommune is None or not event.eligible(kommune):
        raise NotEligible()


def _registrations(event: Event, email: str) -> list[Registration]:
    """This address's registrations for the event, locked until commit (PostgreSQL).

    Repeats for one address change its token_hash, a unique (key) column; without the lock
    two of them each hold a key-share lock from their outbox row's foreign key and then
    wait for each other (a deadlock). With it they queue, and each sees the latest rows.
    """
    return db.session.scalars(
        select(Registration)
        .where(Registration.event_id == event.id, Registration.email == email)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


def _active(event: Event, email: str) -> Registration | None:
    return next((r for r in _registrations(event, email) if r.status != "cancelled"), None)


def _send_again(registration: Registration) -> Registration:
    """Mail the confirmation again with a fresh manage link (we keep only its hash)."""
    token = new_token()
    registration.token_hash = hash_token(token)
    queue_invite(registration, token, "confirmation", again=True)
    db.session.commit()
    mail.wake()
    return registration


def cancel(
    registration: Registration, *, by_organiser: bool = False, now: datetime | None = None
) -> None:
    """Cancel a registration: CANCEL to the calendar, seat to the first on the waiting list."""
    if registration.status == "cancelled":
        return
    event = registration.event
    if event.is_past(now) and not by_organiser:
        raise EventOver()
    was_confirmed = registration.status == "confirmed"
    registration.status = "cancelled"
    registration.cancelled_at = utcnow()
    if was_confirmed:
        _release_seat(event)
    mail.queue(
        "cancellation",
        "cancellation",
        recipient=registration.email,
        recipient_name=registration.name,
        event=event,
        registration=registration,
        invite="CANCEL" if was_confirmed else None,
        sequence=next_sequence(registration) if was_confirmed else None,
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
