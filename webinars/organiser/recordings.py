"""Organiser view: the recording link and the material of one event, on one page."""

from datetime import datetime
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, StringField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from .. import recordings as service
from ..extensions import db
from ..models import Event, Registration, utcnow
from . import bp

#: Empty rows offered for new material each time the page is shown.
BLANK_ROWS = 3


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def http_url(form, field):
    """Only http(s) links with a host: no javascript:, data: or relative links."""
    if not field.data:
        return
    parts = urlsplit(field.data)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(_l("Lenken må begynne med http:// eller https://."))
    if any(ch.isspace() or ord(ch) < 32 for ch in field.data):
        raise ValidationError(_l("Lenken kan ikke inneholde mellomrom."))


class MaterialForm(Form):
    """One material link; a row with neither title nor link is ignored."""

    title = StringField(
        _l("Tittel"),
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=200, message=_l("Tittelen kan være høyst %(max)d tegn.")),
        ],
    )
    url = StringField(
        _l("Lenke"),
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=500, message=_l("Lenken kan være høyst %(max)d tegn.")),
            http_url,
        ],
    )
    # A text field checked by hand: IntegerField's own parse error is only in English.
    position = StringField(
        _l("Rekkefølge"),
        filters=[_strip],
        validators=[Optional(), Regexp(r"^\d{1,3}$", message=_l("Skriv et helt tall."))],
    )
    remove = BooleanField(_l("Fjern"))

    @property
    def blank(self) -> bool:
        return not self.title.data and not self.url.data

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.remove.data or self.blank:
            return ok
        if not self.title.data:
            self.title.errors = [*self.title.errors, _("Skriv en tittel.")]
            ok = False
        if not self.url.data:
            self.url.errors = [*self.url.errors, _("Skriv lenken.")]
            ok = False
        return ok


class RecordingForm(FlaskForm):
    """The recording link, the material list and whether to mail everyone again."""

    recording_url = StringField(
        _l("Lenke til opptaket"),
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=500, message=_l("Lenken kan være høyst %(max)d tegn.")),
            http_url,
        ],
    )
    materials = FieldList(FormField(MaterialForm))
    notify_again = BooleanField(_l("Send e-post om opptaket til alle påmeldte på nytt"))
    #: When registrants were last told, as the page showed it (guards against double submits).
    round = HiddenField()

    def validate_notify_again(self, field):
        if field.data and not self.recording_url.data:
            raise ValidationError(_l("Legg inn lenken til opptaket før du varsler."))

    def links(self) -> list[service.MaterialLink]:
        """The kept material rows in the order the organiser gave (ties keep page order)."""
        rows = [
            (int(row.position.data) if row.position.data else 1000, index, row)
            for index, row in enumerate(self.materials)
            if not row.remove.data and not row.blank
        ]
        return [service.MaterialLink(row.title.data, row.url.data) for *_, row in sorted(rows)]

    def seen_round(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.round.data) if self.round.data else None
        except ValueError:
            return None


def _event(slug: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        abort(404)
    return event


def _mail_counts(event: Event) -> tuple[int, int]:
    """Registrants who get the recording mail, and how many of them got it already."""
    told = func.count(Registration.recording_mailed_at)
    total, mailed = db.session.execute(
        select(func.count(Registration.id), told).where(
            Registration.event_id == event.id,
            Registration.status.in_(service.RECIPIENT_STATUSES),
        )
    ).one()
    return total, mailed


def _render(event: Event, form: RecordingForm, status: int = 200):
    recipients, mailed = _mail_counts(event)
    return (
        render_template(
            "organiser/recording.html",
            event=event,
            form=form,
            recipients=recipients,
            mailed=mailed,
            ended=event.is_past(utcnow()),
        ),
        status,
    )


@bp.route("/events/<slug>/recording", methods=["GET", "POST"], endpoint="recording")
def recording(slug):
    """The recording link and material list; saving mails registrants not yet told, once."""
    event = _event(slug)
    if request.method == "GET":
        return _render(event, _initial_form(event))
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
    elif result.waiting_for_end and event.status == "published":
        flash(_("De påmeldte får e-post om opptaket når arrangementet er over."))
    return redirect(url_for(".recording", slug=event.slug), code=303)


def _initial_form(event: Event) -> RecordingForm:
    """The saved values, numbered in order, and a few empty rows for new material."""
    form = RecordingForm(
        recording_url=event.recording_url,
        round=event.recording_published_at.isoformat() if event.recording_published_at else "",
    )
    for index, item in enumerate(event.materials, start=1):
        form.materials.append_entry({"title": item.title, "url": item.url, "position": index})
    for _blank in range(BLANK_ROWS):
        form.materials.append_entry({"position": None})
    return form
