"""Every e-mail the service sends: one function per kind to queue it, and how it is composed.

Each `queue_*` function builds its message's context and puts it in the outbox in the
caller's write transaction; they are the only callers of `outbox.queue`. The deliverer
calls `compose` to render the template triplet `email/<template>/{subject.txt, body.txt,
body.html}` in the recipient's language, with the calendar invite when there is one.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from functools import lru_cache
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale, get_translations
from jinja2 import meta, pass_context
from markupsafe import Markup
from sqlalchemy import Select, inspect

from .. import contacts, i18n, ical, links
from ..models import Contact, Event, OutboxMessage, Programme, Registration, utcnow
from . import outbox

REQUEST = "REQUEST"
CANCEL = "CANCEL"
CRLF = "\r\n"


# --- one function per kind ------------------------------------------------------------------


def queue_confirmation(
    registration: Registration,
    token: str,
    *,
    again: bool = False,
    position: int | None = None,
    sequence: int | None = None,
) -> None:
    """ "You are registered" (or on the waiting list as number `position`), with the invite
    and the manage link. `sequence`: the invite's, when the registration was written with
    it reserved (a new one is: see next_sequence); otherwise one is reserved now."""
    _queue_invite(
        outbox.CONFIRMATION, registration, token, sequence, again=again, position=position
    )


def queue_manage_link(event: Event, registration_ids: Select) -> None:
    """The manage link again, asked for on the event page, to the registration (if any)
    `registration_ids` selects; the link is made at delivery.

    One INSERT … SELECT whether or not a registration is selected, with the subject in every
    language rendered either way: asking for an address that is registered takes no longer.
    """
    subjects = {
        locale: render_subject(outbox.MANAGE_LINK.template, locale, event=event)
        for locale in i18n.LANGUAGES
    }
    outbox.queue_selected(
        outbox.MANAGE_LINK,
        registration_ids,
        subjects=subjects,
        message_id=make_msgid(domain=_host()),
        event=event,
    )


def queue_promoted(registration: Registration, token: str) -> None:
    """ "You got a seat from the waiting list", with the invite and a manage link."""
    _queue_invite(outbox.PROMOTED, registration, token)


def queue_event_updated(registration: Registration, changes: dict[str, tuple]) -> None:
    """What changed in the event; confirmed registrants get the updated invite."""
    _queue_invite(outbox.EVENT_UPDATED, registration, None, changes=changes)


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
    """An invitation (or a reminder of it) with the contact's link to the filled-in form.

    In the contact's language (`contacts.mail_language`): their own choice, else nynorsk for
    a nynorsk municipality and bokmål otherwise; the link opens the form in it too.
    """
    kind = outbox.INVITATION_REMINDER if reminder else outbox.INVITATION
    context = {"contact_id": contact.id, "reminder": reminder}
    return _queue_to_contact(kind, contact, event=event, **context)


def queue_submission_link(contact: Contact, programme: Programme):
    """The contact's personal link to hand in their municipality's signed declaration."""
    locale = contacts.mail_language(contact)
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
    kind: outbox.Kind,
    contact: Contact,
    *,
    event: Event | None = None,
    locale: str | None = None,
    **context,
) -> None:
    locale = locale or contacts.mail_language(contact)
    outbox.queue(
        kind,
        subject=render_subject(kind.template, locale, event=event, **context),
        recipient=contact.email,
        recipient_name=contact.name,
        message_id=make_msgid(domain=_host()),
        event=event,
        locale=locale,
        context=context,
    )


def _queue_invite(
    kind: outbox.Kind,
    registration: Registration,
    token: str | None,
    sequence: int | None = None,
    **context,
) -> None:
    """A mail with the personal REQUEST invite; the waiting list gets none."""
    confirmed = registration.status == Registration.CONFIRMED
    _queue(
        kind,
        registration,
        invite=REQUEST if confirmed else None,
        token=token,
        sequence=sequence,
        status=registration.status,
        **context,
    )


def _queue(
    kind: outbox.Kind,
    registration: Registration,
    *,
    invite: str | None = None,
    token: str | None = None,
    sequence: int | None = None,
    **context,
) -> None:
    event = registration.event
    locale = registration.locale
    if invite and sequence is None:
        sequence = reserve_sequence(registration)
    outbox.queue(
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
        sequence=sequence if invite else None,
        token=token,
        locale=locale,
        context=context,
    )


def reserve_sequence(registration: Registration) -> int:
    """The SEQUENCE for this registrant's next invite or cancel: never below what they had.

    Calendars ignore an update whose SEQUENCE is not above the copy they hold, so each
    registrant's copy is tracked on top of the event's own sequence.
    """
    registration.ical_sequence = next_sequence(registration.event, registration.ical_sequence)
    return registration.ical_sequence


def next_sequence(event: Event, held: int) -> int:
    """The SEQUENCE of the next invite or cancel to a calendar that holds `held` (-1: none):
    above it, and never below the event's own."""
    return max(event.sequence, held + 1)


# --- composing at delivery ------------------------------------------------------------------


@dataclass
class Calendar:
    """An iCalendar payload and the METHOD it carries (also written into the MIME type)."""

    data: bytes
    method: str
    filename: str = "invitasjon.ics"


def _host() -> str:
    return urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"


def manage_url(token: str, lang: str | None = None) -> str:
    """The registrant's personal page; only ever written into their own e-mail.

    With the registration's language, so the page opens in the language of the mail.
    """
    query = f"?lang={lang}" if lang else ""
    return f"{current_app.config['PUBLIC_URL']}/r/{token}{query}"


def render_subject(template: str, locale: str, **context) -> str:
    """The subject line, on one line, in the recipient's language.

    Rendered by Jinja directly (a subject needs no request, user or CSRF token), once per
    template, language and values of what it reads, then reused: this runs inside every
    registration's write transaction, where SQLite's lock is held.
    """
    name = f"email/{template}/subject.txt"
    env = current_app.jinja_env
    key = None if env.auto_reload else _subject_key(name, locale, context)
    subjects: dict = current_app.extensions.setdefault("mail_subjects", {})
    found = subjects.get(key) if key is not None else None
    if found is None:
        with force_locale(locale):
            found = " ".join(env.get_template(name).render(context).split())
        if key is not None:
            if len(subjects) >= MAX_SUBJECTS:
                subjects.clear()
            subjects[key] = found
    return found


#: Subjects kept per process: templates × languages × events × the few values they read.
MAX_SUBJECTS = 1024


def _subject_key(name: str, locale: str, context: dict) -> tuple | None:
    """What a subject says depends on: the values of the names its template reads, an event
    by its version (every change of an event moves its `updated_at`). None, to render it,
    when one is anything else, or an event with changes not yet written."""
    parts: list = [name, locale]
    for variable in _read_by(name):
        value = context.get(variable)
        if isinstance(value, Event):
            state = inspect(value)
            if not state.persistent or state.modified or "updated_at" not in state.dict:
                return None
            parts.append((variable, value.id, value.updated_at))
        elif value is None or isinstance(value, str | int | float):
            parts.append((variable, value))
        else:
            return None
    return tuple(parts)


def _read_by(name: str) -> frozenset[str]:
    """The names a template reads from its context (kept by template, as Jinja's own are)."""
    read: dict = current_app.extensions.setdefault("mail_subject_names", {})
    found = read.get(name)
    if found is None:
        env = current_app.jinja_env
        source = env.loader.get_source(env, name)[0]
        read[name] = found = frozenset(meta.find_undeclared_variables(env.parse(source)))
    return found


def render(name: str, locale: str, **context) -> tuple[str, str]:
    """Render email/<name>/{body.txt, body.html} in the recipient's language."""
    with force_locale(locale):
        # The language's catalogue, looked up once for the mail rather than once per
        # string (Flask-Babel's lookup was 40 % of rendering one); same formatting rules
        # as Jinja's newstyle gettext, which the templates are written for.
        catalogue = get_translations()
        context.setdefault("gettext", _newstyle(catalogue.ugettext))
        context.setdefault("ngettext", _newstyle_plural(catalogue.ungettext))
        text = render_template(f"email/{name}/body.txt", **context)
        html = render_template(f"email/{name}/body.html", **context)
    return text, html


def _newstyle(lookup):
    @pass_context
    def gettext(context, string: str, **variables) -> str:
        translated = lookup(string)
        if context.eval_ctx.autoescape:
            translated = Markup(translated)
        return translated % variables

    return gettext


def _newstyle_plural(lookup):
    @pass_context
    def ngettext(context, singular: str, plural: str, num: int, **variables) -> str:
        variables.setdefault("num", num)
        translated = lookup(singular, plural, num)
        if context.eval_ctx.autoescape:
            translated = Markup(translated)
        return translated % variables

    return ngettext


def compose_bytes(row: OutboxMessage) -> bytes:
    """Render an outbox row into the bytes to send: text, HTML and the invite, if any.

    The subject was rendered when the message was queued (organisers see it on the outbox
    page); the bodies and the invite are rendered now, in the recipient's language.
    """
    context = outbox.context_of(row)
    registration, event = row.registration, row.event
    if row.token:
        context["manage_url"] = manage_url(row.token, row.locale)
        context["invite_url"] = f"{current_app.config['PUBLIC_URL']}/r/{row.token}/invite.ics"
    unsubscribe = _contact_links(context, event, row.locale)
    organiser = context.pop("organiser", "")
    if event is not None:
        organiser = event.organiser_name or event.organiser_email
    text, html = render(
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
        reply_to = _address(event.organiser_name or "", event.organiser_email)
    elif context.get("reply_to"):
        reply_to = _address(context.get("reply_name") or "", context["reply_to"])
    return build_message(
        recipient=row.recipient,
        recipient_name=row.recipient_name,
        subject=row.subject,
        text=text,
        html=html,
        reply_to=reply_to,
        calendar=calendar,
        locale=row.locale,
        message_id=row.message_id,
        unsubscribe=unsubscribe,
    )


def compose(row: OutboxMessage) -> EmailMessage:
    """The message for an outbox row, parsed back (for reading it: the log, tests)."""
    return message_from_bytes(compose_bytes(row), policy=policy.default)


def _contact_links(context: dict, event: Event | None, locale: str) -> str | None:
    """A mail to a contact: its personal links, built now (none is stored); the unsubscribe URL.

    The pages they open are in the mail's language.
    """
    contact_id = context.get("contact_id")
    if contact_id is None:
        return None
    context["unsubscribe_url"] = links.unsubscribe_url(contact_id)
    if event is not None:
        context["invitation_url"] = links.invitation_url(contact_id, event.id, locale)
    if "programme_id" in context:
        context["submission_url"] = links.submission_url(
            contact_id, context["programme_id"], locale
        )
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
) -> bytes:
    """A multipart text + HTML message with our headers, and an invite when there is one.

    Written out directly as 7-bit MIME (RFC 2045–2047): the `email` package's header
    registry and generator took two thirds of a delivery's time. Every header value is one
    line (no CR or LF can add a header); non-ASCII names and subjects are encoded words.
    """
    headers = [
        ("From", _sender(current_app.config["MAIL_DEFAULT_SENDER"])),
        ("To", _address(recipient_name, recipient)),
        *([("Reply-To", reply_to)] if reply_to else []),
        ("Subject", _encoded("Subject", subject)),
        ("Date", format_datetime(utcnow())),
        ("Message-ID", _one_line(message_id or make_msgid(domain=_host()))),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("Content-Language", _one_line(locale)),
        ("MIME-Version", "1.0"),
    ]
    if unsubscribe:
        # RFC 8058: mail clients offer "unsubscribe" and POST List-Unsubscribe=One-Click.
        headers.append(("List-Unsubscribe", f"<{_one_line(unsubscribe)}>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    # Quoted-printable keeps the message 7-bit and its lines short for every relay.
    alternatives = [
        _part('text/plain; charset="utf-8"', "quoted-printable", _qp(text)),
        _part('text/html; charset="utf-8"', "quoted-printable", _qp(html)),
    ]
    if calendar:
        # Outlook wants the method both in the part's MIME type and in the body; the inline
        # alternative turns the mail into a meeting request, the attached file is for
        # clients that only look at attachments (Google's own invites carry both).
        encoded = base64.encodebytes(calendar.data).replace(b"\n", b"\r\n")
        alternatives.append(
            _part(f'text/calendar; charset="UTF-8"; method={calendar.method}', "base64", encoded)
        )
        attachment = _part(
            f'application/ics; charset="UTF-8"; method={calendar.method}; '
            f'name="{calendar.filename}"',
            "base64",
            encoded,
            disposition=f'attachment; filename="{calendar.filename}"',
        )
        content_type, body = _multipart(
            "mixed", [_multipart_part(*_multipart("alternative", alternatives)), attachment]
        )
    else:
        content_type, body = _multipart("alternative", alternatives)
    headers.append(("Content-Type", content_type))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("ascii") + b"\r\n" + body


@lru_cache(maxsize=8)
def _sender(configured: str) -> str:
    """The From header for MAIL_DEFAULT_SENDER (parsed once, not for every message)."""
    return _address(*parseaddr(configured))


def _one_line(value: str) -> str:
    """A header value on one line: CR, LF and runs of white space become one space."""
    return " ".join(value.split())


def _encoded(name: str, value: str) -> str:
    """A header value as 7-bit text: encoded words for anything beyond ASCII, folded."""
    value = _one_line(value)
    if value.isascii():
        return value if len(value) + len(name) < 76 else Header(value).encode(linesep=CRLF)
    return _encoded_words(value)


def _encoded_words(value: str) -> str:
    """RFC 2047 base64 encoded words of at most 75 characters, one per folded line."""
    words, chunk, size = [], [], 0
    for char in value:
        length = len(char.encode("utf-8"))
        if size + length > 45:  # 45 bytes are 60 base64 characters: 72 with the markers
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += length
    words.append("".join(chunk))
    return "\r\n ".join(
        f"=?utf-8?b?{base64.b64encode(word.encode('utf-8')).decode('ascii')}?=" for word in words
    )


def _address(name: str, address: str) -> str:
    """ "Name <address>" with the name quoted or encoded as it needs; the address as is."""
    name, address = _one_line(name), "".join(address.split())
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    return f"{_encoded_words(name)} <{address}>"


def _qp(text: str) -> bytes:
    """UTF-8 text as quoted-printable with CRLF line ends (lines at most 76 characters)."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _part(content_type: str, encoding: str, payload: bytes, disposition: str | None = None):
    head = f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: {encoding}\r\n"
    if disposition:
        head += f"Content-Disposition: {disposition}\r\n"
    return head.encode("ascii") + b"\r\n" + payload


def _multipart(subtype: str, parts: list[bytes]) -> tuple[str, bytes]:
    """(Content-Type, body) of a multipart with a boundary no part can contain."""
    boundary = f"=_{secrets.token_hex(16)}"
    delimiter = f"--{boundary}\r\n".encode()
    body = b"".join(
        delimiter + part + (b"" if part.endswith(b"\r\n") else b"\r\n") for part in parts
    )
    return f'multipart/{subtype}; boundary="{boundary}"', body + f"--{boundary}--\r\n".encode()


def _multipart_part(content_type: str, body: bytes) -> bytes:
    return f"Content-Type: {content_type}\r\n\r\n".encode("ascii") + body
