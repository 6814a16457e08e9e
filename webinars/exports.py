"""Participant lists (and other tables) as CSV and XLSX that open correctly in a Norwegian
Excel.

Both participant writers take an iterable of rows (see participants.EXPORT_COLUMNS) and
never hold more than a small batch of them: the CSV is a generator of byte chunks, the XLSX
is written by XlsxWriter in constant-memory mode to a file the caller streams. Every export
about one event ends with the event's title and date, so lists from several events can be
put together, and is named after the event and its date.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO
from zoneinfo import ZoneInfo

import xlsxwriter
from flask_babel import gettext as _
from flask_babel import pgettext

from .i18n import stamp
from .models import ROLES
from .registrations import STATUS_LABELS

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Spreadsheets treat a cell starting with one of these as a formula (tab and CR too, since
# some programs strip them before looking).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A signed number or phone number: digits in groups separated by single spaces, an optional
# decimal part. Such a value cannot name a function or a cell, so it is left intact.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?: \d+)*(?:[.,]\d+)?")


def neutralise(value: str) -> str:
    """Prefix an apostrophe to a cell a spreadsheet would run as a formula.

    "=HYPERLINK(…)", "@SUM(A1)" and "-2+3" get the apostrophe; "+47 900 00 000" and "-5"
    are plain numbers and stay as they are.
    """
    if value.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


@dataclass(frozen=True)
class Labels:
    """Column headers and the words for roles and statuses, resolved in the reader's language.

    Resolved before streaming starts, because a CSV generator runs after the request.
    """

    headers: tuple[str, ...]
    roles: dict[str, str]
    statuses: dict[str, str]
    #: The Deltok column: attended, did not attend (empty before a report is loaded).
    yes: str = "ja"
    no: str = "nei"

    @classmethod
    def current(cls) -> Labels:
        """The labels in the current request's language."""
        return cls(
            headers=(
                _("Navn"),
                _("E-post"),
                _("Rolle"),
                _("Kommunenummer"),
                _("Kommune"),
                _("Fylke"),
                _("Organisasjon"),
                _("Status"),
                _("Registrert"),
                _("Deltok"),
                _("Minutter deltatt"),
                *about_headers(),
            ),
            roles={key: _(label) for key, label in ROLES.items()},
            statuses={key: str(label) for key, label in STATUS_LABELS.items()},
            yes=_("ja"),
            no=_("nei"),
        )


def about_headers() -> tuple[str, str]:
    """The headers of the two columns every export about one event ends with."""
    return (_("Arrangement"), _("Arrangementsdato"))


@dataclass(frozen=True)
class About:
    """The event an export is about: its title and its date (in its own zone)."""

    title: str
    day: date

    @classmethod
    def of(cls, event) -> About:
        """The title and local start date of an event."""
        return cls(event.title, event.local_start.date())


def safe_name(slug: str) -> str:
    """A slug made safe for an ASCII file name."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", slug).strip("-") or "arrangement"


def filename(slug: str, extension: str, day: date, kind: str = "deltakere") -> str:
    """An ASCII file name with the event's date: 'deltakere-akson-stormote-2020-05-05.csv'."""
    return f"{kind}-{safe_name(slug)}-{day.isoformat()}.{extension}"


def csv_chunks(
    rows: Iterable[Sequence],
    *,
    labels: Labels,
    zone: ZoneInfo,
    about: About,
    delimiter: str = ",",
    rows_per_chunk: int = 1000,
    reported: bool = False,
) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (so Excel reads æøå), yielded in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([neutralise(header) for header in labels.headers])
    # Labels and municipality names repeat on every row: neutralise each of them once.
    roles = {key: neutralise(label) for key, label in labels.roles.items()}
    statuses = {key: neutralise(label) for key, label in labels.statuses.items()}
    places: dict[str, tuple[str, str, str]] = {}
    yes, no = neutralise(labels.yes), neutralise(labels.no)
    title, day = neutralise(about.title), about.day.isoformat()
    for count, row in enumerate(rows, 1):
        name, email, role, number, municipality, county, organisation, status, created, minutes = (
            row
        )
        place = places.get(number)
        if place is None:
            place = places[number] = tuple(map(neutralise, (number, municipality, county)))
        writer.writerow(
            (
                neutralise(name),
                neutralise(email),
                roles.get(role) or neutralise(role),
                *place,
                neutralise(organisation or ""),
                statuses.get(status) or neutralise(status),
                stamp(created, zone),
                (yes if minutes is not None else no) if reported else "",
                "" if minutes is None else minutes,
                title,
                day,
            )
        )
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


#: Day 0 of Excel's (1900) date system, as its serial numbers count.
EXCEL_EPOCH = date(1899, 12, 30)

#: Column widths (in characters) never go below the header's nor above this.
MAX_WIDTH = 50


def write_xlsx(
    rows: Iterable[Sequence],
    target: str | IO[bytes],
    *,
    labels: Labels,
    zone: ZoneInfo,
    about: About,
    sheet_name: str = "",
    reported: bool = False,
) -> int:
    """Write an .xlsx with typed cells, a frozen header row and an autofilter; returns the rows.

    Constant-memory mode flushes each row to disk as soon as the next one starts, so memory
    stays flat however many rows there are. Text goes through write_string, never parsed as
    a formula or a number; the municipality number stays text so "0301" keeps its zero.
    """
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet((sheet_name or _("Deltakere"))[:31])
    header = workbook.add_format({"bold": True, "bottom": 1})
    text = workbook.add_format({"num_format": "@"})
    stamp_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    day_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    widths = [len(title) + 3 for title in labels.headers]  # room for the filter button
    widths[8] = max(widths[8], len("2020-05-04 13:05") + 1)
    widths[11] = max(widths[11], min(len(about.title), MAX_WIDTH))
    widths[12] = max(widths[12], len("2020-05-05") + 1)

    for column, title in enumerate(labels.headers):
        sheet.write_string(0, column, title, header)
    sheet.freeze_panes(1, 0)

    try:
        formats = (text, stamp_format, day_format)
        count = _write_rows(sheet, rows, labels, zone, about, widths, formats, reported)
    except BaseException:
        # Constant-memory mode keeps the rows in a temporary file of its own until close():
        # close the workbook, so a failed export (say, the database went away) leaks no file.
        workbook.close()
        raise
    sheet.autofilter(0, 0, max(count, 1), len(labels.headers) - 1)
    for column, width in enumerate(widths):
        sheet.set_column(column, column, min(width + 1, MAX_WIDTH))
    workbook.close()
    return count


def _write_rows(
    sheet, rows, labels: Labels, zone: ZoneInfo, about: About, widths, formats, reported: bool
) -> int:
    """The data rows of write_xlsx; widens `widths` as it goes and returns how many.

    Constant-memory mode takes each row whole, in order: every cell of a row is written
    before the next row starts.
    """
    text, stamp_format, day_format = formats
    roles, statuses = labels.roles, labels.statuses
    write = sheet.write_string
    day = datetime.combine(about.day, datetime.min.time())
    count = 0
    for count, row in enumerate(rows, 1):
        name, email, role, number, municipality, county, organisation, status, created, minutes = (
            row
        )
        cells = (
            name,
            email,
            roles.get(role, role),
            number,
            municipality,
            county,
            organisation,
            statuses.get(status, status),
        )
        for column, value in enumerate(cells):
            if not value:
                continue
            if value.startswith("<r>") and value.endswith("</r>"):
                _write_text(sheet, count, column, value, text if column == 3 else None)
            else:  # the common case, written directly: this loop runs for every cell
                write(count, column, value, text if column == 3 else None)
            if len(value) > widths[column]:
                widths[column] = len(value)
        sheet.write_datetime(count, 8, created.astimezone(zone).replace(tzinfo=None), stamp_format)
        if reported:
            write(count, 9, labels.yes if minutes is not None else labels.no)
        if minutes is not None:
            sheet.write_number(count, 10, minutes)
        # The event's title and date on every row, like the CSV.
        _write_text(sheet, count, 11, about.title)
        sheet.write_datetime(count, 12, day, day_format)
    return count


def _write_text(sheet, row: int, column: int, value: str, cell_format=None) -> None:
    """A string cell, exactly as given."""
    if value.startswith("<r>") and value.endswith("</r>"):
        # XlsxWriter copies a string shaped like this into the sheet's XML unescaped (in
        # constant-memory mode and in the shared strings alike), as rich text: a registrant
        # could smuggle in a formula cell. Written as three rich-text runs it is escaped, and
        # reads exactly the same.
        parts = (value[:1], value[1:2], value[2:])
        sheet.write_rich_string(row, column, *parts, *([cell_format] if cell_format else []))
    else:
        sheet.write_string(row, column, value, cell_format)


def xlsx_file(
    rows: Generator, *, labels: Labels, zone: ZoneInfo, about: About, reported: bool = False
) -> IO[bytes]:
    """The workbook in an anonymous temporary file, rewound; the rows are closed after.

    The response closes the file after sending it, and then it is gone from the disk.
    """
    target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (the response closes it)
    try:
        write_xlsx(rows, target, labels=labels, zone=zone, about=about, reported=reported)
        target.seek(0)
    except BaseException:
        target.close()
        raise
    finally:
        rows.close()
    return target


# --- small tables: the call list, the questions ---------------------------------------------


def _csv_cell(cell, zone: ZoneInfo | None):
    if isinstance(cell, str):
        return neutralise(cell)
    if isinstance(cell, datetime):
        return stamp(cell, zone) if zone is not None else cell.isoformat(" ", "minutes")
    if isinstance(cell, date):
        return cell.isoformat()
    return "" if cell is None else cell


def table_csv(
    headers: Sequence[str],
    rows: Iterable[Sequence],
    delimiter: str = ",",
    zone: ZoneInfo | None = None,
) -> bytes:
    """A small table as CSV: UTF-8 with BOM, text neutralised, numbers left bare to sum,
    instants as wall-clock time in `zone` and dates as 2020-05-05."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([neutralise(header) for header in headers])
    for row in rows:
        writer.writerow([_csv_cell(cell, zone) for cell in row])
    return buffer.getvalue().encode("utf-8")


def table_xlsx(
    headers: Sequence[str],
    rows: Iterable[Sequence],
    *,
    sheet_name: str,
    percent_columns: Sequence[int] = (),
    wrap_columns: Sequence[int] = (),
    zone: ZoneInfo | None = None,
) -> bytes:
    """A small table as an .xlsx in memory: strings as strings, numbers as numbers, instants
    as date-times in `zone`, dates as dates; text in `wrap_columns` wraps (long answers)."""
    target = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        target,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet(sheet_name[:31])
    header = workbook.add_format({"bold": True, "bottom": 1})
    text = workbook.add_format({"num_format": "@"})
    share = workbook.add_format({"num_format": "0.0%"})
    wrapped = workbook.add_format({"num_format": "@", "text_wrap": True, "valign": "top"})
    stamp_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    day_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    widths = [len(title) + 3 for title in headers]
    for column, title in enumerate(headers):
        sheet.write_string(0, column, title, header)
    sheet.freeze_panes(1, 0)
    count = 0
    for count, row in enumerate(rows, 1):
        for column, value in enumerate(row):
            if isinstance(value, str):
                if value:
                    _write_text(
                        sheet, count, column, value, wrapped if column in wrap_columns else text
                    )
                widths[column] = max(widths[column], len(value))
            elif isinstance(value, datetime):
                local = value.astimezone(zone) if zone is not None else value
                sheet.write_datetime(count, column, local.replace(tzinfo=None), stamp_format)
                widths[column] = max(widths[column], len("2020-05-04 13:05") + 1)
            elif isinstance(value, date):
                sheet.write_datetime(
                    count, column, datetime.combine(value, datetime.min.time()), day_format
                )
                widths[column] = max(widths[column], len("2020-05-05") + 1)
            elif value is not None:
                cell_format = share if column in percent_columns else None
                sheet.write_number(count, column, value, cell_format)
    sheet.autofilter(0, 0, max(count, 1), len(headers) - 1)
    for column, width in enumerate(widths):
        sheet.set_column(column, column, min(width + 1, MAX_WIDTH))
    workbook.close()
    return target.getvalue()


# --- the questions to the organisers --------------------------------------------------------

#: The column of question_table that holds the question (wrapped in a spreadsheet).
QUESTION_COLUMN = 8


def question_table(rows: Iterable, about: About) -> tuple[list[str], list[tuple]]:
    """An event's questions (rows shaped like questions.COLUMNS) as an export table: headers
    in the reader's language, rows ending with the event's title and date."""
    headers = [
        _("Navn"),
        _("E-post"),
        _("Rolle"),
        _("Kommunenummer"),
        _("Kommune"),
        _("Fylke"),
        _("Organisasjon"),
        _("Status"),
        # One question per row: singular where English tells the two apart.
        pgettext("export column", "Spørsmål"),
        _("Stilt"),
        _("Besvart"),
        _("Markert besvart"),
        *about_headers(),
    ]
    roles = {key: _(label) for key, label in ROLES.items()}
    statuses = {key: str(label) for key, label in STATUS_LABELS.items()}
    yes, no = _("ja"), _("nei")
    table = [
        (
            row.name,
            row.email,
            roles.get(row.role, row.role),
            row.municipality_number,
            row.municipality_name,
            row.county_name,
            row.organisation or "",
            statuses.get(row.status, row.status),
            row.text,
            row.asked_at,
            yes if row.answered_at else no,
            row.answered_at,
            about.title,
            about.day,
        )
        for row in rows
    ]
    return headers, table
