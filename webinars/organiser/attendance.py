"""Organiser view: load an event's participant report and see who attended and who matched."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import attendance as service
from .. import uploads
from ..models import Event
from . import bp, event_or_404
from .campaign_forms import AttendanceForm


def _page(event: Event, form: AttendanceForm, error=None, status: int = 200):
    report = service.report_of(event)
    page = render_template(
        "organiser/attendance.html",
        event=event,
        form=form,
        report=report,
        unmatched=service.unmatched_of(report) if report else [],
        sources=service.SOURCE_LABELS,
        error=error,
    )
    return page, status


@bp.get("/events/<slug>/attendance", endpoint="attendance")
def attendance(slug):
    """The loaded report (who matched, who did not) and a form to load one."""
    return _page(event_or_404(slug), AttendanceForm())


@bp.post("/events/<slug>/attendance", endpoint="load_attendance")
@uploads.limit(uploads.FILE_LIMIT)
def load_attendance(slug):
    """Load a Zoom, Teams or CSV participant report; it replaces the previous one."""
    event = event_or_404(slug)
    form = AttendanceForm()
    if not form.validate_on_submit():
        return _page(event, form, status=422)
    upload = form.file.data
    try:
        loaded = service.load(
            event,
            upload.read(),
            filename=upload.filename or "",
            by=current_user.email,
            any_date=form.any_date.data,
        )
    except service.AttendanceError as exc:
        return _page(event, form, error=exc.message, status=422)
    flash(
        _(
            "Rapporten er lest inn: %(attendees)d deltok, %(matched)d av dem er funnet blant "
            "de påmeldte.",
            attendees=loaded.attendees,
            matched=loaded.matched,
        )
    )
    return redirect(url_for(".attendance", slug=event.slug), code=303)
