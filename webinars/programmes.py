"""Programmes: events grouped under one campaign, its eligible municipalities, goal and deadline.

The goal is the programme's own: municipalities holding more than `goal_percent` per cent of
the population of the programme's eligible municipalities sign. It is computed from the
programme's eligibility, never from its events' settings, so opening one webinar to the
whole country moves nothing. Services raise ProgrammeError subclasses for the views.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError

from .db import write_transaction
from .extensions import db
from .models import Event, Municipality, Programme
from .municipalities import eligible, eligible_condition

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ProgrammeError(Exception):
    """A programme change that cannot be made; `message` is for the organiser."""

    status = 409
    message = _l("Endringen kan ikke gjøres.")

    def __init__(self, message=None):
        self.message = message or self.message
        super().__init__(str(self.message))


class InvalidProgramme(ProgrammeError):
    """Field errors, keyed by the model field they concern; nothing was stored."""

    status = 422

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(_l("Noe må rettes før programmet kan lagres."))


@dataclass
class ProgrammeFields:
    """What an organiser sets on a programme."""

    slug: str
    title: str
    declarations_due: date
    description: str = ""
    eligible_regions: list[str] = field(default_factory=list)
    eligible_counties: list[str] = field(default_factory=list)
    goal_percent: int = 50
    organiser_name: str = ""
    organiser_email: str = ""

    def model_values(self) -> dict:
        """The values as Programme columns (the lists become comma-separated strings)."""
        values = asdict(self)
        values["eligible_regions"] = ",".join(self.eligible_regions)
        values["eligible_counties"] = ",".join(self.eligible_counties)
        return values


@dataclass(frozen=True)
class Goal:
    """The eligible municipalities and population, and the population that must sign."""

    municipalities: int
    population: int
    percent: int

    @property
    def people(self) -> int:
        """More than `percent` per cent: the smallest whole number above that share."""
        return self.population * self.percent // 100 + 1 if self.population else 0

    @property
    def share(self) -> float:
        return self.people / self.population if self.population else 0.0


# --- reading --------------------------------------------------------------------------------


def all_programmes() -> list[Programme]:
    """Every programme, by title."""
    return list(db.session.scalars(select(Programme).order_by(Programme.title, Programme.id)))


def by_slug(slug: str) -> Programme | None:
    """The programme with this slug, or None."""
    return db.session.scalar(select(Programme).where(Programme.slug == slug))


def sole_programme() -> Programme | None:
    """The programme, when there is exactly one (where old links without a programme go)."""
    found = db.session.scalars(select(Programme).limit(2)).all()
    return found[0] if len(found) == 1 else None


def eligible_municipalities(programme: Programme) -> ColumnElement[bool]:
    """The programme's eligibility as an SQL condition on Municipality."""
    return eligible_condition(programme)


def is_eligible(programme: Programme, municipality: Municipality) -> bool:
    """Whether the municipality is part of the programme's campaign."""
    return eligible(programme, municipality)


def goal(programme: Programme) -> Goal:
    """The programme's goal, from its own eligibility and the current register."""
    municipalities, population = db.session.execute(
        select(
            func.count(Municipality.number), func.coalesce(func.sum(Municipality.population), 0)
        ).where(eligible_municipalities(programme))
    ).one()
    return Goal(municipalities, int(population or 0), programme.goal_percent)


def days_left(programme: Programme, today: date) -> int:
    """Days from `today` to the declaration deadline (0 on the last day and after it)."""
    return max((programme.declarations_due - today).days, 0)


def is_late(programme: Programme, signed_on: date) -> bool:
    """A declaration received after the deadline still counts, but is shown as late."""
    return signed_on > programme.declarations_due


# --- changing -------------------------------------------------------------------------------


def validate(fields: ProgrammeFields, programme: Programme | None = None) -> dict[str, str]:
    """Field errors for these values (empty when they can be saved)."""
    errors: dict[str, str] = {}
    if not SLUG_PATTERN.match(fields.slug or ""):
        errors["slug"] = _l("Bruk bare små bokstaver a–z, sifre og bindestrek, f.eks. akson.")
    elif by_slug(fields.slug) not in (None, programme):
        errors["slug"] = _slug_taken(fields.slug)
    if not 1 <= fields.goal_percent <= 99:
        errors["goal_percent"] = _l("Velg en andel fra 1 til 99 prosent.")
    return errors


def _slug_taken(slug: str):
    return _l("Adressen «%(slug)s» er allerede i bruk. Velg en annen.", slug=slug)


def create_programme(fields: ProgrammeFields) -> Programme:
    """Create a programme (no events yet)."""
    errors = validate(fields)
    if errors:
        raise InvalidProgramme(errors)
    try:
        with write_transaction():
            programme = Programme(**fields.model_values())
            db.session.add(programme)
    except IntegrityError:
        raise InvalidProgramme({"slug": _slug_taken(fields.slug)}) from None
    return programme


def update_programme(programme: Programme, fields: ProgrammeFields) -> None:
    """Save an organiser's edit of the programme."""
    errors = validate(fields, programme)
    if errors:
        raise InvalidProgramme(errors)
    try:
        with write_transaction():
            for key, value in fields.model_values().items():
                setattr(programme, key, value)
    except IntegrityError:
        raise InvalidProgramme({"slug": _slug_taken(fields.slug)}) from None


def set_events(programme: Programme, event_ids: list[int]) -> None:
    """Make exactly these events the programme's (an event belongs to one programme at most)."""
    with write_transaction():
        db.session.execute(
            update(Event)
            .where(Event.programme_id == programme.id, Event.id.not_in(event_ids or [-1]))
            .values(programme_id=None)
        )
        if event_ids:
            db.session.execute(
                update(Event).where(Event.id.in_(event_ids)).values(programme_id=programme.id)
            )
        db.session.expire(programme, ["events"])


def event_ids(programme: Programme) -> list[int]:
    """The ids of the programme's events, in any status."""
    return list(db.session.scalars(select(Event.id).where(Event.programme_id == programme.id)))


def public_events(programme: Programme) -> list[Event]:
    """The programme's published and cancelled events, by start (what its public feed lists)."""
    return list(
        db.session.scalars(
            select(Event)
            .where(
                Event.programme_id == programme.id,
                Event.status.in_((Event.PUBLISHED, Event.CANCELLED)),
            )
            .order_by(Event.starts_at)
        )
    )
