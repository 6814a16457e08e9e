"""Questions to the organisers: asked with a registration, counted, answered, and forgotten
when the registration is anonymised."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from webinars import questions, registrations
from webinars.extensions import db
from webinars.models import Question, Registration, utcnow

PERSON = {"name": "Kari Nordmann", "role": "ordforer", "municipality": "0301"}


def register(event, address="kari@kommune.no", **fields):
    return registrations.register(event, **{**PERSON, "email": address, **fields})


def texts(registration: Registration) -> list[str]:
    return list(
        db.session.scalars(
            select(Question.text)
            .where(Question.registration_id == registration.id)
            .order_by(Question.id)
        )
    )


def test_a_question_is_stored_with_the_registration_and_its_event(ctx, create_event):
    event = create_event()
    registration, _ = register(event, question="Hva koster Akson?")
    (question,) = db.session.scalars(select(Question)).all()
    assert (question.registration_id, question.event_id) == (registration.id, event.id)
    assert question.text == "Hva koster Akson?" and question.answered_at is None


def test_no_question_no_row(ctx, create_event):
    register(create_event(), question="  ")
    assert db.session.scalar(select(func.count()).select_from(Question)) == 0


def test_a_repeat_adds_a_new_question_once_and_not_without_end(ctx, create_event):
    event = create_event()
    registration, _ = register(event, question="Første")
    register(event, question="Første")  # the same text again: nothing new
    for n in range(10):
        register(event, "KARI@kommune.no", question=f"Nummer {n}")
    assert texts(registration) == ["Første", "Nummer 0", "Nummer 1", "Nummer 2", "Nummer 3"]
    assert len(texts(registration)) == questions.MAX_PER_REGISTRATION


def test_an_organiser_can_add_someone_with_their_question(ctx, create_event):
    event = create_event()
    registration, _ = registrations.add_by_organiser(
        event, email="ola@kommune.no", question="Spurt på telefon", **PERSON
    )
    assert texts(registration) == ["Spurt på telefon"]


def test_counts_rows_and_marking(ctx, create_event):
    event, other = create_event(), create_event()
    register(event, question="En")
    register(event, "ola@kommune.no", question="To")
    register(other, question="Et annet arrangement")
    assert questions.counts(event) == questions.Counts(open=2, answered=0)

    first = questions.of_event(event, questions.rows(event)[0].id)
    questions.mark(first, answered=True)
    assert first.answered_at is not None
    assert questions.counts(event) == questions.Counts(open=1, answered=1)
    assert [row.text for row in questions.rows(event, questions.OPEN)] == ["To"]
    assert [row.text for row in questions.rows(event, questions.ANSWERED)] == ["En"]
    assert [row.text for row in questions.rows(event)] == ["En", "To"]
    assert questions.counts(event).total == 2

    questions.mark(first, answered=False)
    assert first.answered_at is None
    assert questions.counts(event) == questions.Counts(open=2, answered=0)


def test_of_event_refuses_a_question_of_another_event(ctx, create_event):
    event, other = create_event(), create_event()
    register(other, question="Hos et annet arrangement")
    question_id = questions.rows(other)[0].id
    assert questions.of_event(event, question_id) is None
    assert questions.of_event(event, 12345) is None


def test_anonymising_deletes_the_questions_with_the_personal_data(ctx, create_event):
    start = utcnow() - timedelta(days=400)
    old = create_event(
        starts_at=start + timedelta(days=14), ends_at=start + timedelta(days=14, hours=1)
    )
    recent = create_event()
    register(old, now=start, question="Et gammelt spørsmål med navnet mitt i")
    kept, _ = register(recent, question="Et nytt spørsmål")

    assert registrations.anonymise_old_registrations(utcnow()) == 1

    assert questions.counts(old).total == 0
    assert [q.text for q in db.session.scalars(select(Question))] == ["Et nytt spørsmål"]
    assert texts(kept) == ["Et nytt spørsmål"]
