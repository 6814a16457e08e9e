"""The organisers' page of an event's questions: counts, open and answered, marking them
(CSRF-protected POSTs), and the exports (CSV and XLSX, like the participant exports)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from tests.support import form_token, within
from webinars import questions
from webinars.extensions import db
from webinars.models import Question

BOM = "\ufeff"


@pytest.fixture
def event(create_event):
    start = datetime(2030, 5, 5, 12, tzinfo=UTC)
    return create_event(
        slug="akson-stormote",
        title="Akson stormøte",
        starts_at=start,
        ends_at=start + timedelta(hours=1, minutes=30),
    )


@pytest.fixture
def asked(event, create_registration):
    """Two questions: Kari's (from Oslo) and Ola's (from Bergen)."""
    create_registration(event, "kari@kommune.no", name="Kari", question="Hva koster det?")
    create_registration(
        event,
        "ola@kommune.no",
        name="Ola",
        municipality="4601",
        question='=HYPERLINK("http://evil.test")\nlinje to',
    )
    return event


def question_ids(app) -> dict[str, int]:
    with within(app):
        return {q.registration.name: q.id for q in db.session.scalars(select(Question))}


def answered(app) -> dict[str, bool]:
    with within(app):
        return {
            q.registration.name: q.answered_at is not None
            for q in db.session.scalars(select(Question))
        }


def mark(client, slug: str, question_id: int, value: str, **extra):
    token = form_token(client.get(f"/organiser/events/{slug}/questions?state=all").text)
    data = {"answered": value, "csrf_token": token, **extra}
    return client.post(f"/organiser/events/{slug}/questions/{question_id}", data=data)


def test_the_event_page_links_to_the_questions_with_counts(signed_in, asked):
    page = signed_in.get(f"/organiser/events/{asked.slug}")
    assert re.search(
        rf'href="/organiser/events/{asked.slug}/questions">Spørsmål \(2 åpne, 0 besvart\)',
        page.text,
    )


def test_the_list_shows_open_questions_with_who_asked(signed_in, asked):
    page = signed_in.get(f"/organiser/events/{asked.slug}/questions")
    assert page.status_code == 200
    assert "Hva koster det?" in page.text
    # Escaped, line breaks kept (shown with white-space: pre-wrap).
    assert "=HYPERLINK(&#34;http://evil.test&#34;)\nlinje to" in page.text
    assert "kari@kommune.no" in page.text and "Bergen" in page.text
    assert re.search(r"<dt>Åpne</dt><dd>2</dd>", page.text)
    assert page.text.count("Merk som besvart") == 2


def test_marking_answered_and_open_again(app, signed_in, asked):
    ids = question_ids(app)

    response = mark(signed_in, asked.slug, ids["Kari"], "yes", state="open")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/events/{asked.slug}/questions?state=open")
    assert answered(app) == {"Kari": True, "Ola": False}
    page = signed_in.get(response.headers["Location"])
    assert "Spørsmålet er merket som besvart." in page.text
    assert "Hva koster det?" not in page.text  # the open list no longer has it
    assert re.search(r"<dt>Besvart</dt><dd>1</dd>", page.text)

    done = signed_in.get(f"/organiser/events/{asked.slug}/questions?state=answered")
    assert "Hva koster det?" in done.text and "Merk som ubesvart" in done.text

    mark(signed_in, asked.slug, ids["Kari"], "no")
    assert answered(app) == {"Kari": False, "Ola": False}


def test_marking_again_keeps_when_it_was_first_answered(app, signed_in, asked):
    kari = question_ids(app)["Kari"]
    mark(signed_in, asked.slug, kari, "yes")
    with within(app):
        first = db.session.get(Question, kari).answered_at
    mark(signed_in, asked.slug, kari, "yes")
    with within(app):
        assert db.session.get(Question, kari).answered_at == first


def test_marking_needs_the_csrf_token(app, signed_in, asked):
    kari = question_ids(app)["Kari"]
    response = signed_in.post(
        f"/organiser/events/{asked.slug}/questions/{kari}", data={"answered": "yes"}
    )
    assert response.status_code == 400
    assert answered(app)["Kari"] is False


def test_a_question_of_another_event_is_404(app, signed_in, asked, create_event):
    other = create_event()
    kari = question_ids(app)["Kari"]
    assert mark(signed_in, other.slug, kari, "yes").status_code == 404
    assert mark(signed_in, asked.slug, 2**31, "yes").status_code == 404
    assert answered(app)["Kari"] is False


def test_everything_needs_a_login(client, asked):
    for path in ("questions", "questions.csv", "questions.xlsx"):
        response = client.get(f"/organiser/events/{asked.slug}/{path}")
        assert response.status_code == 302
        assert "/organiser/login" in response.headers["Location"]
    response = client.post(f"/organiser/events/{asked.slug}/questions/1", data={"answered": "yes"})
    assert response.status_code in (302, 400)


def test_an_event_without_questions_says_so(signed_in, event):
    page = signed_in.get(f"/organiser/events/{event.slug}/questions")
    assert "Ingen har stilt spørsmål ennå." in page.text


HEADER = [
    "Navn",
    "E-post",
    "Rolle",
    "Kommunenummer",
    "Kommune",
    "Fylke",
    "Organisasjon",
    "Status",
    "Spørsmål",
    "Stilt",
    "Besvart",
    "Markert besvart",
    "Arrangement",
    "Arrangementsdato",
]


def test_csv_export_like_the_participant_export(app, signed_in, asked):
    mark(signed_in, asked.slug, question_ids(app)["Kari"], "yes")

    response = signed_in.get(f"/organiser/events/{asked.slug}/questions.csv?sep=semicolon")

    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="sporsmal-akson-stormote-2030-05-05.csv"'
    )
    text = response.get_data(as_text=True)
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0] == HEADER
    kari, ola = rows[1:]
    assert kari[:3] == ["Kari", "kari@kommune.no", "Ordfører"]
    assert kari[8] == "Hva koster det?"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", kari[9])
    assert kari[10] == "ja" and kari[11]
    assert kari[12:] == ["Akson stormøte", "2030-05-05"]
    # A formula is neutralised; the line break stays inside the (quoted) cell.
    assert ola[8] == '\'=HYPERLINK("http://evil.test")\nlinje to'
    assert (ola[10], ola[11]) == ("nei", "")


def test_xlsx_export_types_its_cells(app, signed_in, asked):
    response = signed_in.get(f"/organiser/events/{asked.slug}/questions.xlsx")

    assert response.headers["Content-Disposition"] == (
        'attachment; filename="sporsmal-akson-stormote-2030-05-05.xlsx"'
    )
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    assert [cell.value for cell in sheet[1]] == HEADER
    ola = sheet[3]
    assert (ola[8].value, ola[8].data_type) == ('=HYPERLINK("http://evil.test")\nlinje to', "s")
    assert ola[8].alignment.wrap_text
    assert ola[9].is_date
    assert ola[3].value == "4601" and ola[3].data_type == "s"
    assert ola[13].is_date and ola[13].value == datetime(2030, 5, 5)
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_exports_are_in_english_for_an_english_reader(signed_in, asked):
    response = signed_in.get(f"/organiser/events/{asked.slug}/questions.csv?lang=en")
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True)[1:])))
    assert header[8:12] == ["Question", "Asked", "Answered", "Marked answered"]


def test_a_long_list_comes_in_pages(app, signed_in, event, create_registration, monkeypatch):
    monkeypatch.setattr(questions, "PAGE_SIZE", 2)
    for n in range(5):
        create_registration(event, f"p{n}@kommune.no", name=f"Person {n}", question=f"Spørsmål {n}")

    first = signed_in.get(f"/organiser/events/{event.slug}/questions")
    last = signed_in.get(f"/organiser/events/{event.slug}/questions?page=3")

    assert re.findall(r"Spørsmål (\d)</blockquote>", first.text) == ["0", "1"]
    assert "Side 1 av 3" in first.text
    assert re.findall(r"Spørsmål (\d)</blockquote>", last.text) == ["4"]
    beyond = signed_in.get(f"/organiser/events/{event.slug}/questions?page=9")
    assert "Gå til første side" in beyond.text
