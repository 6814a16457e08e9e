"""Organiser view: the recording link and the material of one event, on one page."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import recordings as service
from ..models import Event, utcnow
from . import bp, event_or_404
from .forms import RecordingForm


def _render(event: Event, form: RecordingForm, status: int = 200):
    recipients, mailed = service.mail_counts(event)
    page = render_template(
        "organiser/recording.html",
        event=event,
        form=form,
        recipients=recipients,
        mailed=mailed,
        ended=event.is_past(utcnow()),
    )
    return page, status


@bp.route("/events/<slug>/recording", methods=["GET", "POST"], endpoint="recording")
def recording(slug):
    """The recording link and material list; saving mails registrants not yet told, once."""
    event = event_or_404(slug)
    if request.method == "GET":
        return _render(event, RecordingForm.for_event(event))
    form = RecordingForm()
    if not form.validate():
        return _render(event, form, 422)
    result = service.save_recording(
        event,
        recording_url=form.recording_url.data or "",
        materials=form.links(),
        notify_again=form.notify_again.data,
        seen_round=form.seen_round(),
    )
    flash(_("Opptak og materiell er lagret."))
    if result.mailed:
        flash(
            _("E-post om opptaket er lagt i utboksen til %(count)d påmeldte.", count=result.mailed)
        )
    elif result.already_notified:
        flash(
            _("De påmeldte var allerede varslet på nytt, så det ble ikke sendt e-post en gang til.")
        )
    elif result.waiting_for_end and event.status == Event.PUBLISHED:
        flash(_("De påmeldte får e-post om opptaket når arrangementet er over."))
    return redirect(url_for(".recording", slug=event.slug), code=303)
