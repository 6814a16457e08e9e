"""Organiser view: invite contacts to one event, seeing how many will be mailed first."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import invitations as service
from .. import municipalities, registrations
from ..models import ROLES, Event
from . import bp, event_or_404
from .campaign_forms import InvitationForm


def _form(audience: service.Audience, formdata=None) -> InvitationForm:
    form = InvitationForm(formdata=formdata, data=audience.__dict__)
    _regions, counties = municipalities.region_and_county_choices()
    form.county.choices = [("", _("Alle fylker"))] + counties
    form.role.choices = [("", _("Alle roller"))] + [(key, _(label)) for key, label in ROLES.items()]
    return form


def _page(event: Event, audience: service.Audience, error: str | None = None, status: int = 200):
    page = render_template(
        "organiser/invitations.html",
        event=event,
        form=_form(audience),
        audience=audience,
        plan=service.plan(event, audience),
        counts=service.counts(event),
        is_open=registrations.is_open(event),
        error=error,
    )
    return page, status


@bp.get("/events/<slug>/invitations", endpoint="invitations")
def invitations(slug):
    """Choose whom to invite; the page counts how many that mails before anything is sent."""
    event = event_or_404(slug)
    return _page(event, service.Audience.from_args(request.args))


@bp.post("/events/<slug>/invitations", endpoint="send_invitations")
def send_invitations(slug):
    """Send the invitations (each contact once per event; reminders only if asked)."""
    event = event_or_404(slug)
    audience = service.Audience.from_args(request.form)
    if not InvitationForm().validate_on_submit():
        return _page(event, audience, _("Skjemaet var utløpt. Send det på nytt."), 400)
    try:
        sent = service.send(event, audience)
    except service.InvitationError as exc:
        return _page(event, audience, exc.message, 409)
    flash(
        _(
            "%(invitations)d invitasjoner og %(reminders)d påminnelser er lagt i utboksen "
            "(%(municipalities)d kommuner).",
            invitations=sent.invitations,
            reminders=sent.reminders,
            municipalities=sent.municipalities,
        )
    )
    args = {k: v for k, v in audience.__dict__.items() if v}
    return redirect(url_for(".invitations", slug=event.slug, **args), code=303)
