"""The municipality register (the 2020 list ships with the package; newer lists can be loaded)
and the choices forms offer from it."""

import csv
from importlib import resources
from pathlib import Path

from flask_babel import get_locale
from sqlalchemy import func, select

from .extensions import db
from .models import Municipality
from .registrations import Eligibility, eligible, eligible_condition

REGISTER_2020 = "kommuner-2020.csv"
#: Eligibility rules name these (the Akson meeting: every region but Midt-Norge).
HEALTH_REGIONS = ("Nord", "Midt-Norge", "Vest", "Sør-Øst")
COLUMNS = {"number", "name", "county_number", "county_name", "population_2020", "health_region"}


class RegisterError(ValueError):
    """The file is not a municipality register we can read."""


def read_register(path: Path | None = None) -> list[dict]:
    """Rows of a register CSV (the shipped 2020 one when no path is given), checked."""
    try:
        if path is None:
            data = resources.files("webinars.data").joinpath(REGISTER_2020).read_text("utf-8-sig")
        else:
            data = Path(path).read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Excel's "CSV" is often Windows-1252; guessing would garble names like Bø and Våler.
        raise RegisterError(f"the file is not UTF-8 ({exc.reason}); save it as CSV UTF-8") from exc
    reader = csv.DictReader(data.splitlines())
    missing = COLUMNS - set(reader.fieldnames or ())
    population = "population_2020"
    if missing == {"population_2020"} and "population" in (reader.fieldnames or ()):
        population, missing = "population", set()
    if missing:
        raise RegisterError(f"missing columns: {', '.join(sorted(missing))}")
    rows, seen = [], set()
    for line, raw in enumerate(reader, start=2):
        # A short line leaves fields as None; treat them as empty and let the checks speak.
        row = {key: (value or "").strip() for key, value in raw.items() if key}
        number = row["number"].zfill(4)
        if not (number.isdigit() and len(number) == 4):
            raise RegisterError(f"line {line}: {row['number']!r} is not a 4-digit number")
        if number in seen:
            raise RegisterError(f"line {line}: municipality {number} is listed twice")
        seen.add(number)
        if not row["name"]:
            raise RegisterError(f"line {line}: municipality {number} has no name")
        if row["health_region"] not in HEALTH_REGIONS:
            raise RegisterError(
                f"line {line}: health region {row['health_region']!r} is not one of "
                f"{', '.join(HEALTH_REGIONS)}"
            )
        try:
            people = int(row[population] or 0)
        except ValueError as exc:
            raise RegisterError(f"line {line}: population {row[population]!r}") from exc
        rows.append(
            {
                "number": number,
                "name": row["name"],
                "county_number": row["county_number"].zfill(2),
                "county_name": row["county_name"],
                "population": people,
                "health_region": row["health_region"],
            }
        )
    if not rows:
        raise RegisterError("the file lists no municipalities")
    return rows


def load_register(path: Path | None = None) -> tuple[int, int, int]:
    """Insert new, update known and retire vanished municipalities (in the caller's write).

    Retired ones stay in the table, so registrations that point to them stay intact.
    Returns (added, updated, retired).
    """
    rows = read_register(path)
    known = {m.number: m for m in db.session.scalars(select(Municipality))}
    added = updated = 0
    for row in rows:
        current = known.pop(row["number"], None)
        if current is None:
            db.session.add(Municipality(active=True, **row))
            added += 1
            continue
        changed = False
        for key, value in row.items():
            if getattr(current, key) != value:
                setattr(current, key, value)
                changed = True
        if not current.active:
            current.active = changed = True
        updated += changed
    retired = 0
    for gone in known.values():
        if gone.active:
            gone.active = False
            retired += 1
    return added, updated, retired


def region_and_county_choices() -> tuple[list[str], list[tuple[str, str]]]:
    """The health regions and counties of the active register, for eligibility checkboxes."""
    found = set(
        db.session.scalars(select(Municipality.health_region).where(Municipality.active).distinct())
    )
    regions = [r for r in HEALTH_REGIONS if r in found] + sorted(found - set(HEALTH_REGIONS))
    counties = db.session.execute(
        select(Municipality.county_number, Municipality.county_name)
        .where(Municipality.active)
        .distinct()
        .order_by(Municipality.county_number)
    ).all()
    return regions, [(number, name) for number, name in counties]


class Choices:
    """The municipalities one eligibility rule offers, as a form's choices, built once.

    Shared by every request of the process that asks for the same register, rule and
    language: read-only.
    """

    __slots__ = ("options",)

    def __init__(self, options: list[tuple]):
        #: (number, label) pairs by name, as WTForms takes them (see `choice`).
        self.options = tuple(options)


def offered(eligibility: Eligibility, number: str) -> Municipality | None:
    """The municipality `number` names if it is one of the choices the rule offers (active
    and eligible), else None: one row, by primary key. Keep it while the request needs it:
    the session holds it only as long as someone does, and the service reads it again."""
    if not (len(number) == 4 and number.isdigit()):
        return None
    municipality = db.session.get(Municipality, number)
    if municipality is None or not eligible(eligibility, municipality):
        return None
    return municipality


def choice(municipality: Municipality) -> tuple[str, str]:
    """One municipality as a choice of a form: its number and the label people pick."""
    return municipality.number, f"{municipality.name} ({municipality.county_name})"


#: One row, read by every form: the register changes only by a load, which moves the count
#: or the latest `updated_at` (a retired row is updated, never deleted).
_TABLE = Municipality.__table__
_VERSION = select(func.count(_TABLE.c.number), func.max(_TABLE.c.updated_at))

#: Built choices, by register version, eligibility rule and language.
_CHOICES: dict[tuple, Choices] = {}


def register_version() -> tuple:
    """What identifies the register as it is now: its number of rows and latest change."""
    # On the session's connection, as plain Core: the ORM's execution adds nothing here.
    return tuple(db.session.connection().execute(_VERSION).one())


def offered_choices(eligibility: Eligibility) -> Choices:
    """The active municipalities the rule lets register, by name, as choices.

    Built once per process for each register version, rule and language, then reused: the
    event page and the registration form offer ~300 of them on every request. One cheap
    query per call checks the register, so a load by any other process is seen at once.
    """
    key = (
        register_version(),
        tuple(eligibility.region_list),
        tuple(eligibility.county_list),
        str(get_locale() or "nb"),
    )
    found = _CHOICES.get(key)
    if found is None:
        rows = db.session.scalars(
            select(Municipality).where(eligible_condition(eligibility)).order_by(Municipality.name)
        )
        found = Choices([choice(municipality) for municipality in rows])
        if len(_CHOICES) >= 64:  # rules and languages are few; old register versions go
            _CHOICES.clear()
        _CHOICES[key] = found
    return found
