"""Organiser views: municipality coverage for the programme or one event, and whom to call."""

import re

from babel.numbers import format_decimal, format_percent
from flask import Response, abort, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from .. import coverage as service
from ..extensions import db
from ..models import Event
from . import bp


def _babel_locale() -> str:
    return "en_GB" if str(get_locale() or "nb").startswith("en") else "nb_NO"


def number(value: int) -> str:
    """'2 316 821' in Norwegian (a no-break space between groups), '2,316,821' in English."""
    return format_decimal(value, locale=_babel_locale())


def percent(value: float) -> str:
    """'50,0 %' in Norwegian (no-break space), '50.0%' in English; one decimal, so a small
    step forward still shows."""
    locale = _babel_locale()
    pattern = "#,##0.0%" if locale == "en_GB" else "#,##0.0\u00a0%"
    return format_percent(value, pattern, locale=locale)


def _event(slug: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        abort(404)
    return event


def _scope(slug: str | None) -> tuple[Event | None, list[Event]]:
    """One event (any status) or the whole programme (every published event)."""
    if slug:
        event = _event(slug)
        return event, [event]
    return None, service.programme_events()


def _page(event: Event | None, events: list[Event]):
    all_events = db.session.scalars(select(Event).order_by(Event.starts_at)).all()
    return render_template(
        "organiser/coverage.html",
        event=event,
        events=events,
        all_events=all_events,
        totals=service.totals(events),
        counties=service.by_county(events),
        missing=service.missing(events),
        number=number,
        percent=percent,
    )


@bp.get("/coverage", endpoint="coverage")
def coverage():
    """Coverage of the whole programme, or of one event with ?event=<slug>."""
    return _page(*_scope(request.args.get("event") or None))


@bp.get("/events/<slug>/coverage", endpoint="coverage_event")
def coverage_event(slug):
    """Coverage of one event."""
    return _page(*_scope(slug))


@bp.get("/coverage/missing.csv", endpoint="coverage_missing_csv")
def coverage_missing_csv():
    """The municipalities not reached yet, largest first, as CSV (?sep=semicolon for Excel)."""
    slug = request.args.get("event") or None
    event, events = _scope(slug)
    headers = (_("Kommunenummer"), _("Kommune"), _("Fylke"), _("Innbyggere"), _("Helseregion"))
    body = service.missing_csv(
        service.missing(events),
        headers,
        delimiter=";" if request.args.get("sep") == "semicolon" else ",",
    )
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", event.slug).strip("-") if event else "programmet"
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="kommuner-uten-pameldte-{stem}.csv"'
        },
    )
