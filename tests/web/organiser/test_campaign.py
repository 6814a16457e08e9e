"""The campaign page without JavaScript, its map alone, the call list as CSV and XLSX, and the
old coverage links."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import openpyxl
import pytest

from tests.support import within
from webinars import declarations
from webinars.extensions import db
from webinars.models import Programme
from webinars.municipalities import read_register

AKSON = "Nord,Vest,Sør-Øst"
NBSP = "\xa0"
REGISTER = read_register()
POPULATION = {row["number"]: row["population"] for row in REGISTER}


def nb(value: int) -> str:
    """A number as the page writes it: groups of three split by no-break spaces."""
    return f"{value:,}".replace(",", NBSP)


@pytest.fixture
def akson(app, create_event, create_programme, registered, create_contact):
    meeting = create_event(slug="akson-stormote", eligible_regions=AKSON)
    create_event(slug="apent-webinar")  # open to the whole country, not in the programme
    programme = create_programme([meeting])
    registered(meeting, "4601")
    create_contact("0301", name="Raymond Johansen", email="raymond@oslo.kommune.no")
    with within(app):
        declarations.record(
            db.session.get(Programme, programme.id),
            municipality="1103",
            signed_on=date(2020, 6, 1),
            by="arrangor@ks.test",
        )
    return programme


def test_the_page_shows_the_goal_the_funnel_the_map_and_the_call_list(akson, signed_in):
    response = signed_in.get("/organiser/programmes/akson")

    assert response.status_code == 200
    page = response.text
    assert "<title>Kampanjen: Akson – Arrangør" in page
    stavanger = POPULATION["1103"]
    assert (
        f"{nb(stavanger)} av 4{NBSP}633{NBSP}640 innbyggere bor i kommuner som har signert" in page
    )
    assert f"Mål: 2{NBSP}316{NBSP}821" in page  # the goal line's label
    assert "1 / 292" in page  # municipalities signed
    assert nb(2_316_821 - stavanger) in page
    # The funnel's rows, each with municipalities and people.
    for step in ("Kan signere", "Invitert", "Påmeldt", "Deltok", "Signert"):
        assert f'<th scope="row">{step}</th>' in page
    # The map: one shape per active municipality, a tooltip, the legend and the credit.
    assert page.count("data-municipality=") == 356
    assert re.search(
        r'data-municipality="0301"><title>Oslo: [\d\xa0]+ innbyggere – Ikke invitert</title>', page
    )
    assert re.search(
        r'data-municipality="5001"><title>Trondheim: [\d\xa0]+ innbyggere – '
        r"Ikke med i kampanjen</title>",
        page,
    )
    assert "Lengst kommet" in page and "© Kartverket" in page
    assert "<caption>Kommunene på kartet, med innbyggertall og trinn</caption>" in page
    # The charts, drawn on the server.
    assert page.count('<svg class="chart"') == 2
    # Whom to call: Oslo first (the largest unsigned), with its contact.
    calls = page[page.index('id="ring"') :]
    assert calls.index("Oslo") < calls.index("Bergen")
    assert "Raymond Johansen" in calls and "Stavanger" not in calls.split('id="fylker"')[0]
    assert "<script" not in page and "style=" not in page


def test_the_call_list_shows_fifty_and_then_all(akson, signed_in):
    page = signed_in.get("/organiser/programmes/akson").text
    everything = signed_in.get("/organiser/programmes/akson?calls=all").text

    assert "Vis alle 291 kommunene" in page
    rows = lambda text: text.split('id="ring"')[1].split('id="fylker"')[0].count('<th scope="row">')  # noqa: E731
    assert (rows(page), rows(everything)) == (50, 291)


def test_the_map_alone_is_an_svg_file_with_every_municipality(akson, signed_in):
    response = signed_in.get("/organiser/programmes/akson/map.svg")

    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.text
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    numbers = re.findall(r'data-municipality="(\d{4})"', svg)
    assert sorted(numbers) == sorted(row["number"] for row in REGISTER)
    assert re.search(r'fill="#253494" class="signed" data-municipality="1103"', svg)
    assert "© Kartverket" in svg and "style=" not in svg


def test_calls_csv_is_largest_first_with_a_bom_and_contacts(akson, signed_in):
    response = signed_in.get("/organiser/programmes/akson/calls.csv")

    assert response.headers["Content-Disposition"] == 'attachment; filename="akson-ringeliste.csv"'
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][:5] == ["Kommunenummer", "Kommune", "Fylke", "Innbyggere", "Trinn"]
    assert len(rows) == 1 + 291
    assert rows[1][:4] == ["0301", "Oslo", "Oslo", str(POPULATION["0301"])]
    assert "Raymond Johansen (Ordfører) <raymond@oslo.kommune.no>" in rows[1][9]
    bergen = next(row for row in rows if row[0] == "4601")
    assert bergen[4:8] == ["Påmeldt", "nei", "ja", "nei"]
    populations = [int(row[3]) for row in rows[1:]]
    assert populations == sorted(populations, reverse=True)
    semicolon = signed_in.get("/organiser/programmes/akson/calls.csv?sep=semicolon")
    assert semicolon.get_data().decode("utf-8-sig").splitlines()[1].startswith("0301;Oslo;")


def test_calls_xlsx_has_numbers_as_numbers(akson, signed_in):
    response = signed_in.get("/organiser/programmes/akson/calls.xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    header, oslo = [[c.value for c in row] for row in sheet.iter_rows(max_row=2)]
    assert header[0] == "Kommunenummer"
    assert oslo[:4] == ["0301", "Oslo", "Oslo", POPULATION["0301"]]
    assert isinstance(oslo[8], float) and 0 < oslo[8] <= 1


def test_english_page(akson, signed_in):
    page = signed_in.get("/organiser/programmes/akson?lang=en").text

    assert "Campaign: Akson" in page and "Whom do we call next?" in page
    assert "Not in the campaign" in page and "Furthest step" in page


def test_the_old_coverage_links_lead_to_the_campaign(akson, signed_in):
    for old, new in [
        ("/organiser/coverage", "/organiser/programmes/akson"),
        ("/organiser/coverage?event=akson-stormote", "/organiser/programmes/akson"),
        ("/organiser/events/akson-stormote/coverage", "/organiser/programmes/akson"),
        ("/organiser/events/apent-webinar/coverage", "/organiser/programmes"),
        (
            "/organiser/coverage/missing.csv?sep=semicolon",
            "/organiser/programmes/akson/calls.csv?sep=semicolon",
        ),
    ]:
        response = signed_in.get(old)
        assert (response.status_code, response.headers["Location"]) == (301, new), old


def test_the_campaign_needs_a_login_and_an_existing_programme(akson, app, signed_in):
    stranger = app.test_client()
    for path in ("", "/map.svg", "/calls.csv", "/calls.xlsx"):
        response = stranger.get(f"/organiser/programmes/akson{path}")
        assert response.status_code == 302 and "/organiser/login" in response.headers["Location"]
    assert signed_in.get("/organiser/programmes/finnes-ikke").status_code == 404
