"""Participant reports after an event: Zoom, Microsoft Teams or any CSV with an e-mail column,
matched to the event's registrations by e-mail (ignoring letter case).

- Zoom's webinar attendee report: UTF-8 CSV in sections (`Attendee Details`, `Other
  Attended`, and host and panelists, who are left out); one row per session, so a person
  who rejoined appears more than once and their minutes are summed.
- Teams' attendance report: UTF-16 with a BOM, tab-separated, in sections; `2.
  Participants` has each person's total (`1h 29m 50s`); without it the sessions of `3.
  In-Meeting Activities` are summed. The organiser and dial-in callers (no e-mail) are left out.
- Any other CSV: a header row with an e-mail column, optionally minutes and a name.

A report dated another day than the event is refused (it is most likely another event's),
unless the organiser says it is right. Loading a report replaces the previous one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from . import csvfiles, i18n
from .db import lock_event, write_transaction
from .extensions import db
from .models import AttendanceReport, Event, Registration, utcnow

ZOOM, TEAMS, CSV = "zoom", "teams", "csv"
SOURCE_LABELS = {ZOOM: "Zoom", TEAMS: "Microsoft Teams", CSV: _l("CSV-fil")}
EMAIL_NAMES = ("email", "e-mail", "e-post", "epost", "mail", "email address", "e-postadresse")
MINUTE_NAMES = (
    "time in session (minutes)",
    "minutes",
    "minutter",
    "duration (minutes)",
    "minutes attended",
    "varighet",
    "duration",
    "in-meeting duration",
)
NAME_NAMES = ("name", "navn", "user name (original name)", "full name")
ATTENDED_NAMES = ("attended", "deltok")
ZOOM_ATTENDEES = ("attendee details", "other attended")
ZOOM_SECTIONS = ("host details", "panelist details", *ZOOM_ATTENDEES)
ZOOM_TIMES = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p")
TEAMS_TIMES = ("%m/%d/%y, %I:%M:%S %p", "%m/%d/%Y, %I:%M:%S %p", "%d.%m.%Y, %H:%M:%S")


class AttendanceError(Exception):
    """A report that cannot be loaded; `message` says why, for the organiser."""

    def __init__(self, message):
        self.message = message
        super().__init__(str(message))


class WrongEvent(AttendanceError):
    """The report is dated another day than the event, or matches none of its registrations."""


@dataclass
class Attendee:
    """A person in the report, their sessions summed."""

    email: str
    name: str = ""
    minutes: int = 0
    attended: bool = False


@dataclass
class Report:
    """A participant report as read: where it is from, its date and who was in it."""

    source: str
    title: str = ""
    held_on: date | None = None
    people: dict[str, Attendee] = field(default_factory=dict)

    def add(self, email: str, name: str, minutes: int, attended: bool = True) -> None:
        """One row of the report: a session (or a total) of one person, found by address."""
        email = email.strip().lower()
        if "@" not in email:
            return
        person = self.people.setdefault(email, Attendee(email, name))
        person.minutes += minutes if attended else 0
        person.attended = person.attended or attended
        person.name = person.name or name

    @property
    def attendees(self) -> list[Attendee]:
        return [person for person in self.people.values() if person.attended]


@dataclass
class Loaded:
    """What loading a report did."""

    source: str
    attendees: int
    matched: int
    unmatched: list[dict]


# --- reading the formats --------------------------------------------------------------------


def _number(value: str) -> int:
    """Whole minutes from '42', '42.5' or '--' (nothing)."""
    try:
        return round(float(value.replace(",", ".")))
    except ValueError:
        return 0


_DURATION = re.compile(r"(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?")


def _duration(value: str) -> int:
    """Whole minutes from Teams' '1h 29m 50s', '30m 30s', '10m' (or a plain number)."""
    match = _DURATION.fullmatch(value.strip())
    if not value.strip() or match is None or not any(match.groups()):
        return _number(value)
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return round(hours * 60 + minutes + seconds / 60)


def _day(value: str, patterns: Iterable[str]) -> date | None:
    for pattern in patterns:
        try:
            return datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
    return None


def read(data: bytes) -> Report:
    """A report from a file of any of the three kinds."""
    text = csvfiles.decode(data)
    first = text.lstrip().splitlines()[0].strip().strip(",").lower()
    lines = {line.strip().strip(",\t").lower() for line in text.splitlines()}
    if first == "attendee report" or "attendee details" in lines:
        return _zoom(text)
    if "2. participants" in lines or "1. summary" in lines:
        return _teams(text)
    return _generic(text)


def _zoom(text: str) -> Report:
    report = Report(ZOOM)
    section, header = "summary", None
    for _line, cells in csvfiles.records(text, ","):
        if not any(cells):
            continue
        label = csvfiles.normal(cells[0])
        if label in ZOOM_SECTIONS and not any(cells[1:]):
            section, header = label, None
            continue
        if section == "summary" and label == "topic":
            header = [csvfiles.normal(cell) for cell in cells]
            continue
        if header is None:
            # The report's own title lines ("Attendee Report", "Report Generated:") have none.
            if section != "summary":
                header = [csvfiles.normal(cell) for cell in cells]
            continue
        row = dict(zip(header, cells, strict=False))
        if section == "summary":
            report.title = report.title or row.get("topic", "")
            started = row.get("actual start time", "")
            report.held_on = report.held_on or _day(started, ZOOM_TIMES)
        elif section in ZOOM_ATTENDEES:
            attended = row.get("attended", "yes").lower() == "yes"
            name = row.get("user name (original name)") or " ".join(
                part for part in (row.get("first name", ""), row.get("last name", "")) if part
            )
            report.add(
                row.get("email", ""),
                name,
                _number(row.get("time in session (minutes)", "")),
                attended,
            )
    return report


def _teams(text: str) -> Report:
    report = Report(TEAMS)
    sections: dict[str, list[dict]] = {}
    section, header = "", None
    for _line, cells in csvfiles.records(text, "\t"):
        if not any(cells):
            header = None
            continue
        label = csvfiles.normal(cells[0])
        if re.fullmatch(r"\d+\. .+", label) and not any(cells[1:]):
            section, header = label.split(". ", 1)[1], None
            continue
        if section == "summary":
            key, value = label, cells[1] if len(cells) > 1 else ""
            if key == "meeting title":
                report.title = value
            elif key == "start time":
                report.held_on = _day(value, TEAMS_TIMES)
            continue
        if header is None:
            header = [csvfiles.normal(cell) for cell in cells]
            continue
        sections.setdefault(section, []).append(dict(zip(header, cells, strict=False)))
    rows = sections.get("participants")
    column = "in-meeting duration"
    if rows is None:
        rows, column = sections.get("in-meeting activities", []), "duration"
    for row in rows:
        if row.get("role", "").lower() == "organizer":
            continue
        report.add(row.get("email", ""), row.get("name", ""), _duration(row.get(column, "")))
    return report


def _generic(text: str) -> Report:
    report = Report(CSV)
    records = csvfiles.records(text)
    header = next((cells for _line, cells in records if any(cells)), None) or []
    names = {
        "email": EMAIL_NAMES,
        "minutes": MINUTE_NAMES,
        "name": NAME_NAMES,
        "attended": ATTENDED_NAMES,
    }
    try:
        where = csvfiles.columns(header, names, ("email",))
    except csvfiles.FileError:
        raise AttendanceError(
            _l(
                "Fant ingen kolonne med e-postadresser i første linje. Rapporten må ha en "
                "kolonne som heter «email» eller «e-post»."
            )
        ) from None
    for _line, cells in records:
        value = {key: cells[index] if index < len(cells) else "" for key, index in where.items()}
        attended = value.get("attended", "yes").lower() not in ("no", "nei", "false", "0")
        minutes = _duration(value.get("minutes", "")) if "minutes" in value else 0
        report.add(value["email"], value.get("name", ""), minutes, attended)
    return report


# --- loading --------------------------------------------------------------------------------


def load(
    event: Event, data: bytes, *, filename: str = "", by: str = "", any_date: bool = False
) -> Loaded:
    """Read a report and set each registrant's attendance; it replaces an earlier report."""
    try:
        report = read(data)
    except csvfiles.FileError as exc:
        raise AttendanceError(exc.message) from None
    local_day = event.local_start.date()
    if report.held_on is not None and report.held_on != local_day and not any_date:
        raise WrongEvent(
            _l(
                "Rapporten gjelder et møte %(report_day)s («%(title)s»), men arrangementet var "
                "%(event_day)s. Er du sikker på at det er riktig rapport, kryss av for det og "
                "last den opp igjen.",
                report_day=i18n.long_day(report.held_on),
                title=report.title,
                event_day=i18n.long_day(local_day),
            )
        )
    attendees = report.attendees
    if not attendees:
        raise AttendanceError(_l("Rapporten viser ingen som deltok."))
    with write_transaction():
        lock_event(event)
        found: dict[str, list[int]] = {}
        emails = [person.email for person in attendees]
        for start in range(0, len(emails), 500):
            for registration_id, email in db.session.execute(
                select(Registration.id, Registration.email).where(
                    Registration.event_id == event.id,
                    Registration.email.in_(emails[start : start + 500]),
                )
            ):
                found.setdefault(email, []).append(registration_id)
        if not found and report.held_on is None and not any_date:
            raise WrongEvent(
                _l(
                    "Ingen i rapporten er påmeldt dette arrangementet. Er det rapporten fra et "
                    "annet arrangement? Er du sikker, kryss av for det og last den opp igjen."
                )
            )
        db.session.execute(
            update(Registration)
            .where(Registration.event_id == event.id, Registration.attended_minutes.is_not(None))
            .values(attended_minutes=None)
        )
        changes = [
            {"id": registration_id, "attended_minutes": person.minutes}
            for person in attendees
            for registration_id in found.get(person.email, ())
        ]
        if changes:
            # Bulk UPDATE by primary key: one statement, executed for every row.
            db.session.execute(update(Registration), changes)
        unmatched = [
            {"email": p.email, "name": p.name, "minutes": p.minutes}
            for p in attendees
            if p.email not in found
        ]
        db.session.execute(
            AttendanceReport.__table__.delete().where(AttendanceReport.event_id == event.id)
        )
        db.session.add(
            AttendanceReport(
                event_id=event.id,
                source=report.source,
                filename=filename[:200],
                attendees=len(attendees),
                matched=len(attendees) - len(unmatched),
                unmatched=json.dumps(unmatched, ensure_ascii=False),
                loaded_by=by,
                loaded_at=utcnow(),
            )
        )
    return Loaded(report.source, len(attendees), len(attendees) - len(unmatched), unmatched)


def report_of(event: Event) -> AttendanceReport | None:
    """The report loaded for the event, if any."""
    return db.session.scalar(select(AttendanceReport).where(AttendanceReport.event_id == event.id))


def unmatched_of(report: AttendanceReport) -> list[dict]:
    """The report's attendees who matched no registration."""
    return json.loads(report.unmatched or "[]")


def forget_unmatched(event_ids: list[int]) -> None:
    """Anonymising: the unmatched rows of these events' reports hold names and addresses."""
    if event_ids:
        db.session.execute(
            update(AttendanceReport)
            .where(AttendanceReport.event_id.in_(event_ids))
            .values(unmatched="[]")
        )
