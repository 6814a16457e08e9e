"""Invitations: contacts invited to an event, once each, through the outbox.

An organiser chooses the audience (every contact of the event's eligible municipalities, or
only those of municipalities nobody has registered from yet, optionally one county or one
role) and sees how many will be mailed before sending. Each contact gets one invitation per
event, kept by the database (unique per event and contact) and by the event's row lock, so
two organisers sending at once mail nobody twice. Sending again skips those invited, unless
the organiser asks to remind the invited who have not registered (at most once a day each).
Contacts who opted out, or who registered for the event already, are never mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, or_, select

from .db import lock_event, write_transaction
from .extensions import db
from .mail import messages
from .models import ROLES, Contact, Event, Invitation, Municipality, Registration, utcnow
from .municipalities import eligible_condition
from .registrations import ACTIVE, is_open

#: A reminder goes to someone at most this often (and not before a day after the invitation).
REMIND_AFTER = timedelta(days=1)


class InvitationError(Exception):
    """Invitations that cannot be sent; `message` is for the organiser."""

    message = _l("Invitasjonene kan ikke sendes.")

    def __init__(self, message=None):
        self.message = message or self.message
        super().__init__(str(self.message))


class NotOpen(InvitationError):
    message = _l(
        "Arrangementet tar ikke imot påmeldinger nå, så det sendes ingen invitasjoner. "
        "Publiser det og sjekk påmeldingsfristen først."
    )


@dataclass(frozen=True)
class Audience:
    """Whom to invite: empty filters mean everyone."""

    #: Only municipalities nobody has an active registration from (to any event of the
    #: programme, or to this event when it has no programme).
    only_unreached: bool = False
    county: str = ""
    role: str = ""
    #: Also remind the invited who have not registered.
    remind: bool = False

    @classmethod
    def from_args(cls, args) -> Audience:
        """Read the audience from query parameters or a form, dropping values that cannot match."""
        county = str(args.get("county") or "")[:2]
        role = str(args.get("role") or "")
        truthy = ("1", "on", "true", "y", "yes")
        return cls(
            only_unreached=str(args.get("only_unreached") or "") in truthy,
            county=county if county.isdigit() else "",
            role=role if role in ROLES else "",
            remind=str(args.get("remind") or "") in truthy,
        )


@dataclass
class Plan:
    """How many will be mailed: first invitations, reminders, and municipalities they cover."""

    invitations: int = 0
    reminders: int = 0
    municipalities: int = 0

    @property
    def total(self) -> int:
        return self.invitations + self.reminders


def _reachable(event: Event, audience: Audience) -> list:
    """Conditions on Contact (joined with Municipality) for this event and audience."""
    registered_here = exists(
        select(Registration.id).where(
            Registration.event_id == event.id,
            Registration.email == Contact.email,
            Registration.status.in_(ACTIVE),
        )
    )
    conditions = [
        eligible_condition(event),
        Contact.unsubscribed_at.is_(None),
        ~registered_here,
    ]
    if audience.only_unreached:
        events = (
            select(Event.id).where(Event.programme_id == event.programme_id)
            if event.programme_id is not None
            else select(Event.id).where(Event.id == event.id)
        )
        conditions.append(
            ~exists(
                select(Registration.id).where(
                    Registration.municipality_number == Municipality.number,
                    Registration.event_id.in_(events.scalar_subquery()),
                    Registration.status.in_(ACTIVE),
                )
            )
        )
    if audience.county:
        conditions.append(Municipality.county_number == audience.county)
    if audience.role:
        conditions.append(Contact.role == audience.role)
    return conditions


def _contacts(event: Event, audience: Audience) -> Select:
    """Contacts not yet invited to the event."""
    invited = exists(
        select(Invitation.id).where(
            Invitation.event_id == event.id, Invitation.contact_id == Contact.id
        )
    )
    return (
        select(Contact)
        .join(Municipality, Municipality.number == Contact.municipality_number)
        .where(*_reachable(event, audience), ~invited)
    )


def _to_remind(event: Event, audience: Audience, now: datetime) -> Select:
    """Invitations of the event whose contact has not registered and may be reminded now."""
    due = now - REMIND_AFTER
    return (
        select(Invitation)
        .join(Contact, Contact.id == Invitation.contact_id)
        .join(Municipality, Municipality.number == Contact.municipality_number)
        .where(
            Invitation.event_id == event.id,
            *_reachable(event, audience),
            Invitation.invited_at <= due,
            or_(Invitation.reminded_at.is_(None), Invitation.reminded_at <= due),
        )
    )


def plan(event: Event, audience: Audience, now: datetime | None = None) -> Plan:
    """How many mails sending would queue now (nothing is stored)."""
    now = now or utcnow()
    new = _contacts(event, audience).subquery()
    invitations, places = db.session.execute(
        select(func.count(), func.count(new.c.municipality_number.distinct()))
    ).one()
    reminders = reminded_places = 0
    if audience.remind:
        remind = _to_remind(event, audience, now).add_columns(Contact.municipality_number)
        found = db.session.execute(remind).all()
        reminders = len(found)
        reminded_places = {number for _invitation, number in found}
        new_places = set(db.session.scalars(select(new.c.municipality_number)))
        places = len(new_places | reminded_places)
    return Plan(invitations or 0, reminders, places or 0)


def send(event: Event, audience: Audience, now: datetime | None = None) -> Plan:
    """Invite the audience's contacts not invited yet (and remind, if asked); returns counts."""
    now = now or utcnow()
    if not is_open(event, now):
        raise NotOpen()
    result = Plan()
    places: set[str] = set()
    with write_transaction():
        # Two organisers sending at once: the second waits here, then finds everyone invited.
        lock_event(event)
        if not is_open(event, now):
            raise NotOpen()
        for contact in db.session.scalars(_contacts(event, audience).order_by(Contact.id)):
            db.session.add(Invitation(event=event, contact=contact, invited_at=now))
            messages.queue_invitation(contact, event)
            result.invitations += 1
            places.add(contact.municipality_number)
        if audience.remind:
            reminding = _to_remind(event, audience, now).order_by(Invitation.id)
            for invitation in db.session.scalars(reminding):
                invitation.reminded_at = now
                invitation.reminders += 1
                messages.queue_invitation(invitation.contact, event, reminder=True)
                result.reminders += 1
                places.add(invitation.contact.municipality_number)
    result.municipalities = len(places)
    return result


def counts(event: Event) -> dict[str, int]:
    """Invited contacts of the event, how many of them registered, how many were reminded."""
    registered = exists(
        select(Registration.id).where(
            Registration.event_id == event.id,
            Registration.email == Contact.email,
            Registration.status.in_(ACTIVE),
        )
    )
    invited, came, reminded = db.session.execute(
        select(
            func.count(Invitation.id),
            func.count(Invitation.id).filter(registered),
            func.count(Invitation.reminded_at),
        )
        .join(Contact, Contact.id == Invitation.contact_id)
        .where(Invitation.event_id == event.id)
    ).one()
    return {"invited": invited, "registered": came, "reminded": reminded}


def contact_for_link(contact_id: int, event_id: int) -> tuple[Contact, Event] | None:
    """The contact and event an invitation link names, if both still exist."""
    contact = db.session.get(Contact, contact_id)
    event = db.session.get(Event, event_id)
    return None if contact is None or event is None else (contact, event)
