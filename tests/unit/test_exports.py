"""The export writers: the neutralising rule, CSV in chunks (BOM, delimiter, local time) and
XLSX (typed cells, no formula smuggled in), the labels in the reader's language, file names."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from webinars import exports
from webinars.exports import Labels, neutralise

OSLO = ZoneInfo("Europe/Oslo")
BOM = "\ufeff"
LABELS = Labels(
    headers=(
        "Navn",
        "E-post",
        "Rolle",
        "Kommunenr",
        "Kommune",
        "Fylke",
        "Org",
        "Status",
        "Tid",
        "Deltok",
        "Minutter",
        "Arrangement",
        "Dato",
    ),
    roles={"ordforer": "Ordfører"},
    statuses={"confirmed": "Påmeldt", "cancelled": "Avbestilt"},
)
#: The event every test export is about.
ABOUT = exports.About("Akson stormøte", date(2020, 5, 5))


def row(n: int = 0, **fields) -> tuple:
    """An export row shaped like participants.EXPORT_COLUMNS."""
    values = {
        "name": f"Person {n}",
        "email": f"p{n}@kommune.no",
        "role": "ordforer",
        "number": "0301",
        "municipality": "Oslo",
        "county": "Oslo",
        "organisation": "",
        "status": "confirmed",
        "created": datetime(2020, 5, 4, 11, 5, tzinfo=UTC),
        "attended_minutes": None,
    }
    values.update(fields)
    return tuple(values.values())


def parse(chunks, delimiter=",") -> list[list[str]]:
    text = b"".join(chunks).decode("utf-8")
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


def test_csv_has_a_bom_the_headers_and_local_wall_clock_time():
    rows = parse(
        exports.csv_chunks(
            [row(organisation="Bærum kommune")], labels=LABELS, zone=OSLO, about=ABOUT
        )
    )

    assert rows[0] == list(LABELS.headers)
    # 11:05 UTC on 4 May is 13:05 summer time in Oslo; role and status as words.
    assert rows[1] == [
        "Person 0",
        "p0@kommune.no",
        "Ordfører",
        "0301",
        "Oslo",
        "Oslo",
        "Bærum kommune",
        "Påmeldt",
        "2020-05-04 13:05",
        "",  # Deltok: empty before a participant report is loaded
        "",
        # The event's title and date on every row, at the end.
        "Akson stormøte",
        "2020-05-05",
    ]


def test_csv_says_who_attended_once_a_report_is_loaded():
    rows = parse(
        exports.csv_chunks(
            [row(1, attended_minutes=88), row(2), row(3, attended_minutes=0)],
            labels=LABELS,
            zone=OSLO,
            about=ABOUT,
            reported=True,
        )
    )

    assert [r[9:11] for r in rows[1:]] == [["ja", "88"], ["nei", ""], ["ja", "0"]]


def test_xlsx_says_who_attended_once_a_report_is_loaded():
    _count, book = workbook([row(1, attended_minutes=88), row(2)], reported=True)

    sheet = book.active
    assert [[c.value for c in r[9:11]] for r in sheet.iter_rows(min_row=2)] == [
        ["ja", 88],
        ["nei", None],
    ]


def test_csv_with_a_semicolon_quotes_a_semicolon_in_a_cell():
    chunks = exports.csv_chunks(
        [row(organisation="Helse; omsorg")], labels=LABELS, zone=OSLO, about=ABOUT, delimiter=";"
    )

    rows = parse(chunks, delimiter=";")

    assert rows[1][6] == "Helse; omsorg"
    assert len(rows[1]) == len(LABELS.headers)


def test_csv_neutralises_every_text_cell_headers_and_labels_too():
    labels = Labels(
        headers=("=Navn", *LABELS.headers[1:]),
        roles={"ordforer": "@Ordfører"},
        statuses={"confirmed": "-Påmeldt"},
    )
    hostile = row(
        name="=1+1",
        email="@evil.test",
        municipality="=Oslo",
        county="+Oslo",
        organisation="-2+3",
    )

    rows = parse(
        exports.csv_chunks(
            [hostile, row(1, organisation="+47 900 00 000")], labels=labels, zone=OSLO, about=ABOUT
        )
    )

    assert rows[0][0] == "'=Navn"
    assert rows[1][:8] == [
        "'=1+1",
        "'@evil.test",
        "'@Ordfører",
        "0301",
        "'=Oslo",
        "'+Oslo",
        "'-2+3",
        "'-Påmeldt",
    ]
    assert rows[2][6] == "+47 900 00 000"


def test_csv_writes_unknown_roles_and_statuses_as_they_are_but_neutralised():
    rows = parse(
        exports.csv_chunks(
            [row(role="=x", status="pending")], labels=LABELS, zone=OSLO, about=ABOUT
        )
    )

    assert (rows[1][2], rows[1][7]) == ("'=x", "pending")


def test_csv_comes_in_chunks_of_the_given_number_of_rows():
    chunks = list(
        exports.csv_chunks(
            (row(n) for n in range(5)), labels=LABELS, zone=OSLO, about=ABOUT, rows_per_chunk=2
        )
    )

    # Header and two rows, two rows, the last row.
    assert [chunk.decode("utf-8").count("\r\n") for chunk in chunks] == [3, 2, 1]
    assert [r[0] for r in parse(chunks)[1:]] == [f"Person {n}" for n in range(5)]


def test_csv_reads_the_rows_only_as_it_is_consumed():
    taken = []

    def rows():
        for n in range(3):
            taken.append(n)
            yield row(n)

    chunks = exports.csv_chunks(rows(), labels=LABELS, zone=OSLO, about=ABOUT, rows_per_chunk=1)

    assert taken == []
    next(chunks)
    assert taken == [0]


def test_csv_of_no_rows_is_the_header_alone():
    assert parse(exports.csv_chunks([], labels=LABELS, zone=OSLO, about=ABOUT)) == [
        list(LABELS.headers)
    ]


# --- XLSX -----------------------------------------------------------------------------------


def workbook(rows, **options):
    target = io.BytesIO()
    count = exports.write_xlsx(rows, target, labels=LABELS, zone=OSLO, about=ABOUT, **options)
    return count, openpyxl.load_workbook(io.BytesIO(target.getvalue()))


def test_xlsx_cells_are_typed_text_and_a_local_date():
    count, book = workbook([row(name="=1+1", organisation="+47 900 00 000")])
    sheet = book.active

    assert count == 1
    assert [cell.value for cell in sheet[1]] == list(LABELS.headers)
    name, _email, role, number, _m, _c, organisation, status, when = sheet[2][:9]
    assert (name.value, name.data_type) == ("=1+1", "s")
    assert (number.value, number.data_type) == ("0301", "s")
    assert (organisation.value, organisation.data_type) == ("+47 900 00 000", "s")
    assert (role.value, status.value) == ("Ordfører", "Påmeldt")
    assert when.is_date and when.value == datetime(2020, 5, 4, 13, 5)
    assert when.number_format == "yyyy-mm-dd hh:mm"
    title, day = sheet[2][11:13]
    assert (title.value, title.data_type) == ("Akson stormøte", "s")
    assert day.is_date and day.value == datetime(2020, 5, 5)
    assert day.number_format == "yyyy-mm-dd"


def test_xlsx_in_winter_is_one_hour_ahead_of_utc():
    _count, book = workbook([row(created=datetime(2020, 1, 15, 8, 30, tzinfo=UTC))])

    assert book.active["I2"].value == datetime(2020, 1, 15, 9, 30)


def test_xlsx_leaves_an_empty_cell_empty():
    _count, book = workbook([row(organisation="")])

    assert book.active["G2"].value is None


def test_xlsx_cannot_be_given_a_formula_through_rich_text_markup():
    name = '<r><t>x</t></r></is></c><c r="B2"><f>HYPERLINK("http://evil.test","x")</f></c><r>'
    name += "<t>y</t></r>"

    _count, book = workbook([row(name=name)])
    sheet = book.active

    assert (sheet["A2"].value, sheet["A2"].data_type) == (name, "s")
    assert sheet["B2"].value == "p0@kommune.no"
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)


def test_xlsx_has_a_frozen_header_an_autofilter_and_fitting_widths():
    long_name = "N" * 80
    count, book = workbook([row(0), row(1, name=long_name)])
    sheet = book.active

    assert count == 2
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:M3"
    assert sheet.column_dimensions["B"].width >= len("p0@kommune.no")
    # A very long value does not make the column wider than a screen.
    assert sheet.column_dimensions["A"].width <= exports.MAX_WIDTH + 1


def test_xlsx_sheet_name_is_cut_to_excel_s_limit():
    _count, book = workbook([], sheet_name="Deltakere på Akson-stormøtet i Bergen, mai 2020")

    assert book.sheetnames == ["Deltakere på Akson-stormøtet i "]
    assert book.active.max_row == 1  # the header alone


def test_xlsx_file_is_rewound_and_closes_the_rows():
    closed = []

    def rows():
        try:
            yield row(0)
            yield row(1)
        finally:
            closed.append(True)

    with exports.xlsx_file(rows(), labels=LABELS, zone=OSLO, about=ABOUT) as target:
        sheet = openpyxl.load_workbook(io.BytesIO(target.read())).active

    assert [cell.value for cell in sheet["A"]][1:] == ["Person 0", "Person 1"]
    assert closed == [True]


def test_xlsx_file_closes_the_rows_also_when_writing_fails():
    closed = []

    def rows():
        try:
            yield row(0)
            yield ("too", "short")
        finally:
            closed.append(True)

    with pytest.raises(ValueError):
        exports.xlsx_file(rows(), labels=LABELS, zone=OSLO, about=ABOUT)

    assert closed == [True]


# --- labels and file names ------------------------------------------------------------------


@pytest.mark.parametrize(
    "lang, headers, role, status",
    [
        ("nb", ("Navn", "E-post", "Registrert"), "Ordfører", "Påmeldt"),
        ("en", ("Name", "Email", "Registered at"), "Mayor", "Registered"),
    ],
)
def test_labels_are_in_the_reader_s_language(app, lang, headers, role, status):
    with app.test_request_context(f"/?lang={lang}"):
        labels = Labels.current()

    assert len(labels.headers) == 13
    assert (
        labels.headers[11:]
        == {"nb": ("Arrangement", "Arrangementsdato"), "en": ("Event", "Event date")}[lang]
    )
    assert (labels.headers[0], labels.headers[1], labels.headers[8]) == headers
    assert labels.roles["ordforer"] == role
    assert labels.statuses["confirmed"] == status
    # Plain strings, usable after the request has ended (a CSV generator runs after it).
    assert all(type(value) is str for value in (*labels.roles.values(), *labels.statuses.values()))


@pytest.mark.parametrize(
    "slug, extension, expected",
    [
        ("akson-stormote", "csv", "deltakere-akson-stormote-2020-05-05.csv"),
        ("akson-stormøte 2020", "xlsx", "deltakere-akson-storm-te-2020-2020-05-05.xlsx"),
        ("../../etc/passwd", "csv", "deltakere-etc-passwd-2020-05-05.csv"),
        ("øæå", "csv", "deltakere-arrangement-2020-05-05.csv"),
    ],
)
def test_filename_is_plain_ascii_and_dated(slug, extension, expected):
    assert exports.filename(slug, extension, date(2020, 5, 5)) == expected


def test_filename_names_its_kind():
    assert exports.filename("webinar-1", "csv", date(2020, 5, 12), kind="sporsmal") == (
        "sporsmal-webinar-1-2020-05-12.csv"
    )


# --- small tables -----------------------------------------------------------------------------


def test_table_csv_writes_instants_in_the_zone_dates_plainly_and_neutralises_text():
    body = exports.table_csv(
        ["Spørsmål", "Stilt", "Dato", "Antall"],
        [("=1+1\nlinje to", datetime(2020, 5, 4, 11, 5, tzinfo=UTC), date(2020, 5, 5), 3)],
        delimiter=";",
        zone=OSLO,
    )

    rows = parse([body], delimiter=";")
    assert rows[1] == ["'=1+1\nlinje to", "2020-05-04 13:05", "2020-05-05", "3"]


def test_table_xlsx_types_instants_dates_and_wraps_long_text():
    rich = '<r><t>x</t></r></is></c><c r="B2"><f>HYPERLINK("http://evil.test","x")</f></c><r>'
    data = exports.table_xlsx(
        ["Spørsmål", "Stilt", "Dato", "Tom"],
        [(rich, datetime(2020, 1, 15, 8, 30, tzinfo=UTC), date(2020, 5, 5), None)],
        sheet_name="Spørsmål",
        wrap_columns=(0,),
        zone=OSLO,
    )

    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    text, asked, day, empty = sheet[2][:4]
    assert (text.value, text.data_type) == (rich, "s")
    assert text.alignment.wrap_text
    assert asked.is_date and asked.value == datetime(2020, 1, 15, 9, 30)
    assert day.is_date and day.value == datetime(2020, 5, 5)
    assert empty.value is None
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)
