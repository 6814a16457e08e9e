"""The programme and the event pages, rendered once per version of what they show.

Every first visit to these pages gets the same HTML but for its CSRF token: the form is
blank, the text is the event's. Rendering it costs several times what serving it does
(the form, its macros, some forty translations), so a page is rendered once per process
for each key and language, and each request gets that copy with its own token put in.

A key is everything the page reads that can change: the event row as it was last saved
(`updated_at`), its material and programme, which seats are taken, the municipality
register, and the decisions that depend on the clock (over, open, open yet). Every part is
read from the database on each request, so a change by any process shows at once; the
cache only ever skips the rendering. Only a page with nothing of the request's own in it is
kept or served: a GET with no query but the language and no flashed message waiting; the
view passes no key when the page has something else of the session's (the "link sent"
note). A posted form shown again with its errors is never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from datetime import datetime

from flask import current_app, request, session
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from .. import municipalities
from ..models import Event
from ..registrations import is_full, is_open

#: Pages kept per process: an event page per language and state, the programme's; old
#: versions go when it is full.
MAX_PAGES = 256


def cached(key: Hashable | None, render: Callable[[], str]) -> str:
    """The page `render()` writes for `key` in this request's language, with this request's
    CSRF token; rendered only when no copy for the key is kept. `key=None`: render it."""
    if key is None or not _plain_request():
        return render()
    pages: dict = current_app.extensions.setdefault("public_pages", {})
    full_key = (key, str(get_locale() or "nb"))
    token = generate_csrf()
    pieces = pages.get(full_key)
    if pieces is None:
        html = render()
        if len(pages) >= MAX_PAGES:
            pages.clear()
        pages[full_key] = tuple(html.split(token))
        return html
    return token.join(pieces)


def _plain_request() -> bool:
    """A GET of the page itself: no query but the language, no message waiting to be shown."""
    return (
        request.method in ("GET", "HEAD")
        and all(name == "lang" for name in request.args)
        and "_flashes" not in session
    )


def _event_state(event: Event, now: datetime) -> tuple:
    """What of an event a page shows that is not in its row's `updated_at`: its seats and
    what the clock decides."""
    opens_later = event.registration_opens_at is not None and now < event.registration_opens_at
    return (
        event.id,
        event.updated_at,
        event.is_past(now),
        is_open(event, now),
        opens_later,
        is_full(event),
    )


def event_key(event: Event, series: Iterable[Event] | None, now: datetime) -> tuple:
    """The event page's key: the event, its material and programme, and with the form
    (`series` given: the programme's other events the form may offer) the register and those
    events as the form would show them."""
    programme = event.programme
    key: tuple = (
        "event",
        _event_state(event, now),
        tuple((m.title, m.url) for m in event.materials),
        (programme.id, programme.updated_at) if programme else None,
    )
    if series is not None:
        # Which of them the form offers follows from their state (open, full, waitlist).
        offered = tuple(_event_state(other, now) for other in series)
        key += (municipalities.register_version(), offered)
    return key


def programme_key(events: Iterable[Event], now: datetime) -> tuple:
    """The front page's key: each public event as it shows there, and their programmes."""
    listed = tuple(events)
    programmes = {(e.programme.id, e.programme.updated_at) for e in listed if e.programme_id}
    return ("programme", tuple(_event_state(e, now) for e in listed), tuple(sorted(programmes)))
