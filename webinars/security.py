"""What every request and response goes through: security headers (a strict CSP, no
framing, HSTS on https, no caching of organiser pages, pages private to their visitor) and
bounded numbers in URLs."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, request
from werkzeug.routing import IntegerConverter

#: Scripts, styles and images from our own origin only; no inline code of any kind.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)
#: One year, as browsers' preload lists ask for.
HSTS = "max-age=31536000"
#: The largest id a URL may name: every table's key fits a 32-bit integer, on both databases.
MAX_ID = 2**31 - 1
#: The largest page number a list accepts (far beyond any real list).
MAX_PAGE = 100_000


class BoundedInt(IntegerConverter):
    """`<int:…>` in a URL, bounded: an id no database column can hold is a 404, not a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def page_number(args: Mapping[str, str]) -> int:
    """`?page=` as a number from 1 to MAX_PAGE, whatever was given."""
    value = str(args.get("page") or "").strip()
    if not value.isascii() or not value.isdigit():
        return 1
    if len(value) > len(str(MAX_PAGE)):  # no int() of a 10,000-digit string
        return MAX_PAGE
    return min(max(int(value), 1), MAX_PAGE)


def init_app(app: Flask) -> None:
    """Bound the URL converters and add the security headers to every response."""
    app.url_map.converters["int"] = BoundedInt
    https = app.config["PUBLIC_URL"].startswith("https://")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.path.startswith("/organiser"):
            # Participant lists are personal data: not in the browser's or a proxy's cache.
            response.headers.setdefault("Cache-Control", "no-store")
        elif response.mimetype == "text/html":
            # Every page is one visitor's (its form's CSRF token, language, messages): the
            # browser may keep it (Back), a shared cache may not.
            response.headers.setdefault("Cache-Control", "private")
        return response
