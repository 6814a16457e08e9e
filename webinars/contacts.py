"""Contacts: the people to reach in each municipality, from a file or because they registered.

A contacts file has the columns `municipality,name,role,email` (or the Norwegian
`kommunenummer,navn,rolle,e-post`), comma- or semicolon-separated. Every row is checked
first; bad rows are reported by their line number (the header is line 1) and stored nowhere,
good rows are stored. A contact is known by their address: loading again updates, never
duplicates. Someone who registers becomes a contact too (source "registered") unless the
address is known already.

A contact is written to (invitations, their reminders, the declaration link) in the language
they chose themselves, which is the language of the pages they last registered on, for any
event; someone who never registered chose none and gets their municipality's official
language form: nynorsk for a nynorsk municipality, bokmål otherwise.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from . import csvfiles, municipalities
from .db import dialect, execute, write_transaction
from .extensions import db
from .models import ROLES, Contact, Municipality, Registration, utcnow
from .validators import Undeliverable, deliverable

#: Accepted header names per column; the first is the one named in messages.
COLUMNS = {
    "municipality": ("municipality", "kommunenummer", "kommunenr", "kommune"),
    "name": ("name", "navn"),
    "role": ("role", "rolle"),
    "email": ("email", "e-post", "epost", "e-mail", "e-postadresse"),
}
REQUIRED = ("municipality", "name", "role", "email")
PAGE_SIZE = 100


def _role_names() -> dict[str, str]:
    """Every accepted way to write a role (key, label, each part of "A/B"), lower case."""
    names = {}
    for key, label in ROLES.items():
        names[key] = key
        names[label.lower()] = key
        for part in label.split("/"):
            names[part.strip().lower()] = key
    return names


ROLE_NAMES = _role_names()


@dataclass(frozen=True)
class Row:
    """A good row of a contacts file."""

    line: int
    municipality: str
    name: str
    role: str
    email: str


@dataclass(frozen=True)
class BadRow:
    """A row that was not stored, and why."""

    line: int
    reason: object


@dataclass
class Loaded:
    """What loading a file did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.added + self.updated + self.unchanged


def _has_format_characters(text: str) -> bool:
    # Bidirectional overrides (U+202E) and other format characters can disguise a name.
    return any(unicodedata.category(ch) == "Cf" for ch in text)


def read(data: bytes) -> tuple[list[Row], list[BadRow]]:
    """Check every row of a contacts file; raises csvfiles.FileError if none can be read."""
    text = csvfiles.decode(data)
    records = csvfiles.records(text)
    header = next(((n, cells) for n, cells in records if any(cells)), None)
    if header is None:
        raise csvfiles.FileError(_l("Filen er tom."))
    where = csvfiles.columns(header[1], COLUMNS, REQUIRED)
    known = set(db.session.scalars(select(Municipality.number).where(Municipality.active)))
    good: list[Row] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    for line, cells in records:
        if not any(cells):
            continue
        values = {key: cells[index] if index < len(cells) else "" for key, index in where.items()}
        row, reason = _check(line, values, known, seen)
        if reason is not None:
            bad.append(BadRow(line, reason))
        else:
            seen[row.email] = line
            good.append(row)
    if not good and not bad:
        raise csvfiles.FileError(_l("Filen har bare overskriftslinjen og ingen kontakter."))
    return good, bad


def _check(line: int, values: dict[str, str], known: set[str], seen: dict[str, int]):
    """A Row, or the reason the row is bad."""
    number = values["municipality"]
    if number.isdigit() and len(number) <= 4:
        number = number.zfill(4)
    if number not in known:
        return None, _l("ukjent kommunenummer «%(number)s»", number=values["municipality"])
    name = " ".join(values["name"].split())
    if not name:
        return None, _l("navnet mangler")
    if len(name) > 200 or _has_format_characters(name):
        return None, _l("navnet er for langt eller har ugyldige tegn")
    role = ROLE_NAMES.get(values["role"].lower())
    if role is None:
        return None, _l(
            "ukjent rolle «%(role)s» (bruk en av: %(roles)s)",
            role=values["role"],
            roles=", ".join(ROLES),
        )
    try:
        email = deliverable(values["email"])
    except Undeliverable:
        return None, _l("ugyldig e-postadresse «%(email)s»", email=values["email"])
    if len(email) > 254:
        return None, _l("ugyldig e-postadresse «%(email)s»", email=values["email"])
    if email in seen:
        return None, _l("samme e-postadresse som linje %(line)d", line=seen[email])
    return Row(line, number, name, role, email), None


def load(data: bytes) -> Loaded:
    """Store the good rows of a contacts file (new ones added, known addresses updated)."""
    good, bad = read(data)
    result = Loaded(bad=bad)
    with write_transaction():
        known = {
            contact.email: contact
            for contact in db.session.scalars(
                select(Contact).where(Contact.email.in_([row.email for row in good]))
            )
        }
        for row in good:
            contact = known.get(row.email)
            if contact is None:
                db.session.add(
                    Contact(
                        municipality_number=row.municipality,
                        name=row.name,
                        role=row.role,
                        email=row.email,
                        source=Contact.IMPORTED,
                    )
                )
                result.added += 1
                continue
            values = {
                "municipality_number": row.municipality,
                "name": row.name,
                "role": row.role,
                "source": Contact.IMPORTED,
            }
            if all(getattr(contact, key) == value for key, value in values.items()):
                result.unchanged += 1
                continue
            for key, value in values.items():
                setattr(contact, key, value)
            result.updated += 1
    return result


#: Built once: the language of an address's latest registration (a seek on its index).
_LATEST_LANGUAGE = (
    select(Registration.locale)
    .where(Registration.email == bindparam("email"), Registration.anonymised_at.is_(None))
    .order_by(Registration.created_at.desc(), Registration.id.desc())
    .limit(1)
)


def mail_language(contact: Contact) -> str:
    """The language to write to a contact in: their own choice, else their municipality's."""
    chosen = db.session.scalar(_LATEST_LANGUAGE, {"email": contact.email})
    return chosen or municipalities.mail_language(contact.municipality.language)


def note_registrant(*, name: str, email: str, role: str, municipality: str) -> None:
    """Someone registered: they become a contact, unless their address is known already."""
    now = utcnow()
    execute(
        _note_statement(dialect()),
        {
            "municipality_number": municipality,
            "name": name,
            "role": role,
            "email": email,
            "created_at": now,
            "updated_at": now,
        },
    )


@cache
def _note_statement(dialect: str):
    """The insert-unless-known of a registrant, built once per dialect (every registration)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Contact.__table__
    columns = ("municipality_number", "name", "role", "email", "created_at", "updated_at")
    return (
        insert(table)
        .values({**{column: bindparam(column) for column in columns}, "source": Contact.REGISTERED})
        .on_conflict_do_nothing(index_elements=["email"])
    )


def forget_registrants(emails: list[str]) -> None:
    """Contacts known only from registrations that have now been anonymised are deleted."""
    if emails:
        db.session.execute(
            Contact.__table__.delete().where(
                Contact.source == Contact.REGISTERED, Contact.email.in_(emails)
            )
        )


def unsubscribe(contact: Contact) -> bool:
    """The contact gets no more invitations; False if they had opted out already."""
    with write_transaction():
        db.session.refresh(contact, with_for_update=True)
        if contact.unsubscribed_at is not None:
            return False
        contact.unsubscribed_at = utcnow()
    return True


def page(*, county: str = "", municipality: str = "", number: int = 1):
    """One page of contacts (by municipality name, then name) and how many match in all."""
    query = select(Contact, Municipality).join(
        Municipality, Municipality.number == Contact.municipality_number
    )
    if county:
        query = query.where(Municipality.county_number == county)
    if municipality:
        query = query.where(Contact.municipality_number == municipality)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(Municipality.name, Contact.name, Contact.id)
        .limit(PAGE_SIZE)
        .offset((max(number, 1) - 1) * PAGE_SIZE)
    ).all()
    return rows, total or 0


def counts() -> dict[str, int]:
    """Contacts in all, how many municipalities they cover, and how many opted out."""
    total, places, opted_out = db.session.execute(
        select(
            func.count(Contact.id),
            func.count(Contact.municipality_number.distinct()),
            func.count(Contact.unsubscribed_at),
        )
    ).one()
    return {"contacts": total, "municipalities": places, "unsubscribed": opted_out}
