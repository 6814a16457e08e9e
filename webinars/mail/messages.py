"""Every e-mail the service sends: one function per kind to queue it, and how it is composed.

Each `queue_*` function builds its message's context and puts it in the outbox in the
caller's write transaction; they are the only callers of `outbox.queue`. The deliverer
calls `compose` to render the template triplet `email/<template>/{subject.txt, body.txt,
body.html}` in the recipient's language, with the calendar invite when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale

from .. import i18n, ical, links
from ..models import Contact, Event, OutboxMessage, Programme, Registration, utcnow
from . import outbox

REQUEST = "REQUEST"
CANCEL = "CANCEL"


# --- one function per kind ------------------------------------------------------------------


def queue_confirmation(registration: Registration, token: str, *, again: bool = False):
    """ "You are registered" (or on the waiting list), with the invite and the manage link."""
    return _queue_invite(outbox.CONFIRMATION, registration, token, again=again)


def queue_promoted(registration: Registration, token: str):
    """ "You got a seat from the waiting list", with the invite and a manage link."""
    return _queue_invite(outbox.PROMOTED, registration, token)


def queue_event_updated(registration: Registration, changes: dict[str, tuple]):
    """What changed in the event; confirmed registrants get the updated invite."""
    return _queue_invite(outbox.EVENT_UPDATED, registration, None, changes=changes)


def queue_cancellation(registration: Registration, *, by_organiser: bool = False, had_seat: bool):
    """ "Your registration is cancelled", with a CANCEL for a calendar that had the invite."""
    return _queue(
        outbox.CANCELLATION,
        registration,
        invite=CANCEL if had_seat else None,
        by_organiser=by_organiser,
    )


def queue_event_cancelled(registration: Registration, note: str = ""):
    """ "The event is cancelled", with the organiser's note and a CANCEL for the confirmed."""
    confirmed = registration.status == Registration.CONFIRMED
    return _queue(
        outbox.EVENT_CANCELLED, registration, invite=CANCEL if confirmed else None, note=note
    )


def queue_reminder(registration: Registration, *, hour: bool):
    """A reminder a day (or an hour) before the start, with the join link."""
    kind = outbox.REMINDER_HOUR if hour else outbox.REMINDER_DAY
    return _queue(kind, registration, hour=hour)


def queue_recording(
    registration: Registration, *, again: bool = False, attended: bool | None = None
):
    """ "The recording is available": recording, material, the event page; no join link.

    After a participant report was loaded, those who attended (attended=True) are thanked
    for coming and those who did not (False) are told what they missed.
    """
    return _queue(outbox.RECORDING, registration, again=again, attended=attended)


def queue_invitation(contact: Contact, event: Event, *, reminder: bool = False):
    """An invitation (or a reminder of it) with the contact's link to the filled-in form."""
    kind = outbox.INVITATION_REMINDER if reminder else outbox.INVITATION
    context = {"contact_id": contact.id, "reminder": reminder}
    return _queue_to_contact(kind, contact, event=event, **context)


def queue_submission_link(contact: Contact, programme: Programme):
    """The contact's personal link to hand in their municipality's signed declaration."""
    locale = "nb"
    with force_locale(locale):
        due = i18n.long_day(programme.declarations_due)
    context = {
        "contact_id": contact.id,
        "programme_id": programme.id,
        "programme_title": programme.title,
        "municipality": contact.municipality.name,
        "due": due,
        "organiser": programme.organiser_name or programme.organiser_email,
        "reply_to": programme.organiser_email,
        "reply_name": programme.organiser_name,
    }
    return _queue_to_contact(outbox.SUBMISSION_LINK, contact, locale=locale, **context)


def _queue_to_contact(
    kind: outbox.Kind, contact: Contact, *, event: Event | None = None, locale="nb", **context
) -> OutboxMessage:
    return outbox.queue(
        kind,
        subject=render_subject(kind.template, locale, event=event, **context),
        recipient=contact.email,
        recipient_name=contact.name,
        message_id=make_msgid(domain=_host()),
        event=event,
        locale=locale,
        context=context,
    )


def _queue_invite(kind: outbox.Kind, registration: Registration, token: str | None, **context):
    """A mail with the personal REQUEST invite; the waiting list gets none."""
    confirmed = registration.status == Registration.CONFIRMED
    return _queue(
        kind,
        registration,
        invite=REQUEST if confirmed else None,
        token=token,
        status=registration.status,
        **context,
    )


def _queue(
    kind: outbox.Kind,
    registration: Registration,
    *,
    invite: str | None = None,
    token: str | None = None,
    **context,
) -> OutboxMessage:
    event = registration.event
    locale = registration.locale
    return outbox.queue(
        kind,
        subject=render_subject(
            kind.template, locale, event=event, registration=registration, **context
        ),
        recipient=registration.email,
        recipient_name=registration.name,
        message_id=make_msgid(domain=_host()),
        event=event,
        registration=registration,
        invite=invite,
        sequence=reserve_sequence(registration) if invite else None,
        token=token,
        locale=locale,
        context=context,
    )


def reserve_sequence(registration: Registration) -> int:
    """The SEQUENCE for this registrant's next invite or cancel: never below what they had.

    Calendars ignore an update whose SEQUENCE is not above the copy they hold, so each
    registrant's copy is tracked on top of the event's own sequence.
    """
    registration.ical_sequence = max(registration.event.sequence, registration.ical_sequence + 1)
    return registration.ical_sequence


# --- composing at delivery ------------------------------------------------------------------


@dataclass
class Calendar:
    """An iCalendar payload and the METHOD it carries (also written into the MIME type)."""

    data: bytes
    method: str
    filename: str = "invitasjon.ics"


def _host() -> str:
    return urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"


def manage_url(token: str) -> str:
    """The registrant's personal page; only ever written into their own e-mail."""
    return f"{current_app.config['PUBLIC_URL']}/r/{token}"


def render_subject(template: str, locale: str, **context) -> str:
    """The subject line, on one line, in the recipient's language."""
    with force_locale(locale):
        return " ".join(render_template(f"email/{template}/subject.txt", **context).split())


def render(name: str, locale: str, **context) -> tuple[str, str, str]:
    """Render email/<name>/{subject.txt, body.txt, body.html} in the recipient's language."""
    with force_locale(locale):
        subject = render_template(f"email/{name}/subject.txt", **context)
        text = render_template(f"email/{name}/body.txt", **context)
        html = render_template(f"email/{name}/body.html", **context)
    return " ".join(subject.split()), text, html


def compose(row: OutboxMessage) -> EmailMessage:
    """Render an outbox row into the message to send: text, HTML and the invite, if any."""
    context = outbox.context_of(row)
    registration, event = row.registration, row.event
    if row.token:
        context["manage_url"] = manage_url(row.token)
    unsubscribe = _contact_links(context, event)
    organiser = context.pop("organiser", "")
    if event is not None:
        organiser = event.organiser_name or event.organiser_email
    subject, text, html = render(
        row.template,
        row.locale,
        event=event,
        registration=registration,
        recipient_name=row.recipient_name,
        organiser=organiser,
        **context,
    )
    calendar = None
    if row.invite_method:
        with force_locale(row.locale):
            data = ical.invite(
                registration, row.invite_sequence, cancel=row.invite_method == CANCEL
            )
        calendar = Calendar(data, row.invite_method)
    reply_to = None
    if event and event.organiser_email:
        reply_to = str(Address(event.organiser_name or "", addr_spec=event.organiser_email))
    elif context.get("reply_to"):
        reply_to = str(Address(context.get("reply_name") or "", addr_spec=context["reply_to"]))
    return build_message(
        recipient=row.recipient,
        recipient_name=row.recipient_name,
        subject=subject,
        text=text,
        html=html,
        reply_to=reply_to,
        calendar=calendar,
        locale=row.locale,
        message_id=row.message_id,
        unsubscribe=unsubscribe,
    )


def _contact_links(context: dict, event: Event | None) -> str | None:
    """A mail to a contact: its personal links, built now (none is stored); the unsubscribe URL."""
    contact_id = context.get("contact_id")
    if contact_id is None:
        return None
    context["unsubscribe_url"] = links.unsubscribe_url(contact_id)
    if event is not None:
        context["invitation_url"] = links.invitation_url(contact_id, event.id)
    if "programme_id" in context:
        context["submission_url"] = links.submission_url(contact_id, context["programme_id"])
    return context["unsubscribe_url"]


def build_message(
    *,
    recipient: str,
    recipient_name: str,
    subject: str,
    text: str,
    html: str,
    reply_to: str | None = None,
    calendar: Calendar | None = None,
    locale: str = "nb",
    message_id: str | None = None,
    unsubscribe: str | None = None,
) -> EmailMessage:
    """A multipart text + HTML message with our headers, and an invite when there is one."""
    msg = EmailMessage()
    sender_name, sender_address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    msg["From"] = Address(sender_name, addr_spec=sender_address)
    # Address() refuses CR/LF, and names are normalised on input, so nothing can be injected.
    msg["To"] = Address(" ".join(recipient_name.split()), addr_spec=recipient)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id or make_msgid(domain=_host())
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Content-Language"] = locale
    if unsubscribe:
        # RFC 8058: mail clients offer "unsubscribe" and POST List-Unsubscribe=One-Click.
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps the message 7-bit and its lines short for every relay.
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    if calendar:
        # Outlook wants the method both in the part's MIME type and in the body; the inline
        # alternative turns the mail into a meeting request, the attached file is for
        # clients that only look at attachments (Google's own invites carry both).
        msg.attach(_calendar_part(calendar, inline=True))
        msg.make_mixed()
        msg.attach(_calendar_part(calendar, inline=False))
    return msg


def _calendar_part(calendar: Calendar, *, inline: bool) -> MIMEPart:
    part = MIMEPart()
    part.set_content(calendar.data.decode("utf-8"), subtype="calendar", cte="base64")
    # Written by hand: the email package would quote method="REQUEST".
    part.replace_header(
        "Content-Type",
        f'{"text/calendar" if inline else "application/ics"}; charset="UTF-8"; '
        f"method={calendar.method}" + ("" if inline else f'; name="{calendar.filename}"'),
    )
    if not inline:
        part["Content-Disposition"] = f'attachment; filename="{calendar.filename}"'
    return part
