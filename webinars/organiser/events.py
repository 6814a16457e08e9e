"""Organiser views for events: the list, create, edit, publish, unpublish and cancel."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from .. import events as service
from .. import municipalities, questions, registrations
from ..models import Event, utcnow
from . import bp, event_or_404
from .forms import CancelEventForm, EventForm


@bp.get("/")
def index():
    """The organiser's start page is the list of events."""
    return redirect(url_for("organiser.events"))


@bp.get("/events")
def events():
    """Upcoming, past and draft events, with how many registered for each."""
    now = utcnow()
    rows = service.all_events()
    drafts = [e for e in rows if e.status == Event.DRAFT]
    upcoming = [e for e in rows if e.status != Event.DRAFT and not e.is_past(now)]
    past = [e for e in reversed(rows) if e.status != Event.DRAFT and e.is_past(now)]
    return render_template(
        "organiser/events.html",
        sections=[
            ("upcoming", _("Kommende"), upcoming),
            ("past", _("Tidligere"), past),
            ("drafts", _("Utkast"), drafts),
        ],
        counts=registrations.status_counts_by_event(),
    )


@bp.route("/events/new", methods=["GET", "POST"])
def new_event():
    """Create a meeting or webinar; it starts as a draft."""
    form = EventForm(*municipalities.region_and_county_choices())
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
    return _overview(event_or_404(slug))


def _overview(event: Event, error: str | None = None, status: int = 200):
    return (
        render_template(
            "organiser/event.html",
            event=event,
            counts=registrations.status_counts(event),
            eligible=registrations.eligible_count(event),
            questions=questions.counts(event),
            now=utcnow(),
            error=error,
        ),
        status,
    )


@bp.route("/events/<slug>/edit", methods=["GET", "POST"])
def edit_event(slug):
    """Change an event; changes to time, place, link or title go to every registrant."""
    event = event_or_404(slug)
    counts = registrations.status_counts(event)
    # Filled from the event; on a POST the submitted values take precedence.
    form = EventForm.for_event(event, *municipalities.region_and_county_choices())
    if not form.validate_on_submit():
        return _form_page(form, event, counts), 422 if form.errors else 200
    fields = form.to_fields()
    try:
        outcome = service.update_event(event, fields)
    except service.InvalidEvent as exc:
        form.attach_errors(exc.errors)
        return _form_page(form, event, counts), 422
    flash(render_template("organiser/_event_saved.txt", outcome=outcome))
    return redirect(url_for("organiser.event", slug=fields.slug), code=303)


def _form_page(form: EventForm, event: Event, counts: dict[str, int]) -> str:
    return render_template("organiser/event_form.html", form=form, event=event, counts=counts)


@bp.post("/events/<slug>/publish")
def publish_event(slug):
    """Publish a draft: the event page and registration open to everyone."""
    event = event_or_404(slug)
    try:
        service.publish_event(event)
    except service.EventError as exc:
        return _overview(event, exc.message, exc.status)
    flash(_("Arrangementet er publisert."))
    return redirect(url_for("organiser.event", slug=event.slug), code=303)


@bp.post("/events/<slug>/unpublish")
def unpublish_event(slug):
    """Take an event without registrants back to draft."""
    event = event_or_404(slug)
    try:
        service.unpublish_event(event)
    except service.EventError as exc:
        return _overview(event, exc.message, exc.status)
    flash(_("Arrangementet er trukket tilbake og er nå et utkast."))
    return redirect(url_for("organiser.event", slug=event.slug), code=303)


@bp.route("/events/<slug>/cancel", methods=["GET", "POST"])
def cancel_event(slug):
    """Ask first; then cancel the event and tell every registrant and their calendar."""
    event = event_or_404(slug)
    form = CancelEventForm()
    if not form.validate_on_submit():
        page = render_template(
            "organiser/cancel_event.html",
            event=event,
            form=form,
            counts=registrations.status_counts(event),
            now=utcnow(),
        )
        return page, 422 if form.errors else 200
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
