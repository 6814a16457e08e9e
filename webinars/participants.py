"""Who registered for an event: counts, the filtered list, and the rows the exports stream.

The list page and both exports build their query from the same `Filters`, so an export
always contains exactly what the organiser was looking at.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.engine import Engine, Row

from .extensions import db
from .models import ROLES, Event, Municipality, Registration
from .registrations import STATUS_LABELS

PAGE_SIZE = 100

#: The export columns, in order; `export_select` returns rows shaped like this.
EXPORT_COLUMNS = (
    Registration.name,
    Registration.email,
    Registration.role,
    Registration.municipality_number,
    Municipality.name.label("municipality_name"),
    Municipality.county_name,
    Registration.organisation,
    Registration.status,
    Registration.created_at,
    Registration.attended_minutes,
)

# Capitals beyond ASCII that Norwegian names use; SQLite's lower() leaves them as they are.
_NON_ASCII_CAPITALS = "ÆØÅÄÖÜÉÈÁ"


@dataclass(frozen=True)
class Filters:
    """What the organiser searched for; empty strings mean "any"."""

    q: str = ""
    municipality: str = ""
    county: str = ""
    role: str = ""
    status: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        """Read filters from query parameters (or a form), dropping values that cannot match."""

        def get(name: str, limit: int) -> str:
            return " ".join(str(args.get(name) or "").split())[:limit]

        status = get("status", 20)
        role = get("role", 40)
        return cls(
            q=get("q", 200),
            municipality=get("municipality", 4),
            county=get("county", 2),
            role=role if role in ROLES else "",
            status=status if status in STATUS_LABELS else "",
        )

    def as_args(self) -> dict[str, str]:
        """The non-empty filters, for building URLs that show the same list."""
        return {key: value for key, value in asdict(self).items() if value}

    @property
    def active(self) -> bool:
        return bool(self.as_args())


def _matches(column: ColumnElement, word: str, dialect: str) -> ColumnElement:
    """Case-insensitive "column contains word", Norwegian letters included, on both databases."""
    if dialect != "sqlite":
        return column.icontains(word, autoescape=True)
    if word.isascii():
        # SQLite's LIKE ignores ASCII case by itself, and an ASCII word never spans a
        # non-ASCII letter, so no folding is needed (much faster on large lists).
        return column.contains(word, autoescape=True)
    # SQLite's lower() and LIKE fold ASCII only: fold by hand the other capitals the word
    # can meet (only those whose small letter it contains).
    folded = column
    for capital in _NON_ASCII_CAPITALS:
        if capital.lower() in word:
            folded = func.replace(folded, capital, capital.lower())
    return func.lower(folded).contains(word, autoescape=True)


def _conditions(event_id: int, filters: Filters, dialect: str) -> list[ColumnElement]:
    conditions: list[ColumnElement] = [Registration.event_id == event_id]
    # Every word must appear in the name, the e-mail or the organisation.
    for word in filters.q.lower().split():
        conditions.append(
            or_(
                _matches(Registration.name, word, dialect),
                # Addresses are stored in lower case.
                Registration.email.contains(word, autoescape=True),
                _matches(Registration.organisation, word, dialect),
            )
        )
    if filters.municipality:
        conditions.append(Registration.municipality_number == filters.municipality)
    if filters.county:
        conditions.append(Municipality.county_number == filters.county)
    if filters.role:
        conditions.append(Registration.role == filters.role)
    if filters.status:
        conditions.append(Registration.status == filters.status)
    return conditions


def _joined(*columns, event_id: int, filters: Filters, dialect: str) -> Select:
    return (
        select(*columns)
        .select_from(Registration)
        .join(Municipality, Municipality.number == Registration.municipality_number)
        .where(and_(*_conditions(event_id, filters, dialect)))
    )


def export_select(event_id: int, filters: Filters, dialect: str) -> Select:
    """The filtered registrations as plain rows in EXPORT_COLUMNS order, oldest first."""
    return _joined(*EXPORT_COLUMNS, event_id=event_id, filters=filters, dialect=dialect).order_by(
        Registration.id
    )


def stream_rows(
    engine: Engine, event_id: int, filters: Filters, batch: int = 2000
) -> Iterator[Row]:
    """Yield export rows from their own connection, `batch` at a time (server-side on PostgreSQL).

    The connection opens on the first row and closes when the iteration ends or is closed,
    so a generator response can use it after the view has returned.
    """
    statement = export_select(event_id, filters, engine.dialect.name)
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch).execute(
            statement
        )
        try:
            yield from result
        finally:
            # Also when the client went away mid-download: close the server-side cursor.
            result.close()


def page(event: Event, filters: Filters, number: int = 1) -> tuple[list[Row], int]:
    """One page of the filtered list (with registration ids) and how many match in all."""
    dialect = db.engine.dialect.name
    listed = _joined(
        Registration.id,
        *EXPORT_COLUMNS,
        Municipality.county_number,
        event_id=event.id,
        filters=filters,
        dialect=dialect,
    )
    total = db.session.scalar(select(func.count()).select_from(listed.subquery()))
    rows = db.session.execute(
        listed.order_by(Registration.id).limit(PAGE_SIZE).offset((max(number, 1) - 1) * PAGE_SIZE)
    ).all()
    return rows, total or 0


def filter_choices(event: Event) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The municipalities and counties that occur among the event's registrations."""
    municipalities = db.session.execute(
        select(Municipality.number, Municipality.name)
        .where(
            Municipality.number.in_(
                select(Registration.municipality_number).where(Registration.event_id == event.id)
            )
        )
        .order_by(Municipality.name)
    ).all()
    counties = db.session.execute(
        select(Municipality.county_number, Municipality.county_name)
        .where(
            Municipality.number.in_(
                select(Registration.municipality_number).where(Registration.event_id == event.id)
            )
        )
        .distinct()
        .order_by(Municipality.county_name)
    ).all()
    return [tuple(row) for row in municipalities], [tuple(row) for row in counties]


def registration_of(event: Event, registration_id: int) -> Registration | None:
    """The registration with this id if it belongs to the event."""
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id:
        return None
    return registration
