"""Municipality coverage: which eligible municipalities have someone registered, and how many
inhabitants they hold, against the goal of more than half of the eligible population.

Everything is counted by the database with aggregate queries: a municipality is reached when
at least one registration to one of the events in scope is active (confirmed or waitlisted).
Anonymised registrations still count; they keep their municipality for exactly this.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, false, func, or_, select

from .exports import neutralise
from .extensions import db
from .models import Event, Municipality, Registration
from .registrations import ACTIVE, eligible_condition


@dataclass
class Figures:
    """Counts for a set of municipalities: all eligible ones and those reached."""

    municipalities: int
    reached: int
    population: int
    reached_population: int

    @property
    def goal(self) -> int:
        """More than half of the inhabitants: the smallest whole number above half."""
        return self.population // 2 + 1

    @property
    def share(self) -> float:
        """The reached share of the population, 0 to 1."""
        return self.reached_population / self.population if self.population else 0.0

    @property
    def goal_share(self) -> float:
        return self.goal / self.population if self.population else 0.0

    @property
    def goal_reached(self) -> bool:
        return self.population > 0 and self.reached_population >= self.goal

    @property
    def to_goal(self) -> int:
        """Inhabitants still missing to reach the goal."""
        return max(self.goal - self.reached_population, 0)


@dataclass
class CountyFigures(Figures):
    number: str = ""
    name: str = ""


@dataclass
class Missing:
    """A municipality not reached yet."""

    number: str
    name: str
    county_name: str
    population: int
    health_region: str


def programme_events() -> list[Event]:
    """The whole programme: every published event."""
    return list(
        db.session.scalars(
            select(Event).where(Event.status == Event.PUBLISHED).order_by(Event.starts_at)
        )
    )


def eligible(events: Sequence[Event]) -> ColumnElement[bool]:
    """Municipalities eligible for at least one of the events (their union)."""
    if not events:
        return false()
    return or_(*[eligible_condition(event) for event in events])


def _reached(events: Sequence[Event]):
    """The municipalities with an active registration to one of the events, as a subquery."""
    return (
        select(Registration.municipality_number.label("number"))
        .where(
            Registration.event_id.in_([event.id for event in events]),
            Registration.status.in_(ACTIVE),
        )
        .distinct()
        .subquery("reached")
    )


def _aggregates(reached):
    is_reached = reached.c.number.is_not(None)
    return (
        func.count(Municipality.number),
        func.sum(case((is_reached, 1), else_=0)),
        func.coalesce(func.sum(Municipality.population), 0),
        func.sum(case((is_reached, Municipality.population), else_=0)),
    )


def _figures(row, cls=Figures, **extra):
    municipalities, reached, population, reached_population = row
    return cls(
        municipalities=municipalities or 0,
        reached=reached or 0,
        population=population or 0,
        reached_population=reached_population or 0,
        **extra,
    )


def totals(events: Sequence[Event]) -> Figures:
    """Eligible and reached municipalities and inhabitants, in one query."""
    reached = _reached(events)
    row = db.session.execute(
        select(*_aggregates(reached))
        .select_from(Municipality)
        .outerjoin(reached, reached.c.number == Municipality.number)
        .where(eligible(events))
    ).one()
    return _figures(row)


def by_county(events: Sequence[Event]) -> list[CountyFigures]:
    """The same figures for each county with eligible municipalities, by county number."""
    reached = _reached(events)
    rows = db.session.execute(
        select(Municipality.county_number, Municipality.county_name, *_aggregates(reached))
        .select_from(Municipality)
        .outerjoin(reached, reached.c.number == Municipality.number)
        .where(eligible(events))
        .group_by(Municipality.county_number, Municipality.county_name)
        .order_by(Municipality.county_number)
    ).all()
    return [_figures(row[2:], CountyFigures, number=row[0], name=row[1]) for row in rows]


def missing(events: Sequence[Event]) -> list[Missing]:
    """Eligible municipalities nobody has registered from, largest population first."""
    reached = _reached(events)
    rows = db.session.execute(
        select(
            Municipality.number,
            Municipality.name,
            Municipality.county_name,
            Municipality.population,
            Municipality.health_region,
        )
        .select_from(Municipality)
        .outerjoin(reached, reached.c.number == Municipality.number)
        .where(eligible(events), reached.c.number.is_(None))
        .order_by(Municipality.population.desc(), Municipality.name, Municipality.number)
    ).all()
    return [Missing(*row) for row in rows]


def missing_csv(rows: Sequence[Missing], headers: Sequence[str], delimiter: str = ",") -> bytes:
    """The municipalities not reached as CSV: UTF-8 with BOM, formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([neutralise(header) for header in headers])
    for row in rows:
        # Population stays a bare number so the spreadsheet can sum and sort it.
        writer.writerow(
            (
                neutralise(row.number),
                neutralise(row.name),
                neutralise(row.county_name),
                row.population,
                neutralise(row.health_region),
            )
        )
    return buffer.getvalue().encode("utf-8")
