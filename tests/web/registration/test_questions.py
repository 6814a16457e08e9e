"""The question to the organisers on the public form: optional, at most 1,000 characters
(said next to the field), the names' hygiene against control and format characters, and
never shown back on a public page."""

import html
import re

import pytest
from sqlalchemy import func, select

from tests.support import deliver, html_part, text_part, within
from webinars.extensions import db
from webinars.models import Question, Registration


def field_error(page, field: str) -> str | None:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page.text, re.S)
    return html.unescape(match.group(1)) if match else None


def stored(app) -> list[tuple[str, str]]:
    """(e-mail, question) for every stored question."""
    with within(app):
        return [
            tuple(row)
            for row in db.session.execute(
                select(Registration.email, Question.text)
                .join(Question.registration)
                .order_by(Question.id)
            )
        ]


def registrations(app) -> int:
    with within(app):
        return db.session.scalar(select(func.count()).select_from(Registration))


@pytest.fixture
def event(create_event):
    return create_event()


def test_the_form_offers_an_optional_question_with_its_limit(client, event):
    page = client.get(f"/events/{event.slug}")
    assert re.search(r'<textarea[^>]*\bname="question"', page.text)
    assert "Spørsmål til arrangørene (valgfritt)" in page.text
    assert "Høyst 1\u00a0000 tegn. Bare arrangørene ser spørsmålet." in page.text
    # No maxlength: a browser would cut a pasted text short without a word.
    assert not re.search(r'<textarea[^>]*id="question"[^>]*maxlength', page.text)


def test_a_question_is_stored_with_the_registration_line_breaks_as_typed(app, register, event):
    response = register(event.slug, question="Hva koster Akson?\r\n\r\nOg hvem betaler?  ")
    assert response.status_code == 303
    assert stored(app) == [("kari@kommune.no", "Hva koster Akson?\n\nOg hvem betaler?")]


def test_no_question_stores_none(app, register, event):
    assert register(event.slug, question="   \r\n ").status_code == 303
    assert registrations(app) == 1
    assert stored(app) == []


def test_1000_characters_are_taken_counted_as_characters(app, register, event):
    # 1,000 characters, most of them two UTF-16 units or four UTF-8 bytes each.
    text = "Æ" + "😀" * 998 + "?"
    assert register(event.slug, question=text).status_code == 303
    assert stored(app) == [("kari@kommune.no", text)]


def test_a_longer_question_is_refused_next_to_the_field(app, register, event):
    page = register(event.slug, question="å" * 1001)
    assert page.status_code == 422
    assert (
        field_error(page, "question") == "Teksten er 1001 tegn. Kort den ned til høyst 1000 tegn."
    )
    # What was typed comes back, so nothing is lost.
    assert "å" * 1001 in page.text
    assert registrations(app) == 0


@pytest.mark.parametrize("character", ["\u202e", "\u2066", "\u200b", "\ufeff"])
def test_format_characters_are_refused_as_in_names(app, register, event, character):
    page = register(event.slug, question=f"Hvem {character}betaler?")
    assert page.status_code == 422
    assert "usynlige formateringstegn" in field_error(page, "question")
    assert registrations(app) == 0


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f"])
def test_control_characters_are_refused(app, register, event, character):
    page = register(event.slug, question=f"Hvem{character} betaler?")
    assert page.status_code == 422
    assert field_error(page, "question") == "Feltet kan ikke inneholde kontrolltegn."
    assert registrations(app) == 0


def test_a_repeat_registration_adds_its_question_and_answers_the_same(app, register, event):
    first = register(event.slug, question="Første spørsmål")
    again = register(event.slug, email="KARI@kommune.no", question="Et spørsmål til")
    same = register(event.slug, question="Første spørsmål")

    assert first.headers["Location"] == again.headers["Location"] == same.headers["Location"]
    assert registrations(app) == 1
    assert stored(app) == [
        ("kari@kommune.no", "Første spørsmål"),
        ("kari@kommune.no", "Et spørsmål til"),
    ]


def test_a_question_appears_on_no_public_page_and_in_no_mail(
    mail_app, smtp, client, register, event
):
    secret = "Hemmelig spørsmål om budsjettet"
    register(event.slug, question=secret)
    register(event.slug, email="ola@kommune.no")
    assert deliver(mail_app) == 2

    for path in ("/", f"/events/{event.slug}", f"/events/{event.slug}/registered", "/calendar.ics"):
        assert secret not in client.get(path).get_data(as_text=True), path
    mails = [message for _envelope, message in smtp.messages]
    assert len(mails) == 2
    assert all(secret not in text_part(message) for message in mails)
    assert all(secret not in html_part(message) for message in mails)
