"""Outgoing mail: message builders, the outbox, and the loop that delivers it.

A message is built and stored in the same transaction as the change that causes it
(`queue`), and delivered later (`deliver_due`) by a thread in the web process or by
`flask mail worker`. Claims are conditional UPDATEs, so any number of deliverers can run
without sending one message twice.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template
from flask_babel import force_locale
from sqlalchemy import and_, or_, select, update

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
    msg["Message-ID"] = make_msgid(domain=_host())
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


def queue(kind: str, template: str, **kwargs) -> OutboxMessage:
    """Render a message and add it to the outbox in the caller's transaction (no commit)."""
    row = prepare(kind, template, **kwargs)
    db.session.add(row)
    return row


def prepare(
    kind: str,
    template: str,
    *,
    recipient: str,
    recipient_name: str,
    event: Event | None = None,
    registration: Registration | None = None,
    calendar: Calendar | None = None,
    locale: str = "nb",
    **context,
) -> OutboxMessage:
    """Render a message into an outbox row that is not added to the session yet."""
    subject, text, html = render(
        template, locale, event=event, registration=registration, **context
    )
    reply_to = None
    if event and event.organiser_email:
        reply_to = str(Address(event.organiser_name or "", addr_spec=event.organiser_email))
    msg = build_message(
        recipient=recipient,
        recipient_name=recipient_name,
        subject=subject,
        text=text,
        html=html,
        reply_to=reply_to,
        calendar=calendar,
        locale=locale,
    )
    row = OutboxMessage(
        kind=kind,
        recipient=recipient,
        subject=subject,
        message_id=msg["Message-ID"],
        raw=msg.as_string(policy=SMTP),
        event=event,
        registration_id=registration.id if registration else None,
    )
    return row


# --- delivery -----------------------------------------------------------------------------


class TemporaryFailure(Exception):
    """4xx or a connection problem: try again later."""


class PermanentFailure(Exception):
    """5xx: the server will never take this message; mark it failed."""


def _due(now):
    return or_(
        and_(OutboxMessage.status.in_(("queued", "retrying")), OutboxMessage.next_attempt_at <= now),
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
        text = "; ".join(f"{code} {msg.decode(errors='replace')}" for code, msg in exc.recipients.values())
        if codes and all(code >= 500 for code in codes):
            return PermanentFailure(text)
        return TemporaryFailure(text)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
        return PermanentFailure(text) if exc.smtp_code >= 500 else TemporaryFailure(text)
    return TemporaryFailure(f"{type(exc).__name__}: {exc}")


class Transport:
    """Flask-Mail's SMTP connection, opened once and reused for a whole batch."""

    def __init__(self, app: Flask):
        self.app = app
        self.connection = None

    def send(self, message: OutboxMessage) -> None:
        if not self.app.config["MAIL_SERVER"]:
            log.info("Mail (no MAIL_SERVER set, written to the log):\n%s", message.raw)
            return
        try:
            if self.connection is None:
                self.connection = mail.connect().__enter__()
            sender = parseaddr(self.app.config["MAIL_DEFAULT_SENDER"])[1]
            self.connection.host.sendmail(sender, [message.recipient], message.raw.encode("ascii"))
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                self.close()
            raise _classify(exc) from exc

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.host.quit()
            except (smtplib.SMTPException, OSError):
                pass
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
    # Read the batch, then end the read: a transaction must not stay open across SMTP, and
    # on SQLite a deferred one that later writes fails at once ("database is locked") once
    # another deliverer has committed. Each status update below is its own BEGIN IMMEDIATE.
    batch = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.raw,
               OutboxMessage.attempts)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker)
        .order_by(OutboxMessage.id)
    ).all()
    db.session.rollback()
    transport = Transport(app)
    sent = 0
    try:
        for message in batch:
            message_id = message.id
            values: dict = {"claimed_by": None, "claimed_until": None}
            try:
                transport.send(message)
            except PermanentFailure as exc:
                values |= status_values("failed", message.attempts + 1, str(exc))
            except TemporaryFailure as exc:
                attempts = message.attempts + 1
                if attempts >= app.config["MAIL_MAX_ATTEMPTS"]:
                    values |= status_values("failed", attempts, str(exc))
                else:
                    values |= status_values("retrying", attempts, str(exc))
                    values["next_attempt_at"] = utcnow() + _backoff(attempts)
            else:
                sent += 1
                # The body carries private links; once delivered we keep only the metadata.
                values |= {"status": "sent", "attempts": message.attempts + 1,
                           "sent_at": utcnow(), "raw": None, "last_error": None}
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
