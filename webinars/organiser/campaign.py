"""Organiser views: the campaign page of a programme, its map, and whom to call next."""

from __future__ import annotations

from datetime import date

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import campaign as service
from .. import charts, declarations, exports, i18n, programmes
from ..models import ROLES, Event
from . import bp, event_or_404, programme_or_404

#: Municipalities the call list shows before "show all".
CALL_PAGE = 50


def _today(programme) -> date:
    """The programme's local date today (its events' zone; Oslo when it has none)."""
    zone = programme.events[0].zone if programme.events else None
    return i18n.local_today(zone)


def _map(rows) -> charts.MapView:
    people = i18n.counted("%(num)s innbygger", "%(num)s innbyggere")
    return charts.map_view(rows, _("Ikke med i kampanjen"), people)


def _pictures(overview, today):
    """The map and the two charts for the page."""
    day = i18n.short_date
    return {
        "map": _map(overview.places),
        "signed_chart": charts.signed_chart(overview.timeline, today, day, i18n.percent),
        "registrations_chart": charts.registrations_chart(
            overview.timeline, today, day, i18n.number
        ),
    }


@bp.get("/programmes/<slug>", endpoint="campaign")
def campaign(slug):
    """The campaign: goal, funnel, map, chart over time, whom to call next, by county."""
    programme = programme_or_404(slug)
    today = _today(programme)
    show_all = request.args.get("calls") == "all"
    overview = service.overview(programme, today, contacts_for=None if show_all else CALL_PAGE)
    return render_template(
        "organiser/campaign/page.html",
        programme=programme,
        overview=overview,
        today=today,
        steps={step: str(label) for step, label in service.STEP_LABELS.items()},
        pending=declarations.pending(programme),
        roles={key: _(label) for key, label in ROLES.items()},
        show_all_calls=show_all,
        call_page=CALL_PAGE,
        **_pictures(overview, today),
    )


@bp.get("/programmes/<slug>/map.svg", endpoint="campaign_map")
def campaign_map(slug):
    """The map alone, as an SVG file; every shape carries data-municipality."""
    programme = programme_or_404(slug)
    rows = service.places(programme)
    body = render_template("organiser/campaign/map.svg", programme=programme, map=_map(rows))
    return Response(body, mimetype="image/svg+xml")


def _calls(slug):
    programme = programme_or_404(slug)
    today = _today(programme)
    rows = service.places(programme)
    calls = service.calls(programme, rows, service.standing(programme, rows, today))
    return programme, service.call_table(calls)


@bp.get("/programmes/<slug>/calls.csv", endpoint="campaign_calls_csv")
def campaign_calls_csv(slug):
    """Unsigned eligible municipalities, largest first, as CSV (?sep=semicolon for Excel)."""
    programme, (headers, rows) = _calls(slug)
    body = exports.table_csv(
        headers, rows, delimiter=";" if request.args.get("sep") == "semicolon" else ","
    )
    name = exports.safe_name(programme.slug)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-ringeliste.csv"'},
    )


@bp.get("/programmes/<slug>/calls.xlsx", endpoint="campaign_calls_xlsx")
def campaign_calls_xlsx(slug):
    """The same call list as an Excel workbook."""
    programme, (headers, rows) = _calls(slug)
    body = exports.table_xlsx(headers, rows, sheet_name=_("Ringeliste"), percent_columns=(8,))
    name = exports.safe_name(programme.slug)
    return Response(
        body,
        mimetype=exports.XLSX_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}-ringeliste.xlsx"'},
    )


# --- the old coverage pages -----------------------------------------------------------------


def _campaign_of(event: Event | None):
    """Where an old coverage link goes now: the event's campaign, or the programme list."""
    if event is not None and event.programme is not None:
        return redirect(url_for(".campaign", slug=event.programme.slug), code=301)
    return redirect(url_for(".programmes"), code=301)


@bp.get("/coverage", endpoint="coverage")
def coverage():
    """Moved: coverage is part of the campaign page of the programme."""
    slug = request.args.get("event")
    if slug:
        return _campaign_of(event_or_404(slug))
    only = programmes.sole_programme()
    if only is not None:
        return redirect(url_for(".campaign", slug=only.slug), code=301)
    return redirect(url_for(".programmes"), code=301)


@bp.get("/events/<slug>/coverage", endpoint="coverage_event")
def coverage_event(slug):
    """Moved: the campaign page of the event's programme."""
    return _campaign_of(event_or_404(slug))


@bp.get("/coverage/missing.csv", endpoint="coverage_missing_csv")
def coverage_missing_csv():
    """Moved: the call list of the programme (unsigned municipalities, largest first)."""
    slug = request.args.get("event")
    event = event_or_404(slug) if slug else None
    programme = event.programme if event else programmes.sole_programme()
    if programme is None:
        return redirect(url_for(".programmes"), code=301)
    args = {"sep": "semicolon"} if request.args.get("sep") == "semicolon" else {}
    return redirect(url_for(".campaign_calls_csv", slug=programme.slug, **args), code=301)
