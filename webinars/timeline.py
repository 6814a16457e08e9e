"""A campaign day by day: the signed share of the population against the goal line up to the
deadline, and the registrations made each day to each of the programme's events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from .extensions import db
from .models import Event, Programme, RegistrationCount
from .programmes import goal

if TYPE_CHECKING:
    from .campaign import Place


@dataclass
class Timeline:
    """Day by day from the programme's first day to its deadline (or today, if later)."""

    days: list[date]
    #: The signed share of the eligible population at the end of each day (0–1).
    signed_share: list[float]
    goal_share: float
    deadline: date
    #: New registrations per day, for each event of the programme (title, counts by day).
    registrations: list[tuple[Event, list[int]]]


def timeline(programme: Programme, rows: list[Place], today: date) -> Timeline:
    """The signed share per day against the goal, and registrations per day per event."""
    events = list(
        db.session.scalars(
            select(Event).where(Event.programme == programme).order_by(Event.starts_at)
        )
    )
    ids = [event.id for event in events]
    signed = [(p.signed_on, p.population) for p in rows if p.eligible and p.signed_on]
    firsts = [day for day, _people in signed]
    if events:
        firsts.append(events[0].local_start.date())
        first_registration = db.session.scalar(
            select(func.min(RegistrationCount.day)).where(RegistrationCount.event_id.in_(ids))
        )
        if first_registration is not None:
            firsts.append(first_registration)
    start = min(firsts, default=today)
    end = max([programme.declarations_due, *(day for day, _ in signed)])
    end = max(end, min(today, end + timedelta(days=30)), start)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    current = goal(programme)
    population = current.population or 1
    gained: dict[date, int] = defaultdict(int)
    for day, people in signed:
        gained[day] += people
    shares, total = [], 0
    for day in days:
        total += gained.get(day, 0)
        shares.append(total / population)
    per_day = _registrations_per_day(ids, days)
    series = [(event, per_day.get(event.id, [0] * len(days))) for event in events]
    return Timeline(days, shares, current.share, programme.declarations_due, series)


def _registrations_per_day(event_ids: list[int], days: list[date]) -> dict[int, list[int]]:
    """Registrations made on each day, for each event: counts by event, in day order."""
    counts = {event_id: [0] * len(days) for event_id in event_ids}
    if not days:
        return counts
    first = days[0]
    # Kept per event and day by each registration as it is made: a row a day, not a count.
    for event_id, day, n in db.session.execute(
        select(RegistrationCount.event_id, RegistrationCount.day, RegistrationCount.count).where(
            RegistrationCount.event_id.in_(event_ids)
        )
    ):
        index = (day - first).days
        if 0 <= index < len(days):
            counts[event_id][index] += n
    return counts
