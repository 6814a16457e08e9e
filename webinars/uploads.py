"""Request-size limits for the routes that take files.

The service refuses request bodies over its own limit (MAX_CONTENT_LENGTH, when set). A
route that takes a file names its own limit with `@limit(bytes)`: the signed declaration
(up to 10 MB) raises it for those routes alone, the CSV uploads keep 1 MiB. The limit is
set on the request before any other hook reads the body (CSRF protection reads the form),
so it holds however the service-wide limit is configured.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request

#: What the CSV uploads take: the service-wide request limit.
FILE_LIMIT = 1024 * 1024
#: Room for the other fields of a form that carries a file.
FORM_MARGIN = 64 * 1024


def limit(max_bytes: int) -> Callable:
    """Decorator: this view takes request bodies up to `max_bytes` (plus the form's fields)."""

    def mark(view: Callable) -> Callable:
        view.max_content_length = max_bytes + FORM_MARGIN
        return view

    return mark


def init_app(app: Flask) -> None:
    """Apply each view's own limit before anything reads the body (register before CSRF)."""

    @app.before_request
    def _view_limit():
        view = app.view_functions.get(request.endpoint or "")
        allowed = getattr(view, "max_content_length", None)
        if allowed is not None:
            request.max_content_length = allowed
