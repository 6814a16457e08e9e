"""Field filters and validators shared by the public and the organiser forms."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError


def strip(value):
    """Filter: surrounding white space off."""
    return value.strip() if isinstance(value, str) else value


def lower(value):
    """Filter: lower case (slugs, addresses)."""
    return value.lower() if isinstance(value, str) else value


def line_breaks(value):
    """Filter: every line break as LF (browsers send CRLF), surrounding white space off."""
    if not isinstance(value, str):
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _refuse_format_characters(text: str) -> None:
    if any(unicodedata.category(ch) == "Cf" for ch in text):
        raise ValidationError(
            _l(
                "Feltet kan ikke inneholde usynlige formateringstegn, for eksempel tegn som "
                "snur retningen på teksten. Skriv det inn på nytt uten å lime inn."
            )
        )


def single_line(form, field):
    """No line breaks or other control characters (they could end up in mail headers), and no
    invisible format characters (Unicode Cf, such as U+202E, which turns text around and
    makes a name in a list or an export read as something else)."""
    if not field.data:
        return
    if any(ord(ch) < 32 and ch not in "\t" for ch in field.data):
        raise ValidationError(_l("Feltet kan ikke inneholde linjeskift eller kontrolltegn."))
    _refuse_format_characters(field.data)


def multi_line(form, field):
    """Like single_line, but line breaks (LF, after the line_breaks filter) are welcome."""
    if not field.data:
        return
    if any((ord(ch) < 32 and ch not in "\t\n") or ord(ch) == 127 for ch in field.data):
        raise ValidationError(_l("Feltet kan ikke inneholde kontrolltegn."))
    _refuse_format_characters(field.data)


def at_most(limit: int):
    """Validator: at most `limit` characters, saying how many there are (counted as Python
    counts them: one per character, whatever its size in UTF-16 or UTF-8)."""

    def check(form, field):
        if field.data and len(field.data) > limit:
            raise ValidationError(
                _l(
                    "Teksten er %(count)d tegn. Kort den ned til høyst %(max)d tegn.",
                    count=len(field.data),
                    max=limit,
                )
            )

    return check


class Undeliverable(ValueError):
    """An address our mail cannot carry; `message` says why, in words for the user."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def deliverable(address: str) -> str:
    """The address as our mail sends to it (SMTP without SMTPUTF8): email-validator's
    normalised form, lower case, an internationalised domain in ASCII (punycode).

    The one rule for every address we store: the forms, contact lists, the command line.
    """
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        local = address.rpartition("@")[0]
        if local and not local.isascii():
            raise Undeliverable(
                _l(
                    "E-post kommer ikke fram til adresser med æ, ø, å eller andre tegn utenfor "
                    "a–z foran @. Bruk en adresse uten slike tegn foran @."
                )
            ) from exc
        raise Undeliverable(
            _l("Skriv en gyldig e-postadresse, for eksempel navn@kommune.no.")
        ) from exc
    return checked.ascii_email.lower()


def mail_address(form, field):
    """Validator: an address our mail can reach (see `deliverable`), stored as it sends to it."""
    if not field.data:
        return
    try:
        field.data = deliverable(field.data)
    except Undeliverable as exc:
        raise ValidationError(exc.message) from exc


def http_url(form, field):
    """Only http(s) links with a host: no javascript:, data: or relative links."""
    if not field.data:
        return
    parts = urlsplit(field.data)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(_l("Lenken må begynne med http:// eller https://."))
    if any(ch.isspace() or ord(ch) < 32 for ch in field.data):
        raise ValidationError(_l("Lenken kan ikke inneholde mellomrom."))
