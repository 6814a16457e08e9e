"""How messages leave: over SMTP (Flask-Mail's settings and connection) or into the log.

`init_app` chooses the transport once: SMTP when MAIL_SERVER is set, otherwise the log, so a
new user sees every message in the terminal. A deliverer opens one connection per batch
(`current().open()`) and reuses it for every message of the batch. Failures are sorted into
temporary (4xx, connection problems: try again later) and permanent (5xx: never).
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr

from flask import Flask, current_app

from ..extensions import mail

log = logging.getLogger(__name__)
EXTENSION = "webinars.mail_transport"


class TemporaryFailure(Exception):
    """4xx or a connection problem: try again later."""


class PermanentFailure(Exception):
    """5xx: the server will never take this message; mark it failed."""


def classify(exc: Exception) -> Exception:
    """The SMTP answer (or socket error) as a temporary or permanent failure."""
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


class SMTPConnection:
    """Flask-Mail's SMTP connection, opened at the first message and reused for the batch."""

    def __init__(self, sender: str):
        self.sender = sender
        self.connection = None

    def send(self, recipient: str, message: EmailMessage) -> None:
        try:
            if self.connection is None:
                self.connection = mail.connect().__enter__()
            self.connection.host.sendmail(self.sender, [recipient], message.as_bytes(policy=SMTP))
        except (smtplib.SMTPException, OSError) as exc:
            # A refusal (4xx/5xx) leaves the connection usable for the rest of the batch.
            if not isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
                self.close()
            raise classify(exc) from exc

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.host.quit()
            self.connection = None


class LogConnection:
    """Writes each message to the log as a person reads it: headers and the plain text."""

    def send(self, recipient: str, message: EmailMessage) -> None:
        log.info("Mail (no MAIL_SERVER set, written to the log):\n%s", readable(message))

    def close(self) -> None:
        pass


class SMTPTransport:
    """Delivery over SMTP with Flask-Mail's settings."""

    def __init__(self, app: Flask):
        self.sender = parseaddr(app.config["MAIL_DEFAULT_SENDER"])[1]

    def open(self) -> SMTPConnection:
        return SMTPConnection(self.sender)


class LogTransport:
    """No MAIL_SERVER: every message goes to the log."""

    def open(self) -> LogConnection:
        return LogConnection()


def readable(message: EmailMessage) -> str:
    """The message as a person reads it in the log: headers and the plain-text body."""
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    body = message.get_body(("plain",))
    return f"{headers}\n\n{body.get_content() if body else ''}"


def init_app(app: Flask) -> None:
    """Bind Flask-Mail and choose this app's transport from MAIL_SERVER, once."""
    mail.init_app(app)
    transport = SMTPTransport(app) if app.config["MAIL_SERVER"] else LogTransport()
    app.extensions[EXTENSION] = transport


def current() -> SMTPTransport | LogTransport:
    """The transport create_app chose for the current app."""
    return current_app.extensions[EXTENSION]
