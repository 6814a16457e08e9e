"""The municipality register: the 2020 list ships with the package; newer lists can be loaded.

Each municipality also has its official language form (bokmål, nynorsk or neutral), set by
organisers or loaded with the register (an optional `language` column); a nynorsk
municipality's people are written to in nynorsk unless they chose a language themselves.
"""

import csv
from importlib import resources
from pathlib import Path

from sqlalchemy import func, select

from .db import write_transaction
from .extensions import db
from .models import Municipality

REGISTER_2020 = "kommuner-2020.csv"
#: Eligibility rules name these (the Akson meeting: every region but Midt-Norge).
HEALTH_REGIONS = ("Nord", "Midt-Norge", "Vest", "Sør-Øst")
COLUMNS = {"number", "name", "county_number", "county_name", "population_2020", "health_region"}
#: The optional column with the official language form, and the values it takes: the keys,
#: or their Norwegian labels in either written form (any letter case).
LANGUAGE_COLUMN = "language"
LANGUAGE_VALUES = {
    "nb": Municipality.BOKMAL,
    "bokmål": Municipality.BOKMAL,
    "nn": Municipality.NYNORSK,
    "nynorsk": Municipality.NYNORSK,
    "neutral": Municipality.NEUTRAL,
    "nøytral": Municipality.NEUTRAL,
}
#: Municipalities per page on the organisers' list.
PAGE_SIZE = 100


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
    has_language = LANGUAGE_COLUMN in (reader.fieldnames or ())
    rows, seen, bad_languages = [], set(), []
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
        fields = {
            "number": number,
            "name": row["name"],
            "county_number": row["county_number"].zfill(2),
            "county_name": row["county_name"],
            "population": people,
            "health_region": row["health_region"],
        }
        # An empty cell leaves the language form as it is (neutral for a new municipality).
        label = row.get(LANGUAGE_COLUMN, "") if has_language else ""
        if label:
            language = LANGUAGE_VALUES.get(label.lower())
            if language is None:
                bad_languages.append(f"line {line}: language {label!r}")
            else:
                fields["language"] = language
        rows.append(fields)
    if bad_languages:
        # Every bad language cell at once, so one round of corrections is enough.
        raise RegisterError(
            f"{'; '.join(bad_languages)}: the language must be nb, nn or neutral "
            "(or bokmål, nynorsk, nøytral)"
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


def mail_language(language_form: str | None) -> str:
    """The language to write to a municipality's people in when they chose none.

    Nynorsk municipalities get nynorsk; bokmål and neutral ones bokmål (a neutral form
    leaves the choice to the writer, and bokmål is every page's and mail's default).
    """
    return "nn" if language_form == Municipality.NYNORSK else "nb"


def page(county: str = "", language: str = "", number: int = 1) -> tuple[list[Municipality], int]:
    """A page of the active municipalities by county and name, and how many match in all."""
    conditions = [Municipality.active]
    if county:
        conditions.append(Municipality.county_number == county)
    if language:
        conditions.append(Municipality.language == language)
    total = db.session.scalar(select(func.count()).select_from(Municipality).where(*conditions))
    rows = db.session.scalars(
        select(Municipality)
        .where(*conditions)
        .order_by(Municipality.county_number, Municipality.name)
        .limit(PAGE_SIZE)
        .offset((number - 1) * PAGE_SIZE)
    ).all()
    return list(rows), total or 0


def language_counts() -> dict[str, int]:
    """Active municipalities per language form (every form listed, zero included)."""
    found = dict(
        db.session.execute(
            select(Municipality.language, func.count())
            .where(Municipality.active)
            .group_by(Municipality.language)
        ).all()
    )
    return {form: found.get(form, 0) for form in Municipality.LANGUAGE_FORMS}


class LanguageError(ValueError):
    """A language form that cannot be set: `numbers` names the municipalities concerned."""

    def __init__(self, numbers: list[str]):
        self.numbers = numbers
        super().__init__(f"not a language form, or no such municipality: {', '.join(numbers)}")


def set_languages(forms: dict[str, str]) -> int:
    """Set official language forms by municipality number, all or none; returns how many
    changed. Unknown or retired numbers and values other than nb, nn, neutral are refused."""
    with write_transaction():
        found = {
            m.number: m
            for m in db.session.scalars(
                select(Municipality).where(Municipality.number.in_(list(forms)))
            )
        }
        bad = [
            number
            for number, language in forms.items()
            if language not in Municipality.LANGUAGE_FORMS
            or number not in found
            or not found[number].active
        ]
        if bad:
            raise LanguageError(sorted(bad))
        changed = 0
        for number, language in forms.items():
            if found[number].language != language:
                found[number].language = language
                changed += 1
    return changed


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


def active_choices() -> list[Municipality]:
    """Every municipality of the current register, by name (the forms filter by event)."""
    return list(
        db.session.scalars(
            select(Municipality).where(Municipality.active).order_by(Municipality.name)
        )
    )
