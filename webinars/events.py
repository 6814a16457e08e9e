"""State changes for events: create, update, publish, unpublish, cancel, and telling registrants.

A change of time, place, join link or title is a change to every registrant's calendar: the
event's SEQUENCE goes up and each confirmed registrant gets an updated REQUEST invite (same
UID) with a mail saying what changed, queued in the outbox in the same transaction as the
change. Services never touch the request; they raise EventError subclasses for the views.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from types import SimpleNamespace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from . import ical, registrations
from .db import execute, lock_event, write_transaction
from .extensions import db
from .mail import messages
from .models import Event, Programme, Registration
from .text import newlines

KINDS = ("meeting", "webinar")
#: What registrants see of an event in their calendar; a change to any of these is sent out.
CALENDAR_CHANGES = ("title", "time", "location", "join_url")


class EventError(Exception):
    """An event change that cannot be made; `message` is for the organiser."""

    status = 409
    message = _l("Endringen kan ikke gjøres.")

    def __init__(self, message=None):
        self.message = message or self.message
        super().__init__(str(self.message))


class InvalidEvent(EventError):
    """Field errors, keyed by the model field they concern; nothing was stored."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(_l("Noe må rettes før arrangementet kan lagres."))


class CannotPublish(EventError):
    message = _l("Et avlyst arrangement kan ikke publiseres igjen. Opprett et nytt i stedet.")


class CannotUnpublish(EventError):
    message = _l(
        "Arrangementet har påmeldte og kan ikke trekkes tilbake. Avlys det i stedet, så får "
        "alle påmeldte beskjed og kalenderen deres oppdateres."
    )


class CannotCancel(EventError):
    message = _l("Bare publiserte arrangementer som ikke er over, kan avlyses.")


@dataclass
class EventFields:
    """What an organiser sets on an event, in model terms (instants in UTC)."""

    slug: str
    title: str
    starts_at: datetime
    ends_at: datetime
    kind: str = "webinar"
    description: str = ""
    target_group: str = ""
    location: str = ""
    timezone: str = "Europe/Oslo"
    registration_opens_at: datetime | None = None
    deadline_at: datetime | None = None
    deadline_days_before: int | None = None
    deadline_local_time: time | None = None  # relative deadlines only
    capacity: int | None = None
    waitlist: bool = False
    eligible_regions: list[str] = field(default_factory=list)
    eligible_counties: list[str] = field(default_factory=list)
    join_url: str = ""
    organiser_name: str = ""
    organiser_email: str = ""
    programme_id: int | None = None

    def model_values(self) -> dict:
        """The values as Event columns (the lists become comma-separated strings)."""
        values = asdict(self)
        # As typed in a browser (CRLF) or anywhere else: stored with LF.
        values["description"] = newlines(self.description)
        values["target_group"] = newlines(self.target_group)
        values["eligible_regions"] = ",".join(self.eligible_regions)
        values["eligible_counties"] = ",".join(self.eligible_counties)
        return values


@dataclass(frozen=True)
class When:
    """An event's time as it was or is: what the change mail shows in the event's zone."""

    starts_at: datetime
    ends_at: datetime
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass
class Outcome:
    """What saving an event did: the calendar changes and who was told."""

    changes: dict[str, tuple] = field(default_factory=dict)
    updated: int = 0
    waitlisted_told: int = 0
    promoted: int = 0


#: One row: every change of an event moves its updated_at (a seat taken or given back does
#: not, see registrations._TAKE_SEAT), and events are never deleted.
_VERSION = select(func.count(Event.__table__.c.id), func.max(Event.__table__.c.updated_at))


def version() -> tuple[int, datetime | None]:
    """The events as they are now, in one cheap query: how many there are, the latest change.

    What public calendar feeds are cached by: a change by any process moves it at once.
    """
    count, latest = execute(_VERSION).one()
    return count, latest


def all_events() -> list[Event]:
    """Every event, in any status, by start."""
    return list(db.session.scalars(select(Event).order_by(Event.starts_at, Event.id)))


def free_slug(base: str) -> str:
    """`base` with the first free number after it: 'webinar-1' -> 'webinar-1-2' (or -3, …)."""
    base = base[:76].rstrip("-") or "arrangement"
    taken = set(
        db.session.scalars(
            select(Event.slug).where(Event.slug.startswith(base + "-", autoescape=True))
        )
    )
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


@dataclass(frozen=True)
class OrganiserDefaults:
    """What a new event's organiser name and mailbox start as."""

    name: str = ""
    email: str = ""


def organiser_defaults(
    organiser_id: int | None, programme: Programme | None = None, fallback_email: str = ""
) -> OrganiserDefaults:
    """A new event's organiser: the programme's (if it names one), else that of the last
    event this organiser created, else of the last event anyone created, else the
    organiser's own address."""
    if programme is not None and programme.organiser_email:
        return OrganiserDefaults(programme.organiser_name, programme.organiser_email)
    query = select(Event.organiser_name, Event.organiser_email).where(Event.organiser_email != "")
    if organiser_id is not None:
        # This organiser's own events first.
        query = query.order_by(case((Event.created_by_id == organiser_id, 0), else_=1))
    last = db.session.execute(
        query.order_by(Event.created_at.desc(), Event.id.desc()).limit(1)
    ).first()
    if last is not None:
        return OrganiserDefaults(last.organiser_name, last.organiser_email)
    return OrganiserDefaults("", fallback_email)


class Preview:
    """An event as the public will see it once it is published: a draft reads as published,
    everything else as it is (for the organisers' preview; never saved)."""

    def __init__(self, event: Event):
        self._event = event

    @property
    def status(self) -> str:
        return Event.PUBLISHED if self.is_draft else self._event.status

    @property
    def is_draft(self) -> bool:
        return self._event.status == Event.DRAFT

    def __getattr__(self, name):
        return getattr(self._event, name)


def slugify(title: str) -> str:
    """A URL slug from a title: 'Webinar 1: Støttemateriellet' -> 'webinar-1-stottemateriellet'."""
    text = title.lower().translate(str.maketrans({"æ": "ae", "ø": "o", "å": "a"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80].rstrip("-")
    return slug or "arrangement"


def validate(fields: EventFields, event: Event | None = None) -> dict[str, str]:
    """Field errors for these values (empty when they can be saved), for a new or an old event."""
    errors: dict[str, str] = {}
    if fields.kind not in KINDS:
        errors["kind"] = _l("Velg møte eller webinar.")
    try:
        ZoneInfo(fields.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _l("Ukjent tidssone. Velg en fra listen, f.eks. Europe/Oslo.")
        return errors  # the other checks need the zone
    if fields.ends_at <= fields.starts_at:
        errors["ends_at"] = _l("Slutten må være etter starten.")
    # A transient Event computes the deadline exactly as registration will check it.
    probe = Event(**fields.model_values())
    deadline = probe.deadline
    if deadline > fields.starts_at:
        errors["deadline"] = _l("Påmeldingsfristen må være før arrangementet starter.")
    if fields.registration_opens_at and fields.registration_opens_at >= deadline:
        errors["registration_opens_at"] = _l("Påmeldingen må åpne før fristen.")
    if fields.join_url:
        parts = urlsplit(fields.join_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in fields.join_url:
            errors["join_url"] = _l(
                "Lenken må være en nettadresse som begynner med https:// (eller http://)."
            )
    if fields.capacity is not None and event is not None and fields.capacity < event.seats_taken:
        errors["capacity"] = _l(
            "Det er allerede %(count)d påmeldte. Antall plasser kan ikke være lavere.",
            count=event.seats_taken,
        )
    clash = db.session.scalar(
        select(Event.id).where(Event.slug == fields.slug, Event.id != (event.id if event else -1))
    )
    if clash is not None:
        errors["slug"] = _slug_taken(fields.slug)
    return errors


def _free_uid(slug: str) -> str:
    """The calendar UID for a new event; a slug used before by a renamed event gets a suffix."""
    uid, n = ical.calendar_uid(slug), 1
    while db.session.scalar(select(Event.id).where(Event.ical_uid == uid)) is not None:
        n += 1
        uid = ical.calendar_uid(f"{slug}.{n}")
    return uid


def create_event(fields: EventFields, created_by: int | None = None) -> Event:
    """Create a draft event; its calendar UID is fixed now and survives slug changes.

    A copy of an event is created the same way, from the original's fields: it gets nothing
    of the original's registrations, attendance, invitations, recording or questions.
    """
    errors = validate(fields)
    if errors:
        raise InvalidEvent(errors)
    with _slug_error(fields.slug), write_transaction():
        event = Event(
            **fields.model_values(), status=Event.DRAFT, sequence=0, created_by_id=created_by
        )
        event.ical_uid = _free_uid(fields.slug)
        db.session.add(event)
    return event


@contextmanager
def _slug_error(slug: str):
    """Someone saved an event with this slug since we checked: say so next to the field."""
    try:
        yield
    except IntegrityError:
        raise InvalidEvent({"slug": _slug_taken(slug)}) from None


def _slug_taken(slug: str) -> str:
    return _l("Adressen «%(slug)s» er allerede i bruk. Velg en annen.", slug=slug)


def _snapshot(event: Event) -> dict:
    return {
        "title": event.title,
        "time": When(event.starts_at, event.ends_at, event.timezone),
        "location": event.location,
        "join_url": event.join_url,
    }


def calendar_changes(before: dict, after: dict) -> dict[str, tuple]:
    """What registrants' calendars would show differently: {what: (old, new)}."""
    return {key: (before[key], after[key]) for key in CALENDAR_CHANGES if before[key] != after[key]}


def update_event(event: Event, fields: EventFields) -> Outcome:
    """Save an organiser's edit; calendar changes go to every registrant in the same commit."""
    errors = validate(fields, event)
    if errors:
        raise InvalidEvent(errors)
    with _slug_error(fields.slug), write_transaction():
        # Lock the event row: registrations take seats with an UPDATE on it, so the capacity
        # check and the registrants to tell cannot change until this commits.
        lock_event(event)
        errors = validate(fields, event)
        if errors:
            raise InvalidEvent(errors)
        changes = calendar_changes(_snapshot(event), _snapshot(_probe(event, fields)))
        old_capacity = event.capacity
        for key, value in fields.model_values().items():
            setattr(event, key, value)
        db.session.flush()
        outcome = Outcome(changes=changes)
        counts = registrations.status_counts(event)
        notify = bool(changes) and sum(counts[s] for s in registrations.ACTIVE) > 0
        if notify:
            event.sequence += 1
        promoted = []
        if event.status == Event.PUBLISHED and _more_seats(old_capacity, event.capacity):
            promoted = registrations.promote_waitlisted(event)
        outcome.promoted = len(promoted)
        if notify:
            # The promoted got a "you have a seat" mail with the new details instead.
            skip = {r.id for r in promoted}
            for registration in registrations.active_registrations(event):
                if registration.id not in skip and _tell_update(registration, changes):
                    if registration.status == Registration.CONFIRMED:
                        outcome.updated += 1
                    else:
                        outcome.waitlisted_told += 1
    return outcome


def _probe(event: Event, fields: EventFields) -> SimpleNamespace:
    """The event's calendar-visible values as they will be after the edit."""
    return SimpleNamespace(
        **{**{k: getattr(event, k) for k in fields.model_values()}, **fields.model_values()}
    )


def _tell_update(registration: Registration, changes: dict[str, tuple]) -> bool:
    """Queue the "what changed" mail, with an updated invite for a confirmed registrant."""
    confirmed = registration.status == Registration.CONFIRMED
    # Those waiting have no join link yet: they hear of the rest, if anything else changed.
    told = changes if confirmed else {k: v for k, v in changes.items() if k != "join_url"}
    if not told:
        return False
    messages.queue_event_updated(registration, told)
    return True


def _more_seats(old: int | None, new: int | None) -> bool:
    return old is not None and (new is None or new > old)


def publish_event(event: Event) -> None:
    """Make a draft public so people can register."""
    with write_transaction():
        lock_event(event)
        if event.status == Event.CANCELLED:
            raise CannotPublish()
        event.status = Event.PUBLISHED


def unpublish_event(event: Event) -> None:
    """Take a published event back to draft; refused once people have registered."""
    with write_transaction():
        lock_event(event)
        if event.status != Event.PUBLISHED:
            return
        counts = registrations.status_counts(event)
        if any(counts[status] for status in registrations.ACTIVE):
            raise CannotUnpublish()
        event.status = Event.DRAFT


def cancel_event(event: Event, message: str = "", now: datetime | None = None) -> tuple[int, int]:
    """Cancel the event: CANCEL to every confirmed calendar, a mail to the waiting list.

    Returns how many confirmed and waitlisted registrants were told.
    """
    _check_cancellable(event, now)
    with write_transaction():
        lock_event(event)
        _check_cancellable(event, now)
        event.status = Event.CANCELLED
        event.sequence += 1
        told = dict.fromkeys(registrations.ACTIVE, 0)
        for registration in registrations.active_registrations(event):
            messages.queue_event_cancelled(registration, message.strip())
            told[registration.status] += 1
    return told[Registration.CONFIRMED], told[Registration.WAITLISTED]


def _check_cancellable(event: Event, now: datetime | None) -> None:
    if event.status != Event.PUBLISHED or event.is_past(now):
        raise CannotCancel()
