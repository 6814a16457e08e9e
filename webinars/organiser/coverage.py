"""Organiser views: municipality coverage for the programme or one event, and whom to call."""

import re

from flask import Response, render_template, request
from flask_babel import gettext as _

from .. import coverage as service
from ..events import all_events
from ..models import Event
from . import bp, event_or_404


def _scope(slug: str | None) -> tuple[Event | None, list[Event]]:
    """One event (any status) or the whole programme (every published event)."""
    if slug:
        event = event_or_404(slug)
        return event, [event]
    return None, service.programme_events()


def _page(event: Event | None, events: list[Event]):
    return render_template(
        "organiser/coverage.html",
        event=event,
        events=events,
        all_events=all_events(),
        totals=service.totals(events),
        counties=service.by_county(events),
        missing=service.missing(events),
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
    event, events = _scope(request.args.get("event") or None)
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
