"""Organiser views for one event's participants: the list, exports, cancel, add by hand."""

from flask import Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from .. import attendance, exports, registrations
from .. import participants as roster
from ..extensions import db
from ..models import ROLES, Event, Registration
from ..registration.forms import RegistrationForm
from ..security import page_number
from . import bp, event_or_404


def _back(event: Event, filters: roster.Filters):
    return redirect(url_for(".participants", slug=event.slug, **filters.as_args()), code=303)


@bp.get("/events/<slug>/participants", endpoint="participants")
def participant_list(slug):
    """Counts by status, seats left, and the searchable, filterable list."""
    event = event_or_404(slug)
    filters = roster.Filters.from_args(request.args)
    page = page_number(request.args)
    rows, total = roster.page(event, filters, page)
    places, counties = roster.filter_choices(event)
    return render_template(
        "organiser/participants.html",
        event=event,
        filters=filters,
        counts=registrations.status_counts(event),
        rows=rows,
        total=total,
        page=page,
        pages=max((total + roster.PAGE_SIZE - 1) // roster.PAGE_SIZE, 1),
        page_size=roster.PAGE_SIZE,
        municipalities=places,
        counties=counties,
        roles=ROLES,
        statuses=registrations.STATUS_LABELS,
        report=attendance.report_of(event),
    )


@bp.get("/events/<slug>/participants.csv", endpoint="participants_csv")
def participants_csv(slug):
    """The filtered list as CSV, streamed; ?sep=semicolon for a Norwegian Excel."""
    event = event_or_404(slug)
    filters = roster.Filters.from_args(request.args)
    rows = roster.stream_rows(db.engine, event.id, filters)
    body = exports.csv_chunks(
        rows,
        labels=exports.Labels.current(),
        zone=event.zone,
        about=exports.About.of(event),
        delimiter=";" if request.args.get("sep") == "semicolon" else ",",
        reported=attendance.report_of(event) is not None,
    )
    name = exports.filename(event.slug, "csv", event.local_start.date())
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/events/<slug>/participants.xlsx", endpoint="participants_xlsx")
def participants_xlsx(slug):
    """The filtered list as an Excel workbook, written to a temporary file and streamed."""
    event = event_or_404(slug)
    filters = roster.Filters.from_args(request.args)
    rows = roster.stream_rows(db.engine, event.id, filters)
    workbook = exports.xlsx_file(
        rows,
        labels=exports.Labels.current(),
        zone=event.zone,
        about=exports.About.of(event),
        reported=attendance.report_of(event) is not None,
    )
    return send_file(
        workbook,
        mimetype=exports.XLSX_MIMETYPE,
        as_attachment=True,
        download_name=exports.filename(event.slug, "xlsx", event.local_start.date()),
    )


@bp.get(
    "/events/<slug>/participants/<int:registration_id>/cancel",
    endpoint="confirm_cancel_participant",
)
def confirm_cancel_participant(slug, registration_id):
    """Asks before cancelling someone's registration."""
    event = event_or_404(slug)
    registration = roster.registration_of(event, registration_id) or abort(404)
    filters = roster.Filters.from_args(request.args)
    if registration.status == Registration.CANCELLED:
        flash(_("Påmeldingen var allerede avbestilt."))
        return _back(event, filters)
    return render_template(
        "organiser/confirm_cancel_participant.html",
        event=event,
        registration=registration,
        filters=filters,
    )


@bp.post("/events/<slug>/participants/<int:registration_id>/cancel", endpoint="cancel_participant")
def cancel_participant(slug, registration_id):
    """Cancels the registration; the registrant is told and the waiting list moves up."""
    event = event_or_404(slug)
    registration = roster.registration_of(event, registration_id) or abort(404)
    filters = roster.Filters.from_args(request.form)
    if registration.status == Registration.CANCELLED:
        flash(_("Påmeldingen var allerede avbestilt."))
        return _back(event, filters)
    name = registration.name
    promoted = registrations.cancel(registration, by_organiser=True)
    flash(
        _(
            "Påmeldingen til %(name)s er avbestilt, og %(name)s har fått beskjed på e-post.",
            name=name,
        )
    )
    for person in promoted:
        flash(
            _(
                "%(name)s fikk plassen fra ventelisten og har fått e-post med invitasjon.",
                name=person.name,
            )
        )
    return _back(event, filters)


@bp.route("/events/<slug>/participants/add", methods=["GET", "POST"], endpoint="add_participant")
def add_participant(slug):
    """Adds someone by hand, with the public form's rules but also after the deadline."""
    event = event_or_404(slug)
    form = RegistrationForm(event)
    if request.method == "GET" or not form.validate():
        status = 422 if request.method == "POST" else 200
        return render_template("organiser/add_participant.html", event=event, form=form), status
    try:
        registration, new = registrations.add_by_organiser(
            event,
            name=form.name.data,
            email=form.email.data,
            role=form.role.data,
            municipality=form.municipality.data,
            organisation=form.organisation.data or "",
            question=form.question.data or "",
        )
    except registrations.NotEligible as exc:
        form.municipality.errors = [exc.message]
        return render_template("organiser/add_participant.html", event=event, form=form), 422
    except registrations.RegistrationError as exc:
        unpublished = isinstance(exc, registrations.EventNotFound)
        reason = (
            _("Arrangementet er ikke publisert. Publiser det før du legger til deltakere.")
            if unpublished
            else exc.message
        )
        page = render_template(
            "organiser/add_participant.html", event=event, form=form, reason=reason
        )
        return page, 409 if unpublished else exc.status
    flash(render_template("organiser/_participant_added.txt", registration=registration, new=new))
    return _back(event, roster.Filters())
