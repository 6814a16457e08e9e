"""Outgoing mail: message builders, the outbox, and the loop that delivers it.

A message is stored in the same transaction as the change that causes it (`queue`): its
template, the registration and event it is about, a JSON context and, for invites, the
calendar METHOD and SEQUENCE reserved for the registrant. The deliverer (`deliver_due`, a
thread in the web process or `flask mail worker`) renders it and sends it, so the request
that queues it stays cheap. Claims are conditional UPDATEs, so any number of deliverers can
run without sending one message twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import smtplib
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from types import SimpleNamespace
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template
from flask_babel import force_locale
from sqlalchemy import and_, or_, select, update

from . import ical
from .extensions import db, mail, writing
from .models import Event, OutboxMessage, Registration, utcnow

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=2)
CLAIM_LEASE = timedelta(minutes=10)


@dataclass
class Calendar:
    """An iCalendar payload and the METHOD it carries (also written into the MIME type)."""

    data: bytes
    method: str
    filename: str = "invitasjon.ics"


def _host() -> str:
    return urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"


def render(name: str, locale: str, **context) -> tuple[str, str, str]:
    """Render email/<name>/{subject.txt, body.txt, body.html} in the recipient's language."""
    with force_locale(locale):
        subject = render_template(f"email/{name}/subject.txt", **context)
        text = render_template(f"email/{name}/body.txt", **context)
        html = render_template(f"email/{name}/body.html", **context)
    return " ".join(subject.split()), text, html


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
    msg["Content-Language"] = "nb" if locale == "nb" else locale
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


def queue(
    kind: str,
    template: str,
    *,
    recipient: str,
    recipient_name: str,
    event: Event | None = None,
    registration: Registration | None = None,
    invite: str | None = None,
    sequence: int | None = None,
    token: str | None = None,
    locale: str = "nb",
    **context,
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction (no commit); it is rendered
    when delivered. `invite` (REQUEST or CANCEL) attaches the registrant's calendar invite
    with `sequence`; `token` makes the personal manage link; `context` must be JSON-able
    (datetimes and dataclasses are fine)."""
    subject = render_subject(template, locale, event=event, registration=registration, **context)
    row = OutboxMessage(
        kind=kind,
        template=template,
        recipient=recipient,
        recipient_name=recipient_name,
        subject=subject,
        message_id=make_msgid(domain=_host()),
        event=event,
        registration=registration,
        invite_method=invite,
        invite_sequence=sequence,
        token=token,
        locale=locale,
        context=json.dumps(context, default=_encode),
    )
    db.session.add(row)
    return row


def render_subject(template: str, locale: str, **context) -> str:
    """The subject line, on one line, in the recipient's language."""
    with force_locale(locale):
        return " ".join(render_template(f"email/{template}/subject.txt", **context).split())


def manage_url(token: str) -> str:
    """The registrant's personal page; only ever written into their own e-mail."""
    return f"{current_app.config['PUBLIC_URL']}/r/{token}"


def _encode(value):
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if dataclasses.is_dataclass(value):
        return {"$object": {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}}
    raise TypeError(f"{type(value).__name__} cannot be stored in a mail's context")


def _decode(obj: dict):
    if "$datetime" in obj:
        return datetime.fromisoformat(obj["$datetime"])
    if "$object" in obj:
        return SimpleNamespace(**obj["$object"])
    return obj


def compose(row: OutboxMessage) -> EmailMessage:
    """Render an outbox row into the message to send: text, HTML and the invite, if any."""
    context = json.loads(row.context or "{}", object_hook=_decode)
    registration, event = row.registration, row.event
    if row.token:
        context["manage_url"] = manage_url(row.token)
    subject, text, html = render(
        row.template, row.locale, event=event, registration=registration, **context
    )
    calendar = None
    if row.invite_method:
        with force_locale(row.locale):
            data = ical.invite(
                registration, row.invite_sequence, cancel=row.invite_method == "CANCEL"
            )
        calendar = Calendar(data, row.invite_method)
    reply_to = None
    if event and event.organiser_email:
        reply_to = str(Address(event.organiser_name or "", addr_spec=event.organiser_email))
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
    )


# --- delivery -----------------------------------------------------------------------------


class TemporaryFailure(Exception):
    """4xx or a connection problem: try again later."""


class PermanentFailure(Exception):
    """5xx: the server will never take this message; mark it failed."""


def _due(now):
    return or_(
        and_(
            OutboxMessage.status.in_(("queued", "retrying")), OutboxMessage.next_attempt_at <= now
        ),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
    )


def claim(limit: int, worker: str) -> list[int]:
    """Take up to `limit` due messages for this worker; each is claimed by one worker only."""
    now = utcnow()
    with writing():
        ids = db.session.scalars(
            select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.id).limit(limit)
        ).all()
        claimed = []
        for message_id in ids:
            result = db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, _due(now))
                .values(status="sending", claimed_by=worker, claimed_until=now + CLAIM_LEASE)
            )
            if result.rowcount == 1:
                claimed.append(message_id)
        db.session.commit()
    return claimed


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(
            f"{code} {msg.decode(errors='replace')}" for code, msg in exc.recipients.values()
        )
        if codes and all(code >= 500 for code in codes):
            return PermanentFailure(text)
        return TemporaryFailure(text)
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        if isinstance(error, bytes):
            error = error.decode(errors="replace")
        text = f"{exc.smtp_code} {error}"
        return PermanentFailure(text) if exc.smtp_code >= 500 else TemporaryFailure(text)
    return TemporaryFailure(f"{type(exc).__name__}: {exc}")


class Transport:
    """Flask-Mail's SMTP connection, opened once and reused for a whole batch."""

    def __init__(self, app: Flask):
        self.app = app
        self.connection = None

    def send(self, recipient: str, message: EmailMessage) -> None:
        if not self.app.config["MAIL_SERVER"]:
            log.info("Mail (no MAIL_SERVER set, written to the log):\n%s", _readable(message))
            return
        try:
            if self.connection is None:
                self.connection = mail.connect().__enter__()
            sender = parseaddr(self.app.config["MAIL_DEFAULT_SENDER"])[1]
            self.connection.host.sendmail(sender, [recipient], message.as_bytes(policy=SMTP))
        except (smtplib.SMTPException, OSError) as exc:
            # A refusal (4xx/5xx) leaves the connection usable for the rest of the batch.
            if not isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
                self.close()
            raise _classify(exc) from exc

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.host.quit()
            self.connection = None


def _backoff(attempts: int) -> timedelta:
    return min(RETRY_BASE * (2 ** (attempts - 1)), RETRY_MAX)


def deliver_due(limit: int = 100, worker: str | None = None) -> int:
    """Deliver what is due now, reusing one SMTP connection; returns how many went out."""
    app = current_app._get_current_object()
    worker = worker or f"{socket.gethostname()}:{threading.get_ident()}:{uuid.uuid4().hex[:6]}"
    ids = claim(limit, worker)
    if not ids:
        return 0
    # Render the batch, then end the read: a transaction must not stay open across SMTP,
    # and on SQLite a deferred one that later writes fails at once ("database is locked")
    # once another deliverer has committed. Each status update below is its own transaction.
    rows = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker)
        .order_by(OutboxMessage.id)
    ).all()
    batch = []
    for row in rows:
        try:
            batch.append((row.id, row.recipient, row.attempts, compose(row), None))
        except Exception as exc:  # a message that cannot be rendered will never be sent
            log.exception("outbox message %s could not be rendered", row.id)
            batch.append((row.id, row.recipient, row.attempts, None, exc))
    db.session.rollback()
    transport = Transport(app)
    sent = 0
    try:
        for message_id, recipient, attempts, message, error in batch:
            values: dict = {"claimed_by": None, "claimed_until": None}
            try:
                if error is not None:
                    raise PermanentFailure(f"could not be rendered: {error!r}")
                transport.send(recipient, message)
            except PermanentFailure as exc:
                values |= status_values("failed", attempts + 1, str(exc))
            except TemporaryFailure as exc:
                attempts += 1
                if attempts >= app.config["MAIL_MAX_ATTEMPTS"]:
                    values |= status_values("failed", attempts, str(exc))
                else:
                    values |= status_values("retrying", attempts, str(exc))
                    values["next_attempt_at"] = utcnow() + _backoff(attempts)
            else:
                sent += 1
                # The manage token is a working link; once delivered we keep only its hash.
                values |= {
                    "status": "sent",
                    "attempts": attempts + 1,
                    "sent_at": utcnow(),
                    "token": None,
                    "last_error": None,
                }
            with writing():
                db.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == worker)
                    .values(**values)
                )
                db.session.commit()
    finally:
        transport.close()
        db.session.remove()
    return sent


def _readable(message: EmailMessage) -> str:
    """The message as a person reads it in the log: headers and the plain-text body."""
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    body = message.get_body(("plain",))
    return f"{headers}\n\n{body.get_content() if body else ''}"


def status_values(status: str, attempts: int, error: str) -> dict:
    return {"status": status, "attempts": attempts, "last_error": error[:2000]}


# --- the delivery loop ---------------------------------------------------------------------

_wake = threading.Event()
_started: set[int] = set()
_start_lock = threading.Lock()


def wake() -> None:
    """Ask this process's delivery thread to look at the outbox now."""
    _wake.set()


def run_loop(app: Flask, stop: threading.Event | None = None) -> None:
    """Deliver due mail and run due jobs until `stop` is set."""
    from . import jobs

    stop = stop or threading.Event()
    poll = app.config["MAIL_POLL_SECONDS"]
    while not stop.is_set():
        try:
            with app.app_context():
                jobs.run_due()
                while deliver_due():
                    pass
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("mail delivery pass failed")
        _wake.wait(poll)
        _wake.clear()


def start_thread(app: Flask) -> None:
    """Start the in-process delivery thread once per process (each gunicorn worker has one)."""
    import os

    with _start_lock:
        if os.getpid() in _started:
            return
        _started.add(os.getpid())
    threading.Thread(target=run_loop, args=(app,), name="mail-delivery", daemon=True).start()


def init_app(app: Flask) -> None:
    """Start delivering in the background on the first request, unless configured off."""
    if not app.config["MAIL_DELIVERY_THREAD"] or app.config.get("TESTING"):
        return

    @app.before_request
    def _ensure_delivery_thread():
        start_thread(app)
