"""Questions to the organisers, asked when registering: store, list, count, answer, forget.

A question belongs to its registration and is personal data like the name: it is shown to
organisers only (never on a public page, in a feed or in a mail to anyone), and it goes
when the registration is anonymised. A repeat registration with a new question adds it to
the registration that exists (the form answers the same either way).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, func, select, update

from .db import write_transaction
from .extensions import db
from .models import Event, Municipality, Question, Registration, utcnow

#: The longest question the form takes, in characters.
MAX_LENGTH = 1000
#: Questions on one page of the organisers' list.
PAGE_SIZE = 100
#: Questions kept per registration: a repeat registration adds one, but not without end.
MAX_PER_REGISTRATION = 5

OPEN = "open"
ANSWERED = "answered"
#: The views of the list: open, answered, or every question ("").
STATES = (OPEN, ANSWERED)


def ask(registration: Registration, text: str, now: datetime | None = None) -> Question | None:
    """Add a question to the registration, inside the caller's transaction.

    Nothing is added for an empty text, a text the registration asked already, or once it
    has MAX_PER_REGISTRATION questions. Returns the new question or None.
    """
    text = (text or "").strip()
    if not text:
        return None
    if registration.id is not None:
        asked = db.session.scalars(
            select(Question.text).where(Question.registration_id == registration.id)
        ).all()
        if text in asked or len(asked) >= MAX_PER_REGISTRATION:
            return None
    question = Question(
        registration=registration,
        event_id=registration.event.id,
        text=text[:MAX_LENGTH],
        asked_at=now or utcnow(),
    )
    db.session.add(question)
    return question


@dataclass(frozen=True)
class Counts:
    """How many of an event's questions are open and answered."""

    open: int = 0
    answered: int = 0

    @property
    def total(self) -> int:
        return self.open + self.answered


def counts(event: Event) -> Counts:
    """The event's questions, open and answered (anonymised registrations have none left)."""
    answered = Question.answered_at.is_not(None)
    row = db.session.execute(
        select(
            func.count().filter(~answered),
            func.count().filter(answered),
        ).where(Question.event_id == event.id)
    ).one()
    return Counts(open=row[0] or 0, answered=row[1] or 0)


#: What the list and the exports show of each question, in this order.
COLUMNS = (
    Question.id,
    Question.text,
    Question.asked_at,
    Question.answered_at,
    Registration.name,
    Registration.email,
    Registration.role,
    Registration.municipality_number,
    Municipality.name.label("municipality_name"),
    Municipality.county_name,
    Registration.organisation,
    Registration.status,
)


def _listed(event: Event, state: str = "") -> Select:
    query = (
        select(*COLUMNS)
        .join(Registration, Registration.id == Question.registration_id)
        .join(Municipality, Municipality.number == Registration.municipality_number)
        .where(Question.event_id == event.id)
    )
    if state == OPEN:
        query = query.where(Question.answered_at.is_(None))
    elif state == ANSWERED:
        query = query.where(Question.answered_at.is_not(None))
    return query.order_by(Question.asked_at, Question.id)


def rows(event: Event, state: str = "") -> list:
    """The event's questions, oldest first, with who asked (open, answered, or all)."""
    return list(db.session.execute(_listed(event, state)).all())


def page(event: Event, state: str = "", number: int = 1) -> list:
    """One page (PAGE_SIZE) of `rows`."""
    offset = (max(number, 1) - 1) * PAGE_SIZE
    return list(db.session.execute(_listed(event, state).limit(PAGE_SIZE).offset(offset)).all())


def of_event(event: Event, question_id: int) -> Question | None:
    """The question with this id if it was asked about the event."""
    question = db.session.get(Question, question_id)
    if question is None or question.event_id != event.id:
        return None
    return question


def mark(question: Question, answered: bool, now: datetime | None = None) -> None:
    """Mark the question answered (keeping when it first was) or open again."""
    with write_transaction():
        db.session.execute(
            update(Question)
            .where(Question.id == question.id)
            .values(
                answered_at=(func.coalesce(Question.answered_at, now or utcnow()))
                if answered
                else None
            )
            .execution_options(synchronize_session=False)
        )
        db.session.expire(question, ["answered_at"])


def forget(registration_ids: Iterable[int]) -> None:
    """Delete the questions of these registrations (anonymising; inside its transaction)."""
    ids = list(registration_ids)
    if ids:
        db.session.execute(delete(Question).where(Question.registration_id.in_(ids)))
