"""Participant exports: CSV (BOM, delimiter, formula injection) and XLSX (typed cells)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from webinars import participants, services
from webinars.exports import neutralise
from webinars.extensions import db
from webinars.models import Organiser, Registration

BOM = "\ufeff"
HEADER = [
    "Navn",
    "E-post",
    "Rolle",
    "Kommunenummer",
    "Kommune",
    "Fylke",
    "Organisasjon",
    "Status",
    "Registrert",
]


@pytest.fixture
def signed_in(app, client):
    """The test client with an organiser logged in through Flask-Login's session keys."""
    organiser = Organiser(
        email="arrangor@ks.test", password_hash=generate_password_hash("et langt passord")
    )
    db.session.add(organiser)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = organiser.get_id()
        session["_fresh"] = True
    return client


def add(event, *, at: datetime | None = None, **fields):
    """A registration made through the service, optionally back-dated to `at` (UTC)."""
    values = {
        "name": "Kari Nordmann",
        "email": "kari@kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "organisation": "",
    }
    values.update(fields)
    registration, _ = services.register(event, **values)
    if at is not None:
        db.session.execute(
            update(Registration).where(Registration.id == registration.id).values(created_at=at)
        )
        db.session.commit()
    return registration


def read_csv(response, delimiter=","):
    text = response.get_data().decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :]), delimiter=delimiter))


# --- the neutralising rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ('=HYPERLINK("http://evil.test","klikk")', '\'=HYPERLINK("http://evil.test","klikk")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("=1+1", "'=1+1"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-", "'-"),
        ("+47 (0) 900", "'+47 (0) 900"),
        ("-A1", "'-A1"),
        ("+47 900 00 000", "+47 900 00 000"),
        ("+47 12345678", "+47 12345678"),
        ("-5", "-5"),
        ("-1,5", "-1,5"),
        ("+3.25", "+3.25"),
        ("Kari Nordmann", "Kari Nordmann"),
        ("Bærum kommune", "Bærum kommune"),
        ("kari=ola@kommune.no", "kari=ola@kommune.no"),
        ("", ""),
    ],
)
def test_neutralise_rule(value, expected):
    assert neutralise(value) == expected


# --- CSV ------------------------------------------------------------------------------------


def test_csv_has_bom_header_and_norwegian_letters(signed_in, create_event):
    event = create_event(slug="akson-stormote", title="Akson stormøte")
    add(
        event,
        name="Åse Ærø Øvrebø",
        email="aase@baerum.kommune.no",
        role="kommunedirektor",
        municipality="3024",
        organisation="Bærum kommune",
        at=datetime(2020, 5, 4, 11, 5, tzinfo=UTC),
    )

    response = signed_in.get("/organiser/events/akson-stormote/participants.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="akson-stormote-deltakere.csv"'
    )
    rows = read_csv(response)
    assert rows[0] == HEADER
    # 11:05 UTC on 4 May is 13:05 summer time in Oslo.
    assert rows[1] == [
        "Åse Ærø Øvrebø",
        "aase@baerum.kommune.no",
        "Kommunedirektør/rådmann",
        "3024",
        "Bærum",
        "Viken",
        "Bærum kommune",
        "Påmeldt",
        "2020-05-04 13:05",
    ]


def test_csv_semicolon_on_request(signed_in, create_event):
    event = create_event()
    add(event, organisation="Helse; omsorg")

    response = signed_in.get(f"/organiser/events/{event.slug}/participants.csv?sep=semicolon")

    text = response.get_data().decode("utf-8")
    assert text.splitlines()[0] == BOM + ";".join(HEADER)
    rows = read_csv(response, delimiter=";")
    assert rows[1][6] == "Helse; omsorg"  # quoted, so the semicolon stays inside the cell
    assert len(rows[1]) == len(HEADER)


def test_csv_neutralises_formulas_but_keeps_numbers(signed_in, create_event):
    event = create_event()
    add(event, name='=HYPERLINK("http://evil.test","Kari")', organisation="+47 900 00 000")
    add(event, name="@SUM(A1)", email="ola@kommune.no", organisation="-2+3")
    add(event, name="Per", email="per@kommune.no", organisation="+47 12345678")

    rows = read_csv(signed_in.get(f"/organiser/events/{event.slug}/participants.csv"))

    assert rows[1][0] == '\'=HYPERLINK("http://evil.test","Kari")'
    assert rows[1][6] == "+47 900 00 000"
    assert rows[2][0] == "'@SUM(A1)"
    assert rows[2][6] == "'-2+3"
    assert rows[3][6] == "+47 12345678"


def test_csv_follows_the_filters_and_the_event_zone_in_winter(signed_in, create_event):
    event = create_event()
    add(
        event,
        name="Kari",
        email="kari@oslo.kommune.no",
        municipality="0301",
        at=datetime(2020, 1, 15, 8, 30, tzinfo=UTC),
    )
    add(event, name="Ola", email="ola@bergen.kommune.no", municipality="4601", role="kommunalsjef")
    cancelled = add(event, name="Per", email="per@bergen.kommune.no", municipality="4601")
    services.cancel(cancelled)

    everyone = read_csv(signed_in.get(f"/organiser/events/{event.slug}/participants.csv"))
    bergen = read_csv(
        signed_in.get(f"/organiser/events/{event.slug}/participants.csv?county=46&status=confirmed")
    )

    assert [row[0] for row in everyone[1:]] == ["Kari", "Ola", "Per"]
    assert everyone[1][8] == "2020-01-15 09:30"  # UTC+1 in winter
    assert everyone[3][7] == "Avbestilt"
    assert [row[0] for row in bergen[1:]] == ["Ola"]
    assert bergen[1][2] == "Kommunalsjef"


def test_csv_is_streamed(signed_in, create_event):
    event = create_event()
    add(event)

    response = signed_in.get(f"/organiser/events/{event.slug}/participants.csv")

    assert response.is_streamed
    assert "Content-Length" not in response.headers


def test_csv_of_an_empty_event_is_just_the_header(signed_in, create_event):
    event = create_event()

    rows = read_csv(signed_in.get(f"/organiser/events/{event.slug}/participants.csv"))

    assert rows == [HEADER]


def test_csv_of_an_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/participants.csv").status_code == 404


# --- streaming ------------------------------------------------------------------------------


# SQLite's cursor steps through a result by itself; PostgreSQL needs a server-side cursor.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_rows_come_from_a_server_side_cursor_on_postgresql(app, create_event):
    event = create_event()
    for n in range(5):
        add(event, email=f"p{n}@kommune.no")
    cursors = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if "FROM registrations" in statement:
            cursors.append(type(cursor).__name__)

    sa_event.listen(db.engine, "before_cursor_execute", spy)
    try:
        rows = participants.stream_rows(db.engine, event.id, participants.Filters(), batch=2)
        assert next(rows).email == "p0@kommune.no"
        rows.close()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", spy)

    assert cursors == ["ServerCursor"]


def test_an_abandoned_download_gives_its_connection_back(app, create_event):
    event = create_event()
    for n in range(5):
        add(event, email=f"p{n}@kommune.no")
    event_id = event.id
    db.session.close()
    before = db.engine.pool.checkedout()

    rows = participants.stream_rows(db.engine, event_id, participants.Filters(), batch=2)
    next(rows)
    assert db.engine.pool.checkedout() == before + 1
    rows.close()  # what the WSGI server does when the client goes away

    assert db.engine.pool.checkedout() == before


# --- XLSX -----------------------------------------------------------------------------------


def read_xlsx(response):
    assert response.status_code == 200
    data = response.get_data()
    response.close()  # closes the temporary file, as the WSGI server does
    return openpyxl.load_workbook(io.BytesIO(data)).active


def test_xlsx_cells_are_typed(signed_in, create_event):
    event = create_event(slug="akson-stormote")
    add(
        event,
        name="=1+1",
        email="kari@kommune.no",
        municipality="0301",
        organisation="+47 900 00 000",
        at=datetime(2020, 5, 4, 11, 5, tzinfo=UTC),
    )

    response = signed_in.get("/organiser/events/akson-stormote/participants.xlsx")

    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=akson-stormote-deltakere.xlsx"
    )
    sheet = read_xlsx(response)
    assert [cell.value for cell in sheet[1]] == HEADER
    name, email, role, number, municipality, county, organisation, status, when = sheet[2]
    # A formula in a name stays text: the cell is a string, not a formula ("f").
    assert (name.value, name.data_type) == ("=1+1", "s")
    assert (number.value, number.data_type) == ("0301", "s")
    assert (organisation.value, organisation.data_type) == ("+47 900 00 000", "s")
    assert (role.value, status.value) == ("Ordfører", "Påmeldt")
    assert (municipality.value, county.value) == ("Oslo", "Oslo")
    # A real date cell holding Oslo wall-clock time, shown as a date.
    assert when.is_date
    assert when.value == datetime(2020, 5, 4, 13, 5)
    assert when.number_format == "yyyy-mm-dd hh:mm"


def test_xlsx_cannot_be_given_a_formula_through_rich_text_markup(signed_in, create_event):
    # XlsxWriter's constant-memory mode would copy a value that starts with <r> and ends
    # with </r> into the sheet unescaped: this name would add a live formula cell in B2.
    name = '<r><t>x</t></r></is></c><c r="B2"><f>HYPERLINK("http://evil.test","x")</f></c><r>'
    name += "<t>y</t></r>"
    event = create_event()
    add(event, name=name)

    sheet = read_xlsx(signed_in.get(f"/organiser/events/{event.slug}/participants.xlsx"))

    assert (sheet["A2"].value, sheet["A2"].data_type) == (name, "s")
    assert sheet["B2"].value == "kari@kommune.no"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_xlsx_has_frozen_header_and_autofilter(signed_in, create_event):
    event = create_event()
    add(event, name="Kari", email="kari@kommune.no")
    add(event, name="Ola", email="ola@kommune.no")

    sheet = read_xlsx(signed_in.get(f"/organiser/events/{event.slug}/participants.xlsx"))

    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I3"
    assert sheet.column_dimensions["B"].width >= len("kari@kommune.no")
    assert sheet.max_row == 3


def test_xlsx_follows_the_filters(signed_in, create_event):
    event = create_event()
    add(event, name="Kari Ærlig", email="kari@kommune.no", organisation="Helse Øst")
    add(event, name="Ola", email="ola@kommune.no", role="kommunalsjef")

    sheet = read_xlsx(signed_in.get(f"/organiser/events/{event.slug}/participants.xlsx?q=ærlig"))

    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Kari Ærlig"]


# --- anonymous visitors ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["participants.csv", "participants.xlsx"])
def test_exports_require_login(client, create_event, suffix):
    event = create_event()
    add(event)

    response = client.get(f"/organiser/events/{event.slug}/{suffix}")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/organiser/login")
    assert b"kari@kommune.no" not in response.get_data()
