"""Organiser views: outgoing mail, per event and for all, and retrying failed messages."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ..mail import outbox as service
from ..models import Event
from ..security import page_number
from . import bp, event_or_404
from .auth import safe_next


def _page(event: Event | None):
    status = request.args.get("status") or None
    if status not in service.STATUS_LABELS:
        status = None
    page = page_number(request.args)
    rows, total = service.messages(event, status, page)
    return render_template(
        "organiser/outbox.html",
        event=event,
        rows=rows,
        total=total,
        status=status,
        page=page,
        pages=max((total + service.PAGE_SIZE - 1) // service.PAGE_SIZE, 1),
        counts=service.counts(event),
        statuses=service.STATUS_LABELS,
        kind_label=service.label,
        zone=current_app.config["DEFAULT_TIMEZONE"],
    )


@bp.get("/mail", endpoint="outbox")
def outbox():
    """Every outgoing message, newest first, filterable by state."""
    return _page(None)


@bp.get("/events/<slug>/mail", endpoint="outbox_event")
def outbox_event(slug):
    """The outgoing messages of one event."""
    return _page(event_or_404(slug))


def _back():
    """Back to the list the form was posted from (only our own pages)."""
    return redirect(safe_next(request.form.get("next"), url_for(".outbox")), code=303)


@bp.post("/mail/<int:message_id>/retry", endpoint="outbox_retry")
def outbox_retry(message_id):
    """Send one failed message again, now."""
    if service.retry(message_id):
        flash(_("Meldingen er lagt i køen igjen og sendes straks."))
    else:
        flash(_("Meldingen har ikke feilet (lenger), så den ble ikke sendt på nytt."))
    return _back()


@bp.post("/mail/retry-failed", endpoint="outbox_retry_failed")
def outbox_retry_failed():
    """Send every failed message again (of one event when the form names it)."""
    slug = request.form.get("event")
    count = service.retry_failed(event_or_404(slug) if slug else None)
    flash(
        ngettext(
            "%(num)d melding er lagt i køen igjen.",
            "%(num)d meldinger er lagt i køen igjen.",
            count,
        )
    )
    return _back()
