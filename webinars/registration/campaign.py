"""Public views reached from a contact's own mail: the invitation (the registration form
filled in), one-click unsubscribe (RFC 8058) and handing in the signed declaration.

Each link is personal: the pages are never cached and never sent on as a Referer.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import contacts, declarations, links, programmes, registrations, uploads
from ..extensions import csrf, db
from ..invitations import contact_for_link
from ..models import Contact, Programme, utcnow
from . import bp
from .forms import SubmissionForm, for_event
from .views import private


def _page(template: str, status: int = 200, **context):
    response = current_app.make_response((render_template(template, **context), status))
    return private(response)


@bp.get("/i/<token>", endpoint="invitation")
def invitation(token):
    """The invitation link: the event page with the form already filled in for this contact."""
    ids = links.read(links.INVITATION, token, 2) or abort(404)
    found = contact_for_link(*ids) or abort(404)
    contact, event = found
    if event.status not in ("published", "cancelled"):
        abort(404)
    form = None
    if registrations.form_open(event):
        form = for_event(
            event,
            data={
                "name": contact.name,
                "email": contact.email,
                "role": contact.role,
                "municipality": contact.municipality_number,
            },
        )
    return _page("registration/event.html", event=event, form=form, now=utcnow(), invited=True)


def _contact(token: str) -> Contact:
    ids = links.read(links.UNSUBSCRIBE, token, 1) or abort(404)
    return db.session.get(Contact, ids[0]) or abort(404)


@bp.route("/u/<token>", methods=["GET", "POST"], endpoint="unsubscribe")
@csrf.exempt  # RFC 8058: mail clients POST here without a form; the signed token is the proof
def unsubscribe(token):
    """GET asks (link scanners follow links); a POST, one-click from the mail client, opts out."""
    contact = _contact(token)
    done = request.method == "POST"
    if done:
        contacts.unsubscribe(contact)
    return _page("registration/unsubscribe.html", contact=contact, token=token, done=done)


def _submission(token: str) -> tuple[Contact, Programme]:
    ids = links.read(links.SUBMISSION, token, 2) or abort(404)
    contact = db.session.get(Contact, ids[0]) or abort(404)
    programme = db.session.get(Programme, ids[1]) or abort(404)
    return contact, programme


def _submission_page(token, contact, programme, form, error=None, status=200):
    return _page(
        "registration/submit_declaration.html",
        status,
        token=token,
        contact=contact,
        programme=programme,
        form=form,
        error=error,
        eligible=programmes.is_eligible(programme, contact.municipality),
        signed=declarations.accepted_of(programme, contact.municipality_number),
    )


@bp.get("/d/<token>", endpoint="submission")
def submission(token):
    """The municipality's page to hand in its signed declaration."""
    contact, programme = _submission(token)
    return _submission_page(token, contact, programme, SubmissionForm())


@bp.post("/d/<token>", endpoint="submit_declaration")
@uploads.limit(declarations.MAX_DOCUMENT)
def submit_declaration(token):
    """Store the signed declaration; it counts once an organiser has accepted it."""
    contact, programme = _submission(token)
    form = SubmissionForm()
    if not form.validate_on_submit():
        return _submission_page(token, contact, programme, form, status=422)
    upload = form.document.data
    try:
        declarations.submit(
            programme,
            contact,
            signed_on=form.signed_on.data,
            signed_by_name=form.signed_by_name.data,
            signed_by_role=form.signed_by_role.data,
            note=form.note.data or "",
            document=declarations.Upload(upload.filename or "", upload.read()),
        )
    except declarations.DeclarationError as exc:
        field = getattr(form, exc.field or "document")
        field.errors = [*field.errors, exc.message]
        return _submission_page(token, contact, programme, form, status=exc.status)
    flash(
        _(
            "Takk! Den signerte erklæringen er mottatt. Den teller når arrangøren har sett "
            "over og godkjent den."
        )
    )
    return redirect(url_for(".submission", token=token), code=303)
