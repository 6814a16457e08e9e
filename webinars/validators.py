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


def single_line(form, field):
    """No line breaks or other control characters (they could end up in mail headers), and no
    invisible format characters (Unicode Cf, such as U+202E, which turns text around and
    makes a name in a list or an export read as something else)."""
    if not field.data:
        return
    if any(ord(ch) < 32 and ch not in "\t" for ch in field.data):
        raise ValidationError(_l("Feltet kan ikke inneholde linjeskift eller kontrolltegn."))
    if any(unicodedata.category(ch) == "Cf" for ch in field.data):
        raise ValidationError(
            _l(
                "Feltet kan ikke inneholde usynlige formateringstegn, for eksempel tegn som "
                "snur retningen på teksten. Skriv det inn på nytt uten å lime inn."
            )
        )


def mail_address(form, field):
    """An address our mail can reach (SMTP without SMTPUTF8), kept in email-validator's
    normalised form: lower case, an internationalised domain in ASCII (punycode)."""
    if not field.data:
        return
    try:
        checked = validate_email(field.data, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        local = field.data.rpartition("@")[0]
        if local and not local.isascii():
            raise ValidationError(
                _l(
                    "E-post kommer ikke fram til adresser med æ, ø, å eller andre tegn utenfor "
                    "a–z foran @. Bruk en adresse uten slike tegn foran @."
                )
            ) from exc
        raise ValidationError(
            _l("Skriv en gyldig e-postadresse, for eksempel navn@kommune.no.")
        ) from exc
    field.data = checked.ascii_email.lower()


def http_url(form, field):
    """Only http(s) links with a host: no javascript:, data: or relative links."""
    if not field.data:
        return
    parts = urlsplit(field.data)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(_l("Lenken må begynne med http:// eller https://."))
    if any(ch.isspace() or ord(ch) < 32 for ch in field.data):
        raise ValidationError(_l("Lenken kan ikke inneholde mellomrom."))
