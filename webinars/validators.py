"""Field filters and validators shared by the public and the organiser forms."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError


def strip(value):
    """Filter: surrounding white space off."""
    return value.strip() if isinstance(value, str) else value


def lower(value):
    """Filter: lower case (slugs, addresses)."""
    return value.lower() if isinstance(value, str) else value


def single_line(form, field):
    """No line breaks or other control characters (they could end up in mail headers)."""
    if field.data and any(ord(ch) < 32 and ch not in "\t" for ch in field.data):
        raise ValidationError(_l("Feltet kan ikke inneholde linjeskift eller kontrolltegn."))


def http_url(form, field):
    """Only http(s) links with a host: no javascript:, data: or relative links."""
    if not field.data:
        return
    parts = urlsplit(field.data)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(_l("Lenken må begynne med http:// eller https://."))
    if any(ch.isspace() or ord(ch) < 32 for ch in field.data):
        raise ValidationError(_l("Lenken kan ikke inneholde mellomrom."))
