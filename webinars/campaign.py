"""Where a programme's campaign stands: each municipality's step, the goal, the funnel, the
counties, whom to call next and the figures over time.

Each eligible municipality moves through steps, and the furthest one it has reached counts:
not invited → invited (a contact got an invitation to one of the programme's events) →
registered (someone from it has an active registration to one) → attended (a loaded
participant report lists someone from it) → signed (an accepted declaration). This module
is the only place that computes reach; one query gives every municipality's flags, the rest
is arithmetic over the ~350 rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from .extensions import db
from .models import (
    ROLES,
    Contact,
    Declaration,
    Event,
    Invitation,
    Municipality,
    Programme,
    Registration,
)
from .programmes import Goal, days_left, eligible_municipalities, goal
from .registrations import ACTIVE
from .timeline import Timeline, timeline

NOT_INVITED = "not_invited"
INVITED = "invited"
REGISTERED = "registered"
ATTENDED = "attended"
SIGNED = "signed"
#: The steps in order, with what organisers call them.
STEP_LABELS = {
    NOT_INVITED: _l("Ikke invitert"),
    INVITED: _l("Invitert"),
    REGISTERED: _l("Påmeldt"),
    ATTENDED: _l("Deltok"),
    SIGNED: _l("Signert"),
}
STEPS = tuple(STEP_LABELS)
#: What the funnel's first row is called: every eligible municipality.
ELIGIBLE_LABEL = _l("Kan signere")


@dataclass
class Place:
    """One active municipality and how far it has come in the programme's campaign."""

    number: str
    name: str
    county_number: str
    county_name: str
    population: int
    eligible: bool
    invited: bool
    registered: bool
    attended: bool
    signed_on: date | None

    @property
    def signed(self) -> bool:
        return self.signed_on is not None

    @property
    def step(self) -> str:
        """The furthest step reached (signed beats everything before it)."""
        if self.signed:
            return SIGNED
        if self.attended:
            return ATTENDED
        if self.registered:
            return REGISTERED
        return INVITED if self.invited else NOT_INVITED

    @property
    def rank(self) -> int:
        return STEPS.index(self.step)


@dataclass
class Stage:
    """A row of the funnel: municipalities that reached at least this step, and their people."""

    step: str
    label: object
    municipalities: int
    population: int


@dataclass
class Standing:
    """The goal card: signed population against the goal, and the days left."""

    goal: Goal
    signed: int
    signed_population: int
    days_left: int

    @property
    def share(self) -> float:
        population = self.goal.population
        return self.signed_population / population if population else 0.0

    @property
    def reached(self) -> bool:
        return self.goal.population > 0 and self.signed_population >= self.goal.people

    @property
    def to_goal(self) -> int:
        """Inhabitants still missing to reach the goal."""
        return max(self.goal.people - self.signed_population, 0)


@dataclass
class County:
    """The funnel's figures for one county's eligible municipalities."""

    number: str
    name: str
    municipalities: int = 0
    population: int = 0
    #: Municipalities that reached at least each step, by step.
    reached: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    signed_population: int = 0

    @property
    def share(self) -> float:
        return self.signed_population / self.population if self.population else 0.0


@dataclass
class Person:
    """A contact as the call list shows them."""

    name: str
    role: str
    email: str
    unsubscribed: bool


@dataclass
class Call:
    """An unsigned eligible municipality to call, with its people and what it would close."""

    place: Place
    contacts: list[Person]
    #: The share of the remaining gap to the goal this municipality alone would close (0–1).
    closes: float


# --- the municipalities and their steps -----------------------------------------------------


def places(programme: Programme) -> list[Place]:
    """Every active municipality with its campaign flags, by number (one query)."""
    ids = [row for row in db.session.scalars(select(Event.id).where(Event.programme == programme))]
    here = Registration.municipality_number == Municipality.number
    of_programme = Registration.event_id.in_(ids)
    invited = exists(
        select(Invitation.id)
        .join(Contact, Contact.id == Invitation.contact_id)
        .where(Contact.municipality_number == Municipality.number, Invitation.event_id.in_(ids))
    )
    registered = exists(
        select(Registration.id).where(here, of_programme, Registration.status.in_(ACTIVE))
    )
    attended = exists(
        select(Registration.id).where(
            here, of_programme, Registration.attended_minutes.is_not(None)
        )
    )
    signed = (
        select(Declaration.municipality_number, Declaration.signed_on)
        .where(Declaration.programme_id == programme.id, Declaration.status == Declaration.ACCEPTED)
        .subquery("signed")
    )
    rows = db.session.execute(
        select(
            Municipality.number,
            Municipality.name,
            Municipality.county_number,
            Municipality.county_name,
            Municipality.population,
            eligible_municipalities(programme),
            invited,
            registered,
            attended,
            signed.c.signed_on,
        )
        .outerjoin(signed, signed.c.municipality_number == Municipality.number)
        .where(Municipality.active)
        .order_by(Municipality.number)
    ).all()
    return [
        Place(number, name, county, county_name, people or 0, *map(bool, flags), signed_on)
        for number, name, county, county_name, people, *flags, signed_on in rows
    ]


def standing(programme: Programme, rows: list[Place], today: date) -> Standing:
    """Signed municipalities and inhabitants against the programme's goal."""
    signed = [place for place in rows if place.eligible and place.signed]
    return Standing(
        goal=goal(programme),
        signed=len(signed),
        signed_population=sum(place.population for place in signed),
        days_left=days_left(programme, today),
    )


def funnel(rows: list[Place]) -> list[Stage]:
    """Eligible → invited → registered → attended → signed, as municipalities and people."""
    eligible = [place for place in rows if place.eligible]
    stages = [Stage("eligible", ELIGIBLE_LABEL, len(eligible), sum(p.population for p in eligible))]
    for rank, step in enumerate(STEPS[1:], start=1):
        reached = [place for place in eligible if place.rank >= rank]
        stages.append(
            Stage(step, STEP_LABELS[step], len(reached), sum(p.population for p in reached))
        )
    return stages


def by_county(rows: list[Place]) -> list[County]:
    """The funnel for each county with eligible municipalities, by county number."""
    counties: dict[str, County] = {}
    for place in rows:
        if not place.eligible:
            continue
        county = counties.get(place.county_number)
        if county is None:
            county = counties[place.county_number] = County(place.county_number, place.county_name)
        county.municipalities += 1
        county.population += place.population
        for step in STEPS[1 : place.rank + 1]:
            county.reached[step] += 1
        if place.signed:
            county.signed_population += place.population
    return [counties[number] for number in sorted(counties)]


# --- whom to call next ----------------------------------------------------------------------


def calls(
    programme: Programme, rows: list[Place], current: Standing, contacts_for: int | None = None
) -> list[Call]:
    """Eligible municipalities that have not signed, largest population first, with contacts
    (for the first `contacts_for` of them only, when given: a page shows only those)."""
    waiting = sorted(
        (place for place in rows if place.eligible and not place.signed),
        key=lambda place: (-place.population, place.name, place.number),
    )
    wanted = [place.number for place in waiting[:contacts_for]]
    people: dict[str, list[Person]] = defaultdict(list)
    for number, name, role, email, unsubscribed in db.session.execute(
        select(
            Contact.municipality_number,
            Contact.name,
            Contact.role,
            Contact.email,
            Contact.unsubscribed_at.is_not(None),
        )
        .where(Contact.municipality_number.in_(wanted))
        .order_by(Contact.municipality_number, Contact.name, Contact.email)
    ):
        people[number].append(Person(name, role, email, bool(unsubscribed)))
    gap = current.to_goal
    return [
        Call(place, people.get(place.number, []), min(place.population, gap) / gap if gap else 0.0)
        for place in waiting
    ]


# --- the whole page -------------------------------------------------------------------------


@dataclass
class Overview:
    """Everything the campaign page shows, from one look at the database."""

    places: list[Place]
    standing: Standing
    funnel: list[Stage]
    counties: list[County]
    calls: list[Call]
    timeline: Timeline


def overview(programme: Programme, today: date, contacts_for: int | None = None) -> Overview:
    """The campaign's figures as of `today` (the programme's local date)."""
    rows = places(programme)
    current = standing(programme, rows, today)
    return Overview(
        places=rows,
        standing=current,
        funnel=funnel(rows),
        counties=by_county(rows),
        calls=calls(programme, rows, current, contacts_for),
        timeline=timeline(programme, rows, today),
    )


def call_table(rows: list[Call]) -> tuple[list[str], list[list]]:
    """The call list as export columns in the reader's language (headers, rows)."""
    yes, no, opted_out = _("ja"), _("nei"), _("avmeldt")
    # Translated once each, not once a row: the file has thousands of contacts.
    roles = {key: _(label) for key, label in ROLES.items()}
    steps = {key: str(label) for key, label in STEP_LABELS.items()}
    headers = [
        _("Kommunenummer"),
        _("Kommune"),
        _("Fylke"),
        _("Innbyggere"),
        _("Trinn"),
        _("Invitert"),
        _("Påmeldt"),
        _("Deltok"),
        _("Andel av det som mangler til målet"),
        _("Kontakter"),
    ]
    table = []
    for call in rows:
        place = call.place
        people = "; ".join(
            f"{person.name} ({roles.get(person.role, person.role)}) <{person.email}>"
            + (f" [{opted_out}]" if person.unsubscribed else "")
            for person in call.contacts
        )
        table.append(
            [
                place.number,
                place.name,
                place.county_name,
                place.population,
                steps[place.step],
                yes if place.invited else no,
                yes if place.registered else no,
                yes if place.attended else no,
                round(call.closes, 4),
                people,
            ]
        )
    return headers, table
