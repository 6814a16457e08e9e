"""A file of signed declarations: `municipality,signed_on[,signed_by]`, one row each.

Every row is checked first; bad rows are reported by their line number (the header is line
1) and stored nowhere. A good row records an accepted declaration, or updates the date and
signer of the one the municipality has, so loading a file again changes nothing. Dates after
the deadline are taken, and counted as late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from . import csvfiles
from .db import write_transaction
from .declarations import accepted_of
from .extensions import db
from .models import Declaration, Municipality, Programme, utcnow
from .programmes import eligible_municipalities

COLUMNS = {
    "municipality": ("municipality", "kommunenummer", "kommunenr", "kommune"),
    "signed_on": ("signed_on", "signert", "dato", "signert dato", "mottatt"),
    "signed_by": ("signed_by", "signert av", "signert_av", "underskriver"),
}


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: object


@dataclass
class Loaded:
    """What loading a declarations file did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    late: int = 0
    bad: list[BadRow] = field(default_factory=list)


DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y")


def parse_day(value: str) -> date | None:
    """A date as organisers write it: 2020-06-30, 30.06.2020, 30.6.20 or 30/06/2020."""
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
    return None


def load(programme: Programme, data: bytes, *, by: str) -> Loaded:
    """Record the good rows of a `municipality,signed_on[,signed_by]` file; report the bad."""
    text = csvfiles.decode(data)
    records = csvfiles.records(text)
    header = next(((n, cells) for n, cells in records if any(cells)), None)
    if header is None:
        raise csvfiles.FileError(_l("Filen er tom."))
    where = csvfiles.columns(header[1], COLUMNS, ("municipality", "signed_on"))
    eligible = set(
        db.session.scalars(select(Municipality.number).where(eligible_municipalities(programme)))
    )
    result = Loaded()
    good: list[tuple[int, str, date, str]] = []
    seen: dict[str, int] = {}
    for line, cells in records:
        if not any(cells):
            continue
        values = {key: cells[index] if index < len(cells) else "" for key, index in where.items()}
        number = values["municipality"]
        number = number.zfill(4) if number.isdigit() and len(number) <= 4 else number
        day = parse_day(values["signed_on"])
        if number not in eligible:
            reason = _l(
                "kommune «%(number)s» er ikke med i kampanjen", number=values["municipality"]
            )
        elif day is None:
            reason = _l("ugyldig dato «%(day)s» (skriv ÅÅÅÅ-MM-DD)", day=values["signed_on"])
        elif number in seen:
            reason = _l("samme kommune som linje %(line)d", line=seen[number])
        else:
            seen[number] = line
            good.append((line, number, day, " ".join(values.get("signed_by", "").split())[:200]))
            continue
        result.bad.append(BadRow(line, reason))
    now = utcnow()
    with write_transaction():
        for _line, number, day, signed_by in good:
            current = accepted_of(programme, number)
            if current is None:
                db.session.add(
                    Declaration(
                        programme_id=programme.id,
                        municipality_number=number,
                        status=Declaration.ACCEPTED,
                        signed_on=day,
                        signed_by_name=signed_by,
                        source="file",
                        recorded_by=by,
                        recorded_at=now,
                        decided_by=by,
                        decided_at=now,
                    )
                )
                result.added += 1
            elif (current.signed_on, current.signed_by_name) == (
                day,
                signed_by or current.signed_by_name,
            ):
                result.unchanged += 1
            else:
                current.signed_on = day
                current.signed_by_name = signed_by or current.signed_by_name
                result.updated += 1
            result.late += day > programme.declarations_due
    return result
