"""The municipality register: the 2020 list ships with the package; newer lists can be loaded.
The choices forms offer from it are built here, once per register version.

Each municipality also has its official language form (bokmål, nynorsk or neutral), set by
organisers or loaded with the register (an optional `language` column); a nynorsk
municipality's people are written to in nynorsk unless they chose a language themselves.
"""

import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

from flask_babel import get_locale
from sqlalchemy import ColumnElement, and_, bindparam, func, select

from .db import execute, read_memo, write_transaction
from .extensions import db
from .models import Municipality

REGISTER_2020 = "kommuner-2020.csv"
#: The Sami and Kven forms of the register's names, with their languages (ISO 639-3).
NAME_FORMS = "name-forms.csv"
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


class Choices:
    """The municipalities one eligibility rule offers, as a form's choices, built once.

    Shared by every request of the process that asks for the same register, rule and
    language: read-only.
    """

    __slots__ = ("options",)

    def __init__(self, options: list[tuple]):
        #: (number, label, attributes) by name, as WTForms takes them (see `options`).
        self.options = tuple(options)


# --- eligibility: which municipalities a rule admits ----------------------------------------


class Eligibility(Protocol):
    """What names eligible municipalities: an event, or a programme for its campaign."""

    @property
    def region_list(self) -> list[str]: ...

    @property
    def county_list(self) -> list[str]: ...


class Facts(Protocol):
    """What the rules ask of a municipality: a Municipality, or a row of `facts`."""

    number: str
    active: bool
    health_region: str
    county_number: str
    language: str


def _eligibility(event: Eligibility) -> list[tuple[str, list[str]]]:
    """The rule: for each municipality column, the values allowed (empty: any)."""
    return [("health_region", event.region_list), ("county_number", event.county_list)]


def eligible(event: Eligibility, municipality: Facts) -> bool:
    """Whether the municipality may register for the event (or is in a programme's campaign)."""
    return bool(municipality.active) and all(
        not allowed or getattr(municipality, column) in allowed
        for column, allowed in _eligibility(event)
    )


def eligible_condition(event: Eligibility) -> ColumnElement[bool]:
    """The same rule as an SQL condition on Municipality."""
    return and_(
        Municipality.active,
        *[
            getattr(Municipality, column).in_(allowed)
            for column, allowed in _eligibility(event)
            if allowed
        ],
    )


def facts(number: str) -> Facts | None:
    """The register's row for `number` (the columns the rules read), or None: one prebuilt
    Core statement, once per read transaction (the form and then the service ask for it).
    Not an ORM object: loading one costs five times as much."""
    if not (len(number) == 4 and number.isdigit()):
        return None
    memo = read_memo("municipality_facts")
    if memo is not None and number in memo:
        return memo[number]
    row = execute(_FACTS, {"number": number}).first()
    memo = read_memo("municipality_facts")  # this read may have begun the transaction
    if memo is not None:
        memo[number] = row
    return row


def offered(eligibility: Eligibility, number: str) -> Facts | None:
    """The municipality `number` names if it is one of the choices the rule offers (active
    and eligible), else None."""
    found = facts(number)
    if found is None or not eligible(eligibility, found):
        return None
    return found


#: One row, read by every form: the register changes only by a load, which moves the count
#: or the latest `updated_at` (a retired row is updated, never deleted).
_TABLE = Municipality.__table__
_VERSION = select(func.count(_TABLE.c.number), func.max(_TABLE.c.updated_at))
_FACTS = select(
    *(_TABLE.c[name] for name in ("number", "active", "health_region", "county_number", "language"))
).where(_TABLE.c.number == bindparam("number"))

#: Built choices, by register version, eligibility rule and language.
_CHOICES: dict[tuple, Choices] = {}


def register_version() -> tuple:
    """What identifies the register as it is now: its number of rows and latest change."""
    # On the session's connection, as plain Core: the ORM's execution adds nothing here.
    return tuple(execute(_VERSION).one())


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
        found = Choices(options(rows))
        if len(_CHOICES) >= 64:  # rules and languages are few; old register versions go
            _CHOICES.clear()
        _CHOICES[key] = found
    return found


# --- the municipality picker ------------------------------------------------------------------

#: Letters Unicode does not decompose into a base letter and a mark, written as people type
#: them on a keyboard without them. static/picker.js folds a query with the same table.
_FOLD = str.maketrans({"æ": "ae", "ø": "o", "đ": "d", "ŋ": "n", "ŧ": "t", "ʒ": "z", "ß": "ss"})
#: Norwegian alphabetical order: æ, ø, å after z (code points put å before æ and ø).
_SORT = str.maketrans({"æ": "{", "ø": "|", "å": "}"})
#: A parenthesis at the end of a name: the register's own suffix ("Herøy (Nordland)").
_SUFFIX = re.compile(r"\s*\(([^()]*)\)$")


class Named(Protocol):
    """What a choice is made of: a Municipality or a row with these columns."""

    number: str
    name: str
    county_name: str


@dataclass(frozen=True)
class Choice:
    """One municipality in the picker: the select's value and label, and what finds it."""

    number: str
    #: The Norwegian name first, the other forms after it, the county once.
    label: str
    #: Every name form folded for matching (lower case, no diacritics), "|" between forms.
    search: str
    #: The option's attributes: the search data static/picker.js reads.
    attributes: dict[str, str] = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "attributes", {"data-search": self.search})


def fold(text: str) -> str:
    """Lower case without diacritics, punctuation as spaces: what the picker compares."""
    decomposed = unicodedata.normalize("NFD", text.lower().translate(_FOLD))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", bare.translate(_FOLD)).split())


@cache
def name_languages() -> dict[str, str]:
    """Sami and Kven name forms -> their language, read once per process."""
    data = resources.files("webinars.data").joinpath(NAME_FORMS).read_text("utf-8")
    return {row["name"]: row["language"] for row in csv.DictReader(data.splitlines())}


def name_forms(name: str) -> list[str]:
    """The forms of a register name, Norwegian first: "Deatnu - Tana" -> ["Tana", "Deatnu"].

    The register writes bilingual names in their official order, often Sami first; people
    look for the Norwegian one, and a select's type-ahead matches from the first letter.
    A suffix in parentheses stays with the Norwegian form.
    """
    match = _SUFFIX.search(name)
    suffix = match.group(0) if match else ""
    forms = [form.strip() for form in name[: len(name) - len(suffix)].split(" - ")]
    other = name_languages()
    # sorted() is stable: the Norwegian form moves first, the others keep their order.
    forms = sorted(forms, key=lambda form: form in other)
    forms[0] += suffix
    return forms


@lru_cache(maxsize=1024)
def choice(number: str, name: str, county: str) -> Choice:
    """The picker's option for one municipality, built once per process for each register name."""
    forms = name_forms(name)
    match = _SUFFIX.search(forms[0])
    label = " – ".join(forms)
    if not (match and match.group(1).strip() == county):  # "Herøy (Nordland)" has its county
        label = f"{label} ({county})"
    search = "|".join(fold(_SUFFIX.sub("", form)) for form in forms)
    return Choice(number, label, search)


def _sort_key(item: Choice) -> str:
    decomposed = unicodedata.normalize("NFD", item.label.casefold().translate(_SORT))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def choices(municipalities: Iterable[Named]) -> list[Choice]:
    """The picker's options for these municipalities, in Norwegian alphabetical order of label."""
    return sorted((choice(m.number, m.name, m.county_name) for m in municipalities), key=_sort_key)


def options(municipalities: Iterable[Named]) -> list[tuple[str, str, dict[str, str]]]:
    """A select's options for these municipalities: (number, label, attributes), as WTForms
    takes them. The one place their labels and search data are built; the same in every
    language (names are names)."""
    return [(c.number, c.label, c.attributes) for c in choices(municipalities)]
