"""Declarations on the organiser pages: record with the PDF (the route takes up to 10 MB),
late ones flagged, non-PDFs and oversized files refused, withdraw, accept, load a file."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import select

from tests.support import MULTIPART, form_token, multipart, within
from webinars import declarations
from webinars.extensions import db
from webinars.models import Declaration, Programme

PDF = b"%PDF-1.7\n" + b"1 0 obj <<>> endobj\n" * 10 + b"%%EOF\n"
PAGE = "/organiser/programmes/akson/declarations"


@pytest.fixture
def akson(create_programme):
    return create_programme()


def record(client, document: bytes | None = None, **fields):
    data = {
        "csrf_token": form_token(client.get(PAGE).text),
        "municipality": "4601",
        "signed_on": "2020-06-12",
        "signed_by_name": "Marte Mjøs Persen",
        "signed_by_role": "Byrådsleder",
        **fields,
    }
    files = {"document": ("erklaering.pdf", document)} if document is not None else {}
    return client.post(PAGE, data=multipart(data, files), content_type=MULTIPART)


def stored(app) -> list[tuple[str, str]]:
    with within(app):
        return [
            (d.municipality_number, d.status)
            for d in db.session.scalars(select(Declaration).order_by(Declaration.id))
        ]


def test_a_declaration_with_its_pdf_is_recorded_and_can_be_downloaded(app, signed_in, akson):
    response = record(signed_in, PDF)

    assert response.status_code == 303
    page = signed_in.get(PAGE).text
    assert "Erklæringen fra Bergen er registrert." in page
    assert stored(app) == [("4601", "accepted")]
    with within(app):
        declaration_id = db.session.scalar(select(Declaration.id))
    download = signed_in.get(f"{PAGE}/{declaration_id}/document.pdf")
    assert download.data == PDF and download.mimetype == "application/pdf"
    assert "erkl" in download.headers["Content-Disposition"]


def test_a_pdf_larger_than_the_service_wide_limit_is_taken_by_this_route(app, signed_in, akson):
    big = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024) + b"\n%%EOF\n"
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # the service-wide limit, as in production

    assert record(signed_in, big).status_code == 303
    assert stored(app) == [("4601", "accepted")]
    # Every other route keeps the service-wide limit.
    other = signed_in.post("/organiser/programmes/new", data={"title": "0" * (2 * 1024 * 1024)})
    assert other.status_code == 413


def test_a_late_declaration_is_recorded_and_shown_as_late(app, signed_in, akson):
    record(signed_in, signed_on="2020-07-03")

    page = signed_in.get(PAGE).text
    assert "Den kom etter fristen, men teller." in page
    assert "for sen" in page
    assert stored(app) == [("4601", "accepted")]


@pytest.mark.parametrize(
    "fields, document, status, message",
    [
        ({"municipality": "5001"}, None, 422, "Kommunen er ikke med i denne kampanjen"),
        ({}, b"PK\x03\x04 a word file", 422, "Filen er ikke en PDF."),
        ({}, b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"%%EOF", 413, "høyst 10 MB"),
    ],
    ids=["not eligible", "not a pdf", "just over 10 MB"],
)
def test_bad_declarations_are_refused_with_a_message(
    app, signed_in, akson, fields, document, status, message
):
    response = record(signed_in, document, **fields)

    assert response.status_code == status
    assert message in response.text
    assert stored(app) == []


def test_an_upload_far_over_the_limit_is_refused_by_its_size(app, signed_in, akson):
    response = record(signed_in, b"%PDF-1.4\n" + b"0" * (12 * 1024 * 1024))

    assert response.status_code == 413 and "høyst 10 MB" in response.text
    assert stored(app) == []


def test_withdrawing_keeps_the_history_and_the_municipality_can_sign_again(app, signed_in, akson):
    record(signed_in)
    with within(app):
        declaration_id = db.session.scalar(select(Declaration.id))
    token = form_token(signed_in.get(PAGE).text)

    signed_in.post(f"{PAGE}/{declaration_id}/withdraw", data={"csrf_token": token})
    assert "Erklæringen fra Bergen er trukket tilbake." in signed_in.get(PAGE).text
    record(signed_in, signed_on="2020-06-20")

    assert stored(app) == [("4601", "withdrawn"), ("4601", "accepted")]
    assert "Trukket tilbake" in signed_in.get(PAGE).text


def test_a_submitted_declaration_is_accepted_on_the_page(app, signed_in, akson, create_contact):
    contact = create_contact("1103")
    with within(app):
        declarations.submit(
            db.session.get(Programme, akson.id),
            contact,
            signed_on=date(2020, 6, 1),
            signed_by_name="Kari Nessa Nordtun",
            signed_by_role="Ordfører",
            document=declarations.Upload("s.pdf", PDF),
        )
        declaration_id = db.session.scalar(select(Declaration.id))
    campaign = signed_in.get("/organiser/programmes/akson").text
    assert "1 erklæring sendt inn av en kommune venter på godkjenning." in campaign

    token = form_token(signed_in.get(PAGE).text)
    signed_in.post(f"{PAGE}/{declaration_id}/accept", data={"csrf_token": token})

    assert stored(app) == [("1103", "accepted")]
    assert "Erklæringen fra Stavanger er godkjent og teller nå." in signed_in.get(PAGE).text


def test_a_declarations_file_lists_its_bad_rows(app, signed_in, akson):
    token = form_token(signed_in.get(PAGE).text)
    data = b"municipality,signed_on\n0301,2020-06-12\n5001,2020-06-12\n"

    response = signed_in.post(
        f"{PAGE}/file",
        data={"csrf_token": token, "file": (io.BytesIO(data), "e.csv")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 200
    assert "Linje 3: kommune «5001» er ikke med i kampanjen" in response.text
    assert stored(app) == [("0301", "accepted")]
