"""Organiser views for events: the list, create, copy, preview, edit, publish, unpublish and
cancel."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import events as service
from .. import municipalities, programmes, questions, registrations
from ..models import Event, utcnow
from ..registration.forms import for_event as registration_form
from . import bp, event_or_404
from .forms import CancelEventForm, EventForm


def _choices():
    """The regions, counties and programmes the event form offers."""
    return (*municipalities.region_and_county_choices(), programmes.all_programmes())


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
    """Create a meeting or webinar; it starts as a draft. ?programme=<slug> puts it in that
    programme; the organiser name and mailbox start from the programme or the last event."""
    regions, counties, offered = _choices()
    form = EventForm(regions, counties, programmes=offered)
    if request.method == "GET":
        programme = programmes.by_slug(request.args.get("programme", "")[:80])
        if programme is not None:
            form.programme.data = str(programme.id)
        defaults = service.organiser_defaults(current_user.id, programme, current_user.email)
        form.organiser_name.data = defaults.name
        form.organiser_email.data = defaults.email
    return _create(form, None)


@bp.route("/events/<slug>/copy", methods=["GET", "POST"], endpoint="copy_event")
def copy_event(slug):
    """Copy an event to a new date and address: a new draft with nothing of the original's
    registrations, attendance, invitations, recording or questions."""
    original = event_or_404(slug)
    regions, counties, offered = _choices()
    if request.method == "GET":
        form = EventForm.copy_of(
            original, service.free_slug(original.slug), regions, counties, offered
        )
    else:
        form = EventForm(regions, counties, current_zone=original.timezone, programmes=offered)
    return _create(form, original)


def _create(form: EventForm, original: Event | None):
    page = "organiser/event_form.html"
    if not form.validate_on_submit():
        status = 422 if form.errors else 200
        return render_template(page, form=form, event=None, original=original), status
    try:
        event = service.create_event(form.to_fields(), created_by=current_user.id)
    except service.InvalidEvent as exc:
        form.attach_errors(exc.errors)
        return render_template(page, form=form, event=None, original=original), 422
    flash(_("Arrangementet er lagret som utkast. Publiser det når det er klart."))
    return redirect(url_for("organiser.event", slug=event.slug), code=303)


@bp.get("/events/<slug>/preview", endpoint="preview_event")
def preview_event(slug):
    """The event page as the public will see it once published; the form cannot be sent."""
    event = event_or_404(slug)
    shown = service.Preview(event)
    now = utcnow()
    form = registration_form(event) if registrations.is_open(shown, now) else None
    page = render_template("organiser/preview.html", event=shown, form=form, now=now)
    return page, 200, {"X-Robots-Tag": "noindex, nofollow"}


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
    form = EventForm.for_event(event, *_choices())
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
