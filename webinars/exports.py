"""Participant lists as CSV and XLSX that open correctly in a Norwegian Excel.

Both writers take an iterable of rows (see participants.EXPORT_COLUMNS) and never hold more
than a small batch of them: the CSV is a generator of byte chunks, the XLSX is written by
XlsxWriter in constant-memory mode to a file the caller streams.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO
from zoneinfo import ZoneInfo

import xlsxwriter
from flask_babel import gettext as _

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
            ),
            roles={key: _(label) for key, label in ROLES.items()},
            statuses={key: str(label) for key, label in STATUS_LABELS.items()},
            yes=_("ja"),
            no=_("nei"),
        )


def safe_name(slug: str) -> str:
    """A slug made safe for an ASCII file name."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", slug).strip("-") or "arrangement"


def filename(slug: str, extension: str) -> str:
    """An ASCII file name such as 'akson-stormote-deltakere.csv'."""
    return f"{safe_name(slug)}-deltakere.{extension}"


def csv_chunks(
    rows: Iterable[Sequence],
    *,
    labels: Labels,
    zone: ZoneInfo,
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
            )
        )
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


#: Column widths (in characters) never go below the header's nor above this.
MAX_WIDTH = 50


def write_xlsx(
    rows: Iterable[Sequence],
    target: str | IO[bytes],
    *,
    labels: Labels,
    zone: ZoneInfo,
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
    widths = [len(title) + 3 for title in labels.headers]  # room for the filter button
    widths[8] = max(widths[8], len("2020-05-04 13:05") + 1)

    for column, title in enumerate(labels.headers):
        sheet.write_string(0, column, title, header)
    sheet.freeze_panes(1, 0)

    try:
        count = _write_rows(sheet, rows, labels, zone, widths, text, stamp_format, reported)
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
    sheet, rows, labels: Labels, zone: ZoneInfo, widths, text, stamp_format, reported: bool
) -> int:
    """The data rows of write_xlsx; widens `widths` as it goes and returns how many."""
    roles, statuses = labels.roles, labels.statuses
    write = sheet.write_string
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
                # Constant-memory XlsxWriter copies a string shaped like this into the sheet's
                # XML unescaped, as rich text: a registrant could smuggle in a formula cell.
                # Written as three rich-text runs it is escaped, and reads exactly the same.
                sheet.write_rich_string(count, column, value[:1], value[1:2], value[2:])
            else:
                write(count, column, value, text if column == 3 else None)
            if len(value) > widths[column]:
                widths[column] = len(value)
        sheet.write_datetime(count, 8, created.astimezone(zone).replace(tzinfo=None), stamp_format)
        if reported:
            write(count, 9, labels.yes if minutes is not None else labels.no)
        if minutes is not None:
            sheet.write_number(count, 10, minutes)
    return count


def xlsx_file(
    rows: Generator, *, labels: Labels, zone: ZoneInfo, reported: bool = False
) -> IO[bytes]:
    """The workbook in an anonymous temporary file, rewound; the rows are closed after.

    The response closes the file after sending it, and then it is gone from the disk.
    """
    target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (the response closes it)
    try:
        write_xlsx(rows, target, labels=labels, zone=zone, reported=reported)
        target.seek(0)
    except BaseException:
        target.close()
        raise
    finally:
        rows.close()
    return target


# --- small tables: the call list ------------------------------------------------------------


def table_csv(headers: Sequence[str], rows: Iterable[Sequence], delimiter: str = ",") -> bytes:
    """A small table as CSV: UTF-8 with BOM, text neutralised, numbers left bare to sum."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([neutralise(header) for header in headers])
    for row in rows:
        writer.writerow([neutralise(cell) if isinstance(cell, str) else cell for cell in row])
    return buffer.getvalue().encode("utf-8")


def table_xlsx(
    headers: Sequence[str],
    rows: Iterable[Sequence],
    *,
    sheet_name: str,
    percent_columns: Sequence[int] = (),
) -> bytes:
    """A small table as an .xlsx in memory: strings as strings, numbers as numbers."""
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
    widths = [len(title) + 3 for title in headers]
    for column, title in enumerate(headers):
        sheet.write_string(0, column, title, header)
    sheet.freeze_panes(1, 0)
    count = 0
    for count, row in enumerate(rows, 1):
        for column, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(count, column, value, text)
                widths[column] = max(widths[column], len(value))
            elif value is not None:
                cell_format = share if column in percent_columns else None
                sheet.write_number(count, column, value, cell_format)
    sheet.autofilter(0, 0, max(count, 1), len(headers) - 1)
    for column, width in enumerate(widths):
        sheet.set_column(column, column, min(width + 1, MAX_WIDTH))
    workbook.close()
    return target.getvalue()
