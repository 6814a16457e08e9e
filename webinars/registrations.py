"""Registrations: who may register and when, register, cancel, the waiting list, anonymising.

This module owns the rules: when an event is open for registration (`check_open`), which
municipalities may register (`eligible`, as a Python check and as an SQL condition), which
statuses are active, and how registrations are counted. Services never touch the request;
they raise RegistrationError subclasses that views turn into messages. Each write is one
unit of work with the mail it causes (the outbox).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from . import attendance, contacts, municipalities, questions
from .db import (
    dialect,
    execute,
    in_write_transaction,
    lock_event,
    locked,
    no_disk_wait,
    write_transaction,
)
from .extensions import db
from .mail import messages, outbox
from .models import (
    Event,
    Municipality,
    Programme,
    Registration,
    RegistrationCount,
    RegistrationToken,
    utcnow,
)
from .municipalities import eligible, eligible_condition

log = logging.getLogger(__name__)

#: A repeat registration re-sends the confirmation at most this often.
RESEND_AFTER = timedelta(minutes=10)

#: Statuses of someone who still counts as coming: with a seat, or waiting for one.
ACTIVE = (Registration.CONFIRMED, Registration.WAITLISTED)

#: The waiting list's order, first come first served: who gets a freed seat, and each
#: one's number on the list.
WAITLIST_ORDER = (Registration.created_at, Registration.id)

#: Every status, in the order pages show them, with their labels.
STATUS_LABELS = {
    Registration.CONFIRMED: _l("Påmeldt"),
    Registration.WAITLISTED: _l("Venteliste"),
    Registration.CANCELLED: _l("Avbestilt"),
}


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


class LinksClosed(RegistrationError):
    status = 409
    message = _l("Arrangementet er over eller avlyst, så lenker sendes ikke lenger.")


class NotEligible(RegistrationError):
    status = 422
    message = _l("Dette arrangementet er ikke for kommuner i denne regionen.")


class SeriesEventError(RegistrationError):
    """One of the other events ticked in the same submit cannot take the registration.

    Nothing of the submit is stored, for this event nor the others; `event` says which one.
    """

    status = 422

    def __init__(self, event: Event, reason: RegistrationError):
        self.event = event
        self.reason = reason
        super().__init__(
            _l(
                "Du kan ikke melde deg på «%(title)s»: %(reason)s Fjern krysset for det "
                "arrangementet og send skjemaet på nytt.",
                title=event.title,
                reason=reason.message,
            )
        )


# --- the rules ------------------------------------------------------------------------------


def check_open(event: Event, now: datetime | None = None, *, window: bool = True) -> None:
    """Raise unless the event takes registrations right now (checked again on every POST).

    With window=False only the event's status counts: organisers may add someone before
    registration opens or after the deadline.
    """
    now = now or utcnow()
    if event.status == Event.CANCELLED:
        raise EventCancelled()
    if event.status != Event.PUBLISHED:
        raise EventNotFound()
    if not window:
        return
    if event.registration_opens_at and now < event.registration_opens_at:
        raise NotOpenYet()
    if now > event.deadline:
        raise DeadlinePassed()


def is_open(event: Event, now: datetime | None = None) -> bool:
    """Whether the public form takes registrations for the event right now."""
    try:
        check_open(event, now)
    except RegistrationError:
        return False
    return True


def takes_more(event: Event) -> bool:
    """Whether a new registration gets a seat or a place on the waiting list."""
    return event.capacity is None or event.seats_taken < event.capacity or event.waitlist


#: Built once: the other published, unfinished events of a programme (every form asks).
_SERIES = (
    select(Event)
    .where(
        Event.programme_id == bindparam("programme_id"),
        Event.id != bindparam("event_id"),
        Event.status == Event.PUBLISHED,
        Event.ends_at > bindparam("now"),
    )
    .order_by(Event.starts_at, Event.id)
)


def series_candidates(event: Event, now: datetime | None = None) -> list[Event]:
    """The other published events of the event's programme that have not ended, by start.

    One query (empty for an event outside a programme); `series_choices` keeps the open ones.
    """
    if event.programme_id is None:
        return []
    now = now or utcnow()
    return list(
        db.session.scalars(
            _SERIES, {"programme_id": event.programme_id, "event_id": event.id, "now": now}
        )
    )


def refusal(event: Event, now: datetime | None = None) -> RegistrationError | None:
    """Why the public form cannot register someone for the event now (None: it can)."""
    try:
        check_open(event, now)
    except RegistrationError as exc:
        return exc
    return None if takes_more(event) else EventFull()


def series_choices(event: Event, now: datetime | None = None) -> list[Event]:
    """The other events of the event's programme one can register for right now, by start."""
    now = now or utcnow()
    return [other for other in series_candidates(event, now) if refusal(other, now) is None]


def statuses_of(email: str, event_ids: Sequence[int]) -> dict[int, str]:
    """The address's active registrations among these events: status by event id (one query)."""
    if not event_ids:
        return {}
    rows = db.session.execute(
        _STATUSES_OF, {"email": email.strip().lower(), "event_ids": list(event_ids)}
    )
    return dict(rows.all())


#: Built once: every registrant's page asks it.
_STATUSES_OF = select(Registration.event_id, Registration.status).where(
    Registration.email == bindparam("email"),
    Registration.event_id.in_(bindparam("event_ids", expanding=True)),
    Registration.status.in_(ACTIVE),
)


def eligible_count(event: Event) -> int:
    """How many municipalities may register for the event."""
    return db.session.scalar(
        select(func.count(Municipality.number)).where(eligible_condition(event))
    )


def status_counts(event: Event) -> dict[str, int]:
    """How many of the event's registrations are in each status (every status present)."""
    return status_counts_by_event([event.id]).get(event.id, dict.fromkeys(STATUS_LABELS, 0))


def status_counts_by_event(event_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    """The same for several events (all when None), by event id."""
    query = select(Registration.event_id, Registration.status, func.count()).group_by(
        Registration.event_id, Registration.status
    )
    if event_ids is not None:
        query = query.where(Registration.event_id.in_(event_ids))
    counts: dict[int, dict[str, int]] = {}
    for event_id, status, n in db.session.execute(query):
        counts.setdefault(event_id, dict.fromkeys(STATUS_LABELS, 0))[status] = n
    return counts


def is_full(event: Event) -> bool:
    """Every seat is taken: a new registration goes to the waiting list, or is refused."""
    return event.capacity is not None and event.seats_taken >= event.capacity


def full_without_waitlist(event: Event) -> bool:
    """Full, and nobody can join a waiting list: the page shows no form."""
    return is_full(event) and not event.waitlist


def form_open(event: Event, now: datetime | None = None) -> bool:
    """Whether the event page shows the registration form: open, and not full without a
    waiting list (that page says it is full instead)."""
    return is_open(event, now) and not full_without_waitlist(event)


def waitlist_position(registration: Registration) -> int | None:
    """The registrant's number on the waiting list (1 is next in line), None if not on it."""
    if registration.status != Registration.WAITLISTED:
        return None
    created, ident = WAITLIST_ORDER
    ahead_or_same = or_(
        created < registration.created_at,
        and_(created == registration.created_at, ident <= registration.id),
    )
    return db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.event_id == registration.event_id,
            Registration.status == Registration.WAITLISTED,
            ahead_or_same,
        )
    )


def newcomer_position(event: Event) -> int | None:
    """Where a registration made now lands: None for a seat, else its waiting-list number."""
    if not is_full(event) or not event.waitlist:
        return None
    waiting = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.event_id == event.id, Registration.status == Registration.WAITLISTED
        )
    )
    return waiting + 1


def answered_position(
    event: Event, registration: Registration | None = None, new: bool = False
) -> int | None:
    """The waiting-list number the page after registering shows.

    A new registration's own number; for a repeat (or a bot's honeypot post) the number a
    new registration would have got, so the page never reveals who registered before.
    """
    if new and registration is not None:
        return waitlist_position(registration)
    return newcomer_position(event)


def active_registrations(event: Event) -> list[Registration]:
    """Confirmed and waitlisted registrations that still have an address to write to."""
    return list(
        db.session.scalars(
            select(Registration)
            .where(
                Registration.event_id == event.id,
                Registration.status.in_(ACTIVE),
                Registration.anonymised_at.is_(None),
            )
            .order_by(Registration.id)
            # Fresh values even for rows this session loaded before the lock.
            .execution_options(populate_existing=True)
        )
    )


# --- manage links ---------------------------------------------------------------------------


def new_token() -> str:
    """A manage token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """What we store of a manage token: a database leak must not reveal working links."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(registration: Registration) -> str:
    """A new manage link for the registration; the links already mailed keep working."""
    token = new_token()
    execute(_INSERT_TOKEN, {"registration_id": registration.id, "token_hash": hash_token(token)})
    return token


#: Built once: every registration and every mail with a manage link issues one.
_INSERT_TOKEN = insert(RegistrationToken.__table__)


#: Built once: every registrant's page looks its registration up by a token's hash, with
#: its event and municipality in the same query. Not as loader options: those would follow
#: the registration into a later refresh ... FOR UPDATE, which PostgreSQL refuses on outer
#: joins.
_BY_TOKEN = (
    select(Registration, Event, Municipality, Programme)
    .join(RegistrationToken)
    .join(Event, Event.id == Registration.event_id)
    .join(Municipality, Municipality.number == Registration.municipality_number)
    .outerjoin(Programme, Programme.id == Event.programme_id)
    .where(RegistrationToken.token_hash == bindparam("token_hash"))
)


def find_by_token(token: str) -> Registration | None:
    """The registration a manage link points to, or None for unknown or tampered tokens."""
    if not token or len(token) > 100:
        return None
    found = db.session.execute(_BY_TOKEN, {"token_hash": hash_token(token)}).first()
    if found is None:
        return None
    registration, event, municipality, programme = found
    # Held by the registration as loaded (the session's map alone would let them go).
    set_committed_value(registration, "event", event)
    set_committed_value(registration, "municipality", municipality)
    set_committed_value(event, "programme", programme)
    return registration


# --- registering ----------------------------------------------------------------------------


def register(
    event: Event,
    *,
    name: str,
    email: str,
    role: str,
    municipality: str,
    organisation: str = "",
    question: str = "",
    locale: str | None = None,
    now: datetime | None = None,
    by_organiser: bool = False,
    also: Sequence[Event] = (),
) -> tuple[Registration, bool]:
    """Register someone, or mail an existing registrant their link again.

    Returns the registration and whether it is new. The registration, its question to the
    organisers (if any) and its confirmation are one unit of work; a repeat registration's
    new question joins the registration that exists. An organiser (by_organiser=True) may
    register someone outside the registration window; capacity, waiting list, eligibility
    and duplicates still apply. With `also`, other events of the event's programme: the
    same person is registered for each of them too (each its own registration, confirmation
    and invite) in the same unit of work, all or nothing; one that cannot take them raises
    SeriesEventError. The question goes with the registration to `event` only.
    `locale` is the language of the pages the person registered on; every mail of the
    registration is in it. Without one (an organiser registered them), their municipality's
    official language form decides: nynorsk for a nynorsk municipality, else bokmål.
    """
    check_open(event, now, window=not by_organiser)
    kommune = municipalities.offered(event, municipality)
    if kommune is None:
        raise NotEligible()
    others = _series(event, also, kommune, now)
    locale = locale or municipalities.mail_language(kommune.language)
    email = email.strip().lower()
    fields = {
        "name": " ".join(name.split()),
        "email": email,
        "role": role,
        "municipality_number": municipality,
        "organisation": " ".join(organisation.split()),
        "locale": locale,
    }
    try:
        with write_transaction():
            registration, new = _register_all(event, others, fields, now, by_organiser)
            questions.ask(registration, question, now)
            status = registration.status
    except IntegrityError:
        # Another request registered the same address a moment ago (the unique index
        # caught it): nothing of this one is stored. Once more: now the earlier
        # registration is found under the lock and answered as any repeat.
        if in_write_transaction():
            raise
        with write_transaction():
            registration, new = _register_all(event, others, fields, now, by_organiser)
            questions.ask(registration, question, now)
            status = registration.status
    # The commit expired the row; the status it was committed with is known, and the page
    # after registering asks for it (a confirmed registration has no number to look up).
    set_committed_value(registration, "status", status)
    return registration, new


def register_for_another(origin: Event, event: Event, **fields) -> tuple[Registration, bool]:
    """One click from a registration to `origin`: the same person registers for another
    event of its programme (its own registration, confirmation and invite)."""
    if event.id == origin.id or origin.programme_id is None:
        raise EventNotFound()
    if event.programme_id != origin.programme_id:
        raise EventNotFound()
    return register(event, **fields)


def person_of(registration: Registration) -> dict[str, str]:
    """What `register` needs to register this registrant again, for another event."""
    return {
        "name": registration.name,
        "email": registration.email,
        "role": registration.role,
        "municipality": registration.municipality_number,
        "organisation": registration.organisation,
        "locale": registration.locale,
    }


def _series(
    event: Event, also: Sequence[Event], kommune: municipalities.Facts, now: datetime | None
) -> list[Event]:
    """The other events to register for with `event`, each checked: same programme, open
    right now, for this municipality. Raises SeriesEventError naming the first that is not."""
    others: dict[int, Event] = {}
    for other in also:
        if other.id == event.id or other.id in others:
            continue
        if event.programme_id is None or other.programme_id != event.programme_id:
            raise SeriesEventError(other, EventNotFound())
        try:
            check_open(other, now)
        except RegistrationError as exc:
            raise SeriesEventError(other, exc) from None
        if not eligible(other, kommune):
            raise SeriesEventError(other, NotEligible())
        others[other.id] = other
    return list(others.values())


def _register_all(
    event: Event, others: list[Event], fields: dict, now, by_organiser: bool
) -> tuple[Registration, bool]:
    """Register for the event and the others; in the order of their ids, so that two
    series registrations lock the same events in the same order and never deadlock.

    Each new registration, its link and its confirmation are plain INSERTs as they are made;
    what changed in rows already there (a repeat's re-send) is flushed at the end; the
    person is noted as a contact once.
    """
    made = {}
    with db.session.no_autoflush:
        for each in sorted([event, *others], key=lambda e: e.id):
            try:
                made[each.id] = _register(each, fields, now, by_organiser)
            except RegistrationError as exc:
                if each is event:
                    raise
                raise SeriesEventError(each, exc) from None
        if any(new for _registration, new in made.values()):
            contacts.note_registrant(
                name=fields["name"],
                email=fields["email"],
                role=fields["role"],
                municipality=fields["municipality_number"],
            )
    db.session.flush()
    return made[event.id]


def _register(event: Event, fields: dict, now, by_organiser: bool) -> tuple[Registration, bool]:
    # The event's row lock orders registrations to one event, so the duplicate check below
    # sees every earlier one (on SQLite the write transaction already does). Taking a seat
    # takes the lock with it; a full event's row is locked on its own.
    seated = _take_seat(event)
    if not seated:
        lock_event(event)
    check_open(event, now, window=not by_organiser)  # again, under the lock
    earlier = _registrations(event, fields["email"])
    existing = next((r for r in earlier if r.status != Registration.CANCELLED), None)
    if existing is not None:
        if seated:  # a repeat takes no seat (rare: most addresses are new)
            _release_seat(event)
        return _send_again(existing, now, by_organiser), False
    prior = max((r.ical_sequence for r in earlier), default=None)
    if seated or _take_seat(event):
        status = Registration.CONFIRMED
    elif event.waitlist:
        status = Registration.WAITLISTED
    else:
        raise EventFull()
    made = utcnow()
    # Above any CANCEL an earlier registration of this address got; a confirmed one is
    # written with its first invite's SEQUENCE reserved, so the row is never updated after.
    held = -1 if prior is None else prior
    sequence = messages.next_sequence(event, held) if status == Registration.CONFIRMED else None
    registration = _insert_registration(
        {
            **fields,
            "event_id": event.id,
            "status": status,
            "created_at": made,
            "updated_at": made,
            "ical_sequence": held if sequence is None else sequence,
            "confirmation_sent_at": now or utcnow(),
        }
    )
    position = waitlist_position(registration)  # counts itself; None when it got a seat
    messages.queue_confirmation(
        registration, issue_token(registration), position=position, sequence=sequence
    )
    _count_made(event, made)
    return registration, True


def _insert_registration(values: dict) -> Registration:
    """A new registration: one INSERT of its whole row, and the session's object made from
    the same values, as if loaded (not added and flushed: the unit of work's flush was a
    third of a registration's write; nor the ORM's INSERT … RETURNING, a sixth)."""
    row = {**_UNSET, **values}
    row["id"] = execute(_INSERT_REGISTRATION, row).scalar_one()
    registration = Registration(**row)
    make_transient_to_detached(registration)
    db.session.add(registration)
    return registration


#: Built once: the INSERT, and every column the caller leaves out (the row is written
#: whole, so no default of the table's differs from the object's).
_INSERT_REGISTRATION = insert(Registration.__table__).returning(Registration.__table__.c.id)
_UNSET = {column.key: None for column in Registration.__table__.c if column.key != "id"}


def _count_made(event: Event, made: datetime) -> None:
    """One more registration made to the event on this day (the campaign's chart)."""
    execute(
        _count_statement(dialect()),
        {"event_id": event.id, "day": made.astimezone(event.zone).date()},
    )


@cache
def _count_statement(dialect: str):
    """The upsert of a day's count, built once per dialect (it runs in every registration)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = RegistrationCount.__table__
    return (
        insert(table)
        .values(event_id=bindparam("event_id"), day=bindparam("day"), count=1)
        .on_conflict_do_update(
            index_elements=["event_id", "day"], set_={"count": table.c["count"] + 1}
        )
    )


def add_by_organiser(event: Event, **fields) -> tuple[Registration, bool]:
    """An organiser registers someone, also outside the registration window.

    Capacity, the waiting list, eligibility and the duplicate rule apply as on the public
    form; the person gets the same confirmation mail with their personal link.
    """
    return register(event, by_organiser=True, **fields)


#: This address's registrations for an event, locked until commit (PostgreSQL).
_REGISTRATIONS_OF = (
    select(Registration)
    .where(Registration.event_id == bindparam("event_id"), Registration.email == bindparam("email"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


#: ... and whether there are any: most addresses are new, and this costs a third of that.
_ANY_OF = (
    select(Registration.__table__.c.id)
    .where(
        Registration.__table__.c.event_id == bindparam("event_id"),
        Registration.__table__.c.email == bindparam("email"),
    )
    .limit(1)
)


def _registrations(event: Event, email: str) -> list[Registration]:
    """This address's registrations for the event, locked until commit (PostgreSQL)."""
    params = {"event_id": event.id, "email": email}
    # Under the event's lock nobody adds one between the two statements.
    if execute(_ANY_OF, params).first() is None:
        return []
    return list(db.session.scalars(_REGISTRATIONS_OF, params))


def _send_again(
    registration: Registration, now: datetime | None, by_organiser: bool = False
) -> Registration:
    """Mail the confirmation again with one more manage link, at most once per RESEND_AFTER
    from the public form (an organiser who adds someone again always re-sends it).

    The answer to the person posting the form is the same either way, and the links mailed
    before keep working: registering someone's address again neither floods their inbox
    nor cuts them off.
    """
    now = now or utcnow()
    last = registration.confirmation_sent_at
    if not by_organiser and last is not None and now - last < RESEND_AFTER:
        return registration
    registration.confirmation_sent_at = now
    messages.queue_confirmation(
        registration,
        issue_token(registration),
        again=True,
        position=waitlist_position(registration),
    )
    return registration


def check_links_open(event: Event, now: datetime | None = None) -> None:
    """Raise unless registrants can still be sent their link again."""
    if not links_open(event, now):
        raise LinksClosed()


def links_open(event: Event, now: datetime | None = None) -> bool:
    """Whether the event page offers "send me my link again": published and not over."""
    return event.status == Event.PUBLISHED and not event.is_past(now)


def send_link(event: Event, email: str, now: datetime | None = None) -> None:
    """ "Send me my link again": mail an active registrant of the event a new manage link,
    at most once per RESEND_AFTER, shared with a repeat registration's re-send.

    Returns nothing and raises nothing about the address: the page answers the same whether
    or not it is registered. Both cases run the very same statements: an UPDATE that marks
    the registration due (none matches an unknown address; the row lock orders two requests
    for one address) and an INSERT … SELECT of the mail for what it marked. The link is made
    when the mail is delivered, and the commit does not wait for the disk, so a registered
    address takes no longer to answer.
    """
    now = now or utcnow()
    check_links_open(event, now)
    params = {
        "b_event_id": event.id,
        "b_email": email.strip().lower(),
        "b_cutoff": now - RESEND_AFTER,
        "b_now": now,
    }
    with write_transaction():
        no_disk_wait()
        db.session.execute(_MARK_LINK_DUE, params)
        messages.queue_manage_link(event, _MARKED.params(params))


#: The registrant of an event with an address, who may be mailed their link again now.
_LINK_DUE = and_(
    Registration.event_id == bindparam("b_event_id"),
    Registration.email == bindparam("b_email"),
    Registration.status.in_(ACTIVE),
    Registration.anonymised_at.is_(None),
    or_(
        Registration.confirmation_sent_at.is_(None),
        Registration.confirmation_sent_at <= bindparam("b_cutoff"),
    ),
)
_MARK_LINK_DUE = (
    update(Registration)
    .where(_LINK_DUE)
    .values(confirmation_sent_at=bindparam("b_now"))
    .execution_options(synchronize_session=False)
)
#: ... and the one just marked, in the same transaction.
_MARKED = select(Registration.id).where(
    Registration.event_id == bindparam("b_event_id"),
    Registration.email == bindparam("b_email"),
    Registration.status.in_(ACTIVE),
    Registration.confirmation_sent_at == bindparam("b_now"),
)


#: Take a seat if there is one: the condition and the change are one statement. A seat is a
#: count, not a change of the event: updated_at stays, so its calendar files stay valid.
_EVENTS = Event.__table__
_TAKE_SEAT = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("event_id"))
    .where(or_(_EVENTS.c.capacity.is_(None), _EVENTS.c.seats_taken < _EVENTS.c.capacity))
    .values(seats_taken=_EVENTS.c.seats_taken + 1, updated_at=_EVENTS.c.updated_at)
    .returning(_EVENTS.c.updated_at, _EVENTS.c.seats_taken, _EVENTS.c.sequence)
)


def _take_seat(event: Event) -> bool:
    """Atomically take a seat if there is one; holds under concurrent registrations. The
    UPDATE locks the event's row, and the object follows it (on PostgreSQL the UPDATE may
    have waited for an organiser's edit: the row is read again, so this registrant's invite
    is not below the sequence the edit left)."""
    taken = execute(_TAKE_SEAT, {"event_id": event.id}).first()
    if taken is None:
        return False
    locked(event, taken)
    return True


def _release_seat(event: Event) -> None:
    db.session.execute(
        update(Event)
        .where(Event.id == event.id)
        .values(seats_taken=Event.seats_taken - 1, updated_at=Event.updated_at)
    )
    db.session.expire(event, ["seats_taken"])


# --- cancelling and the waiting list --------------------------------------------------------


def cancel(
    registration: Registration, *, by_organiser: bool = False, now: datetime | None = None
) -> list[Registration]:
    """Cancel a registration: CANCEL to the calendar, the seat to the first on the waiting list.

    Returns whoever got the freed seat (they are mailed an invite).
    """
    with write_transaction():
        event = lock_event(registration.event)
        db.session.refresh(registration, with_for_update=True)
        if registration.status == Registration.CANCELLED:
            return []
        if event.is_past(now) and not by_organiser:
            raise EventOver()
        had_seat = registration.status == Registration.CONFIRMED
        registration.status = Registration.CANCELLED
        registration.cancelled_at = now or utcnow()
        if had_seat:
            _release_seat(event)
        messages.queue_cancellation(registration, by_organiser=by_organiser, had_seat=had_seat)
        return promote_waitlisted(event) if had_seat else []


def promote_waitlisted(event: Event) -> list[Registration]:
    """Give free seats to the waiting list, first come first served, and tell them."""
    promoted = []
    with write_transaction():
        while True:
            first = db.session.scalar(
                select(Registration)
                .where(
                    Registration.event_id == event.id,
                    Registration.status == Registration.WAITLISTED,
                )
                .order_by(*WAITLIST_ORDER)
                .limit(1)
            )
            if first is None or not _take_seat(event):
                return promoted
            first.status = Registration.CONFIRMED
            # One more manage link: the others are stored only as hashes, and the mail needs one.
            messages.queue_promoted(first, issue_token(first))
            promoted.append(first)


# --- personal data --------------------------------------------------------------------------


def anonymise_old_registrations(now: datetime) -> int:
    """Blank the personal data of registrations to events that ended long enough ago.

    A batch of at most 1,000 per call (the periodic job calls it again); returns how many.
    """
    cutoff = now - timedelta(days=current_app.config["ANONYMISE_AFTER_DAYS"])
    with write_transaction():
        rows = db.session.scalars(
            select(Registration)
            .join(Event)
            .where(Event.ends_at < cutoff, Registration.anonymised_at.is_(None))
            .limit(1000)
        ).all()
        emails = [registration.email for registration in rows]
        for registration in rows:
            # Municipality, role and status stay: they are what the statistics need.
            registration.name = ""
            registration.email = f"anonymisert-{registration.id}@invalid"
            registration.organisation = ""
            registration.anonymised_at = now
        if rows:
            ids = [r.id for r in rows]
            # What they asked the organisers is theirs too.
            questions.forget(ids)
            # Every link ever mailed stops working.
            db.session.execute(
                delete(RegistrationToken).where(RegistrationToken.registration_id.in_(ids))
            )
            # Their mail too: no address, no name, no working link, and nothing left to send.
            outbox.forget_recipients(ids)
            # And what the campaign learnt from them: contacts known only from registering
            # (unless they still have a registration that is kept), and the names and
            # addresses in their events' participant reports that matched nobody.
            kept = db.session.scalars(
                select(Registration.email).where(
                    Registration.email.in_(emails), Registration.anonymised_at.is_(None)
                )
            ).all()
            contacts.forget_registrants(sorted(set(emails) - set(kept)))
            attendance.forget_unmatched(sorted({r.event_id for r in rows}))
    if rows:
        log.info("anonymised %d registrations", len(rows))
    return len(rows)
