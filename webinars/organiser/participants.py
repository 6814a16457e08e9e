"""Organiser views for one event's participants: the list, exports, cancel, add by hand."""

import tempfile

from flask import Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import exports, services
from .. import participants as roster
from ..extensions import db
from ..models import ROLES, Event, Municipality
from ..registration.forms import RegistrationForm
from . import bp


def _event(slug: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        abort(404)
    return event


def _back(event: Event, filters: roster.Filters):
    return redirect(url_for(".participants", slug=event.slug, **filters.as_args()), code=303)


@bp.get("/events/<slug>/participants", endpoint="participants")
def participant_list(slug):
    """Counts by status, seats left, and the searchable, filterable list."""
    event = _event(slug)
    filters = roster.Filters.from_args(request.args)
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = roster.page(event, filters, page)
    municipalities, counties = roster.filter_choices(event)
    return render_template(
        "organiser/participants.html",
        event=event,
        filters=filters,
        counts=roster.status_counts(event),
        rows=rows,
        total=total,
        page=page,
        pages=max((total + roster.PAGE_SIZE - 1) // roster.PAGE_SIZE, 1),
        page_size=roster.PAGE_SIZE,
        municipalities=municipalities,
        counties=counties,
        roles=ROLES,
        statuses=roster.STATUS_LABELS,
        stamp=exports.local_stamp,
    )


@bp.get("/events/<slug>/participants.csv", endpoint="participants_csv")
def participants_csv(slug):
    """The filtered list as CSV, streamed; ?sep=semicolon for a Norwegian Excel."""
    event = _event(slug)
    filters = roster.Filters.from_args(request.args)
    rows = roster.stream_rows(db.engine, event.id, filters)
    body = exports.csv_chunks(
        rows,
        labels=exports.Labels.current(),
        zone=event.zone,
        delimiter=";" if request.args.get("sep") == "semicolon" else ",",
    )
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{exports.filename(event.slug, "csv")}"'
        },
    )


@bp.get("/events/<slug>/participants.xlsx", endpoint="participants_xlsx")
def participants_xlsx(slug):
    """The filtered list as an Excel workbook, written to a temporary file and streamed."""
    event = _event(slug)
    filters = roster.Filters.from_args(request.args)
    # An anonymous temporary file: the response closes it after sending, and it is gone.
    target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    rows = roster.stream_rows(db.engine, event.id, filters)
    try:
        exports.write_xlsx(rows, target, labels=exports.Labels.current(), zone=event.zone)
        target.seek(0)
    except BaseException:
        target.close()
        raise
    finally:
        rows.close()
    return send_file(
        target,
        mimetype=exports.XLSX_MIMETYPE,
        as_attachment=True,
        download_name=exports.filename(event.slug, "xlsx"),
    )


@bp.get(
    "/events/<slug>/participants/<int:registration_id>/cancel",
    endpoint="confirm_cancel_participant",
)
def confirm_cancel_participant(slug, registration_id):
    """Asks before cancelling someone's registration."""
    event = _event(slug)
    registration = roster.registration_of(event, registration_id) or abort(404)
    filters = roster.Filters.from_args(request.args)
    if registration.status == "cancelled":
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
    event = _event(slug)
    registration = roster.registration_of(event, registration_id) or abort(404)
    filters = roster.Filters.from_args(request.form)
    if registration.status == "cancelled":
        flash(_("Påmeldingen var allerede avbestilt."))
        return _back(event, filters)
    name = registration.name
    promoted = roster.cancel_by_organiser(registration)
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


def _form(event: Event) -> RegistrationForm:
    municipalities = db.session.scalars(
        select(Municipality).where(Municipality.active).order_by(Municipality.name)
    ).all()
    return RegistrationForm(event, municipalities)


@bp.route("/events/<slug>/participants/add", methods=["GET", "POST"], endpoint="add_participant")
def add_participant(slug):
    """Adds someone by hand, with the public form's rules but also after the deadline."""
    event = _event(slug)
    form = _form(event)
    if request.method == "GET" or not form.validate():
        status = 422 if request.method == "POST" else 200
        return render_template("organiser/add_participant.html", event=event, form=form), status
    try:
        registration, new = roster.add_by_hand(
            event,
            name=form.name.data,
            email=form.email.data,
            role=form.role.data,
            municipality=form.municipality.data,
            organisation=form.organisation.data or "",
        )
    except services.NotEligible as exc:
        form.municipality.errors = [exc.message]
        return render_template("organiser/add_participant.html", event=event, form=form), 422
    except services.RegistrationError as exc:
        db.session.rollback()
        reason = exc.message
        if isinstance(exc, services.EventNotFound):
            reason = _("Arrangementet er ikke publisert. Publiser det før du legger til deltakere.")
        return render_template(
            "organiser/add_participant.html", event=event, form=form, reason=reason
        ), 409 if isinstance(exc, services.EventNotFound) else exc.status
    if not new:
        flash(
            _(
                "%(email)s var allerede påmeldt. Bekreftelsen med ny personlig lenke er sendt "
                "på nytt.",
                email=registration.email,
            )
        )
    elif registration.status == "waitlisted":
        flash(
            _(
                "%(name)s er satt på ventelisten. Bekreftelsen er sendt til %(email)s.",
                name=registration.name,
                email=registration.email,
            )
        )
    else:
        flash(
            _(
                "%(name)s er påmeldt. Bekreftelsen med invitasjon og personlig lenke er sendt "
                "til %(email)s.",
                name=registration.name,
                email=registration.email,
            )
        )
    return _back(event, roster.Filters())
