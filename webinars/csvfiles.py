"""Reading the files organisers bring: encodings, delimiters, header names, line numbers.

Excel saves "CSV UTF-8" with a byte-order mark, plain "CSV" in Windows-1252, and "Unicode
text" (and Teams its reports) as UTF-16 with a BOM, tab-separated. UTF-8 with or without a
BOM and UTF-16 with a BOM are read; anything else is refused with a message saying how to
save the file, because guessing would garble names like Bø and Våler.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Mapping

from flask_babel import lazy_gettext as _l

#: No file organisers bring is anywhere near this; a bigger one is refused before parsing.
MAX_BYTES = 10 * 1024 * 1024
DELIMITERS = ",;\t"


class FileError(ValueError):
    """The file as a whole cannot be read; `message` says why, for the organiser."""

    def __init__(self, message):
        self.message = message
        super().__init__(str(message))


def decode(data: bytes) -> str:
    """The text of a file: UTF-16 with a BOM, or UTF-8 with or without one."""
    if len(data) > MAX_BYTES:
        raise FileError(_l("Filen er for stor (over %(mb)d MB).", mb=MAX_BYTES // (1024 * 1024)))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise FileError(_l("Filen er ødelagt: den er ikke gyldig UTF-16.")) from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FileError(
                _l("Filen er ikke UTF-8. Lagre den som «CSV UTF-8» i Excel og prøv igjen.")
            ) from None
    if "\x00" in text:
        raise FileError(_l("Filen ser ikke ut som en tekstfil (CSV)."))
    if not text.strip():
        raise FileError(_l("Filen er tom."))
    return text


def delimiter_of(line: str) -> str:
    """The delimiter a header line uses: the most frequent of comma, semicolon and tab."""
    return max(DELIMITERS, key=line.count) if any(d in line for d in DELIMITERS) else ","


def records(text: str, delimiter: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line number it starts on (the first line is 1), cells stripped."""
    if delimiter is None:
        delimiter = delimiter_of(text.lstrip().splitlines()[0] if text.strip() else "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for cells in reader:
            yield line, [cell.strip() for cell in cells]
            line = reader.line_num + 1
    except csv.Error as exc:
        raise FileError(
            _l("Linje %(line)d kan ikke leses: %(error)s", line=line, error=exc)
        ) from None


def normal(header: str) -> str:
    """A header as compared: lower case, no surrounding space or quotes, one space inside."""
    return " ".join(header.strip().strip('"').lower().split())


def columns(
    header: list[str], names: Mapping[str, tuple[str, ...]], required: tuple[str, ...]
) -> dict[str, int]:
    """Where each wanted column is, by any of its accepted names; a required one must be there."""
    found: dict[str, int] = {}
    cells = [normal(cell) for cell in header]
    for key, accepted in names.items():
        for index, cell in enumerate(cells):
            if cell in accepted:
                found[key] = index
                break
    missing = [names[key][0] for key in required if key not in found]
    if missing:
        raise FileError(
            _l(
                "Fant ikke kolonnen %(columns)s i første linje. Den må ha overskriftene "
                "%(expected)s.",
                columns=", ".join(missing),
                expected=", ".join(names[key][0] for key in required),
            )
        )
    return found
