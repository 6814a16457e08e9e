"""Public pages and the registrant's own page, rendered once per version of what they show.

Every first visit to the programme or an event gets the same HTML but for its CSRF token:
the form is blank, the text is the event's. Every registrant of an event in the same state
gets the same page but for their name, address, municipality and link. Rendering costs
several times what serving costs (the form, the macros, some forty translations), so a page
is rendered once per process for each key and language, with markers where the request's
own values go, and each request gets that copy with its values put in.

The copy never holds anyone's data: the registrant's page is rendered for a stand-in whose
name, address, municipality and link are markers (anything else the template asks of it is
an error, so a new personal field cannot slip into a shared copy), and the CSRF token is
taken out. What it holds is the event's, as every registrant in that state sees it.

A key is everything else the page reads that can change: the event row as it was last saved
(`updated_at`, which saving its material moves too), its programme, which seats are taken,
the municipality register, the registrant's status, and the decisions that depend on the
clock (over, open, open yet). Every part is read from the database on each request, so a
change by any process shows at once; the cache only ever skips the rendering. Only a page
with nothing else of the request's own is kept or served: a GET with no query but the
language and no flashed message waiting; the view passes no key when the page has something
else of the session's (the "link sent" note). A posted form shown again with its errors is
never cached.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime

from flask import current_app, request, session
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from .. import municipalities
from ..models import Event, Registration
from ..registrations import is_full, is_open

#: Pages kept per process: an event page per language and state, the programme's, a
#: registrant's page per event, state and language; old versions go when it is full.
MAX_PAGES = 512

#: What surrounds a marker's name in a copy: random per process, letters and digits only,
#: so it passes unchanged through HTML escaping and URLs, and no text can contain it.
_MARK = "m" + secrets.token_hex(12)


def marker(name: str) -> str:
    """What stands in a copy where the request's own value `name` goes."""
    return f"{_MARK}{name}{_MARK}"


def cached(
    key: Hashable | None,
    render: Callable[[], str],
    values: Mapping[str, str] | None = None,
    render_own: Callable[[], str] | None = None,
) -> str:
    """The page `render()` writes for `key` in this request's language, with this request's
    CSRF token and `values` (each HTML-escaped where its marker stands; `render` must write
    `marker(name)` for each); rendered only when no copy is kept. `key=None`, or a request
    with something of its own: `render_own()` (with `values`, the page written with them
    instead of markers; without, `render()`), for this request alone."""
    if values and render_own is None:
        raise ValueError("a page with personal values needs render_own")
    if key is None or not _plain_request():
        return (render_own or render)()
    pages: dict = current_app.extensions.setdefault("public_pages", {})
    full_key = (key, str(get_locale() or "nb"))
    token = generate_csrf()
    pieces = pages.get(full_key)
    if pieces is None:
        html = render()
        if len(pages) >= MAX_PAGES:
            pages.clear()
        pages[full_key] = pieces = tuple(html.replace(token, marker("csrf")).split(_MARK))
    filled = {"csrf": token, **{name: str(escape(value)) for name, value in (values or {}).items()}}
    # Split on the markers, a copy alternates text and the names of values.
    return "".join(piece if i % 2 == 0 else filled[piece] for i, piece in enumerate(pieces))


def _plain_request() -> bool:
    """A GET of the page itself: no query but the language, no message waiting to be shown."""
    return (
        request.method in ("GET", "HEAD")
        and all(name == "lang" for name in request.args)
        and "_flashes" not in session
    )


class StandIn:
    """A row as a shared copy of a page is rendered: the named fields are markers (or given
    values); asking for any other is an error, not a blank."""

    def __init__(self, what: str, **fields):
        self._what = what
        self._fields = fields

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._fields[name]
        except KeyError:
            raise LookupError(
                f"{self._what}.{name} is not in the page's shared copy: add it to "
                "registrant_page (a marker for a personal value, or the key)"
            ) from None


def registrant_page(
    registration: Registration,
    token: str,
    render: Callable[[StandIn, str], str],
    now: datetime,
    series: Iterable[Event],
    **state,
) -> str:
    """The registrant's own page: `render(registration, token)` is called with stand-ins
    (their name, address, municipality and link as markers, their status as it is) and the
    copy is kept by the event at `now`, the programme's other events it offers (`series`),
    the status and `state` (hashable: what else the view gives the template, e.g. their
    statuses in the series)."""
    event = registration.event
    key = (
        "registrant",
        registration.status,
        _page_of(event, now),
        tuple(_event_state(other, now) for other in series),
        tuple(sorted(state.items())),
    )
    stand_in = StandIn(
        "registration",
        name=marker("name"),
        email=marker("email"),
        status=registration.status,
        municipality=StandIn("municipality", name=marker("municipality")),
    )
    values = {
        "name": registration.name,
        "email": registration.email,
        "municipality": registration.municipality.name,
        "token": token,
    }
    return cached(
        key,
        lambda: render(stand_in, marker("token")),
        values,
        render_own=lambda: render(registration, token),
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


def _page_of(event: Event, now: datetime) -> tuple:
    """The event as its pages show it: its state (saving its material moves its
    `updated_at` too) and its programme."""
    programme = event.programme
    return (_event_state(event, now), (programme.id, programme.updated_at) if programme else None)


def event_key(event: Event, series: Iterable[Event] | None, now: datetime) -> tuple:
    """The event page's key: the event, its material and programme, and with the form
    (`series` given: the programme's other events the form may offer) the register and those
    events as the form would show them."""
    key: tuple = ("event", _page_of(event, now))
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
