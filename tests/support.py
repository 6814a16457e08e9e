"""Helpers the tests share: app contexts, a real SMTP server, signing in, reading forms and mail.

Fixtures live in conftest.py; what a test imports by name lives here.
"""

from __future__ import annotations

import asyncio
import email
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from functools import cache

from aiosmtpd.controller import Controller
from flask import Flask, current_app, has_app_context
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import worker
from webinars.models import Event, Organiser, OutboxMessage

PASSWORD = "et langt passord"
#: Scrypt with a small work factor: what the tests hash passwords with.
TEST_PASSWORD_HASH = "scrypt:1024:8:1"


@contextmanager
def within(app: Flask) -> Iterator[bool]:
    """The app context a unit test already has, or a fresh one (yields whether it is fresh).

    Web tests push no context of their own, so each request gets its own app context and
    session, as in production; their checks on the database open one here.
    """
    if has_app_context() and current_app._get_current_object() is app:
        yield False
        return
    with app.app_context():
        yield True


def set_row(app: Flask, row, model=None, **fields) -> None:
    """Change a row (an event by default) in `app` through the ORM, as any writer there does:
    with another app, as another worker would."""
    with app.app_context():
        with write_transaction():
            found = db.session.get(model or Event, row.id)
            for name, value in fields.items():
                setattr(found, name, value)
        db.engine.dispose()


def detach(row):
    """Load every column of a row and detach it, so it can be read after its context ends."""
    db.session.refresh(row)
    db.session.expunge(row)
    return row


def deliver(app: Flask) -> int:
    """Deliver every due message now, as the mail worker would; returns how many went out."""
    with within(app):
        return worker.deliver_all()


def outbox(app: Flask) -> list[OutboxMessage]:
    """Every outbox row, oldest first, detached (readable after the context ends)."""
    with within(app) as fresh:
        db.session.rollback()  # a fresh look: what other sessions committed
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        if fresh:
            for row in rows:
                db.session.expunge(row)
        return rows


@cache
def password_hash() -> str:
    """PASSWORD hashed once per test run, as the tests' app hashes it."""
    return generate_password_hash(PASSWORD, method=TEST_PASSWORD_HASH)


def sign_in(client, app: Flask, email_address: str = "arrangor@ks.test"):
    """Log a test client in as a (new) organiser through Flask-Login's session keys."""
    with within(app):
        with write_transaction():
            organiser = Organiser(email=email_address, password_hash=password_hash())
            db.session.add(organiser)
        user_id = organiser.get_id()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
    return client


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def csrf_from_session(client) -> str:
    """A valid token for this client's session when the page shows no form (e.g. closed)."""
    return form_token(client.get("/organiser/login").text)


# --- a real SMTP server ---------------------------------------------------------------------


class Inbox:
    """What an aiosmtpd server on loopback received; `reply` makes it answer RCPT with a code,
    `delay` makes it a slow relay (seconds before it answers DATA)."""

    def __init__(self, delay: float = 0.0):
        self.messages: list = []
        self.reply: str | None = None
        self.delay = delay
        self.lock = threading.Lock()
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reply:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(
                (envelope, email.message_from_bytes(envelope.content, policy=policy.default))
            )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages accepted for this address, oldest first."""
        with self.lock:
            return [msg for envelope, msg in self.messages if address in envelope.rcpt_tos]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_smtp(inbox: Inbox, **kwargs):
    """Run a real SMTP server (aiosmtpd) on a free loopback port that hands mail to `inbox`;
    `kwargs` go to aiosmtpd's Controller (e.g. tls_context, server_kwargs)."""
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **kwargs)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def text_part(message: EmailMessage) -> str:
    """The plain-text body, decoded."""
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message: EmailMessage) -> str:
    """The HTML body, decoded."""
    return message.get_body(preferencelist=("html",)).get_content()


def calendar_parts(message: EmailMessage) -> list[EmailMessage]:
    """The inline text/calendar parts (the meeting request a mail client acts on)."""
    return [part for part in message.walk() if part.get_content_type() == "text/calendar"]


def manage_link(message: EmailMessage, base_url: str) -> str:
    """The personal /r/<token> link in the text part of a mail."""
    found = re.findall(re.escape(base_url) + r"/r/[A-Za-z0-9_\-]+", text_part(message))
    assert found, f"no manage link to {base_url} in:\n{text_part(message)}"
    return found[0]


# --- uploads --------------------------------------------------------------------------------

BOUNDARY = "grense-for-test"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> bytes:
    """A multipart/form-data body built in memory, for uploads of any size.

    The test client would spool a large file to a temporary file of its own; this body is
    posted as it is, with `content_type=MULTIPART`.
    """
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, (filename, data) in files.items():
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
