"""Organiser views: outgoing mail, per event and for all, and retrying failed messages."""

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from .. import outbox as service
from ..extensions import db
from ..models import Event
from . import bp


def _event(slug: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        abort(404)
    return event


def _local(value: datetime | None) -> str:
    """'05.05.2020 14:03' in the service's zone (Europe/Oslo)."""
    if value is None:
        return ""
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return format_datetime(value.astimezone(zone), "dd.MM.y HH:mm", locale="nb_NO")


def _page(event: Event | None):
    status = request.args.get("status") or None
    if status not in service.STATUS_LABELS:
        status = None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
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
        kinds=service.KIND_LABELS,
        local=_local,
        zone=current_app.config["DEFAULT_TIMEZONE"],
    )


@bp.get("/mail", endpoint="outbox")
def outbox():
    """Every outgoing message, newest first, filterable by state."""
    return _page(None)


@bp.get("/events/<slug>/mail", endpoint="outbox_event")
def outbox_event(slug):
    """The outgoing messages of one event."""
    return _page(_event(slug))


def _back():
    """Back to the list the form was posted from (only our own pages)."""
    target = request.form.get("next", "")
    if target.startswith("/organiser/") and not target.startswith("//") and "\\" not in target:
        return redirect(target, code=303)
    return redirect(url_for(".outbox"), code=303)


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
    count = service.retry_failed(_event(slug) if slug else None)
    flash(
        ngettext(
            "%(num)d melding er lagt i køen igjen.",
            "%(num)d meldinger er lagt i køen igjen.",
            count,
        )
    )
    return _back()
