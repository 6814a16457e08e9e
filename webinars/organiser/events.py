"""Organiser views for events: the list, create, edit, publish, unpublish and cancel."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from .. import events as service
from ..extensions import db, reading
from ..models import Event, Municipality, Registration, utcnow
from ..municipalities import HEALTH_REGIONS
from . import bp
from .forms import CancelEventForm, EventForm


def _event(slug: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        abort(404)
    return event


def _choices() -> tuple[list[str], list[tuple[str, str]]]:
    """Health regions and counties of the municipality register, for the checkboxes."""
    found = set(
        db.session.scalars(select(Municipality.health_region).where(Municipality.active).distinct())
    )
    regions = [r for r in HEALTH_REGIONS if r in found] + sorted(found - set(HEALTH_REGIONS))
    counties = db.session.execute(
        select(Municipality.county_number, Municipality.county_name)
        .where(Municipality.active)
        .distinct()
        .order_by(Municipality.county_number)
    ).all()
    return regions, [(number, name) for number, name in counties]


def _eligible_count(event: Event) -> int:
    municipalities = db.session.scalars(select(Municipality).where(Municipality.active))
    return sum(1 for m in municipalities if event.eligible(m))


def _counts() -> dict[int, dict[str, int]]:
    rows = db.session.execute(
        select(Registration.event_id, Registration.status, func.count()).group_by(
            Registration.event_id, Registration.status
        )
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for event_id, status, n in rows:
        counts.setdefault(event_id, {})[status] = n
    return counts


@bp.get("/")
def index():
    """The organiser's start page is the list of events."""
    return redirect(url_for("organiser.events"))


@bp.get("/events")
def events():
    """Upcoming, past and draft events, with how many registered for each."""
    now = utcnow()
    rows = db.session.scalars(select(Event).order_by(Event.starts_at, Event.id)).all()
    drafts = [e for e in rows if e.status == "draft"]
    upcoming = [e for e in rows if e.status != "draft" and not e.is_past(now)]
    past = [e for e in reversed(rows) if e.status != "draft" and e.is_past(now)]
    return render_template(
        "organiser/events.html",
        sections=[
            ("upcoming", _("Kommende"), upcoming),
            ("past", _("Tidligere"), past),
            ("drafts", _("Utkast"), drafts),
        ],
        counts=_counts(),
    )


@bp.route("/events/new", methods=["GET", "POST"])
def new_event():
    """Create a meeting or webinar; it starts as a draft."""
    form = EventForm(*_choices())
    if not form.validate_on_submit():
        status = 422 if form.errors else 200
        return render_template("organiser/event_form.html", form=form, event=None), status
    try:
        event = service.create_event(form.to_fields())
    except service.InvalidEvent as exc:
        form.attach_errors(exc.errors)
        return render_template("organiser/event_form.html", form=form, event=None), 422
    flash(_("Arrangementet er lagret som utkast. Publiser det når det er klart."))
    return redirect(url_for("organiser.event", slug=event.slug), code=303)


@bp.get("/events/<slug>")
def event(slug):
    """One event for its organisers: the facts, the numbers, the actions."""
    event = _event(slug)
    return _overview(event)


def _overview(event: Event, error: str | None = None, status: int = 200):
    return (
        render_template(
            "organiser/event.html",
            event=event,
            counts=service.count_active(event),
            eligible=_eligible_count(event),
            now=utcnow(),
            error=error,
        ),
        status,
    )


@bp.route("/events/<slug>/edit", methods=["GET", "POST"])
def edit_event(slug):
    """Change an event; changes to time, place, link or title go to every registrant."""
    # Up to the service everything only reads; on SQLite the service takes the write lock
    # for its writes alone (see events.update_event).
    with reading():
        event = _event(slug)
        regions, counties = _choices()
        counts = service.count_active(event)
        # Filled from the event; on a POST the submitted values take precedence.
        form = EventForm.for_event(event, regions, counties)
        if not form.validate_on_submit():
            status = 422 if form.errors else 200
            return _form_page(form, event, counts), status
        fields = form.to_fields()
    try:
        outcome = service.update_event(event, fields)
    except service.InvalidEvent as exc:
        form.attach_errors(exc.errors)
        return _form_page(form, event, counts), 422
    flash(_saved_message(outcome))
    return redirect(url_for("organiser.event", slug=fields.slug), code=303)


def _form_page(form: EventForm, event: Event, counts: dict[str, int]) -> str:
    return render_template("organiser/event_form.html", form=form, event=event, counts=counts)


def _saved_message(outcome: service.Outcome) -> str:
    parts = [_("Endringene er lagret.")]
    if outcome.updated:
        parts.append(
            ngettext(
                "%(num)d påmeldt får oppdatert kalenderinvitasjon på e-post.",
                "%(num)d påmeldte får oppdatert kalenderinvitasjon på e-post.",
                outcome.updated,
            )
        )
    if outcome.waitlisted_told:
        parts.append(
            ngettext(
                "%(num)d på ventelisten får beskjed om endringen.",
                "%(num)d på ventelisten får beskjed om endringen.",
                outcome.waitlisted_told,
            )
        )
    if outcome.promoted:
        parts.append(
            ngettext(
                "%(num)d fra ventelisten har fått plass og får invitasjon.",
                "%(num)d fra ventelisten har fått plass og får invitasjon.",
                outcome.promoted,
            )
        )
    return " ".join(parts)


@bp.post("/events/<slug>/publish")
def publish_event(slug):
    """Publish a draft: the event page and registration open to everyone."""
    event = _event(slug)
    try:
        service.publish_event(event)
    except service.EventError as exc:
        return _overview(event, exc.message, exc.status)
    flash(_("Arrangementet er publisert."))
    return redirect(url_for("organiser.event", slug=event.slug), code=303)


@bp.post("/events/<slug>/unpublish")
def unpublish_event(slug):
    """Take an event without registrants back to draft."""
    event = _event(slug)
    try:
        service.unpublish_event(event)
    except service.EventError as exc:
        return _overview(event, exc.message, exc.status)
    flash(_("Arrangementet er trukket tilbake og er nå et utkast."))
    return redirect(url_for("organiser.event", slug=event.slug), code=303)


@bp.route("/events/<slug>/cancel", methods=["GET", "POST"])
def cancel_event(slug):
    """Ask first; then cancel the event and tell every registrant and their calendar."""
    with reading():
        event = _event(slug)
        form = CancelEventForm()
        counts = service.count_active(event)
        if not form.validate_on_submit():
            status = 422 if form.errors else 200
            page = render_template(
                "organiser/cancel_event.html", event=event, form=form, counts=counts, now=utcnow()
            )
            return page, status
    try:
        confirmed, waitlisted = service.cancel_event(event, form.message.data or "")
    except service.EventError as exc:
        return _overview(event, exc.message, exc.status)
    flash(
        _(
            "Arrangementet er avlyst. Avlysning er lagt i utboksen til %(confirmed)d påmeldte "
            "og %(waitlisted)d på ventelisten.",
            confirmed=confirmed,
            waitlisted=waitlisted,
        )
    )
    return redirect(url_for("organiser.event", slug=slug), code=303)
