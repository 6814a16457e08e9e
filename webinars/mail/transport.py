"""How messages leave: over SMTP (Flask-Mail's settings and connection) or into the log.

`init_app` chooses the transport once: SMTP when MAIL_SERVER is set, otherwise the log, so a
new user sees every message in the terminal (such messages are *logged*, not *sent*). A
deliverer opens one connection per batch (`current().open()`) and reuses it for every
message of the batch. Failures are sorted into temporary (4xx: try again later), permanent
(5xx, or a message the connection cannot carry: never) and connection failures (the server
is unreachable, hangs or is not trusted: stop the batch, try again later).

Flask-Mail opens its SMTP connection with neither a timeout nor an SSL context, so a server
that accepts and then stays silent blocks for ever, and STARTTLS or implicit TLS verify no
certificate on Python 3.11 (its issue #114). `VerifiedConnection` adds both.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
from email import message_from_bytes, policy
from email.utils import parseaddr

from flask import Flask, current_app
from flask_mail import Connection

from ..extensions import mail
from . import outbox

log = logging.getLogger(__name__)
EXTENSION = "webinars.mail_transport"
_LEADING_DOT = re.compile(rb"^\.", re.M)


class TemporaryFailure(Exception):
    """4xx: try this message again later."""


class ConnectionFailure(TemporaryFailure):
    """No usable connection (refused, timed out, TLS not trusted): stop the batch, retry."""


class PermanentFailure(Exception):
    """5xx, or a message that cannot be sent at all: mark it failed."""


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
    return ConnectionFailure(f"{type(exc).__name__}: {exc}")


class VerifiedConnection(Connection):
    """Flask-Mail's connection with a timeout on every step and verified TLS.

    MAIL_TIMEOUT bounds the connect and each command; STARTTLS and implicit TLS check the
    server's certificate and host name against the system's trust store (SSL_CERT_FILE and
    SSL_CERT_DIR are honoured, as everywhere in OpenSSL).
    """

    def __init__(self, state, timeout: float):
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        if state.use_ssl:
            host = smtplib.SMTP_SSL(
                state.server, state.port, timeout=self.timeout, context=_verifying_context()
            )
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=self.timeout)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls(context=_verifying_context())
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


def _verifying_context() -> ssl.SSLContext:
    """Certificate and host name checked against the system's trust store (made only when
    TLS is used: loading the store takes ~30 ms)."""
    return ssl.create_default_context()


class SMTPConnection:
    """One SMTP connection, opened at the first message and reused for the batch."""

    #: What a message this connection took becomes.
    delivered = outbox.SENT

    def __init__(self, sender: str, timeout: float):
        self.sender = sender
        self.timeout = timeout
        self.host: smtplib.SMTP | None = None

    def send(self, recipient: str, data: bytes) -> None:
        """Hand one message (its bytes) to the server; raise a classified failure."""
        self.start(recipient, data)
        self.finish()

    def start(self, recipient: str, data: bytes) -> None:
        """MAIL, RCPT and DATA with the message, without reading the server's last answer.

        The caller can do other work while the server takes the message in, then calls
        `finish`. (What smtplib's sendmail does, split at that point.)
        """
        try:
            if self.host is None:
                state = current_app.extensions["mail"]
                self.host = VerifiedConnection(state, self.timeout).configure_host()
        except Exception as exc:
            # Refused, timed out, TLS not trusted, login refused: no message can go now.
            raise ConnectionFailure(f"{type(exc).__name__}: {exc}") from exc
        host = self.host
        try:
            host.ehlo_or_helo_if_needed()
            code, answer = host.mail(self.sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, answer, self.sender)
            code, answer = host.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})
            host.putcmd("data")
            code, answer = host.getreply()
            if code != 354:
                raise smtplib.SMTPDataError(code, answer)
            # Dot-stuffing and the end marker, as smtplib's data() writes them.
            body = _LEADING_DOT.sub(b"..", data)
            host.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
            # A refusal leaves the connection usable (after RSET) for the rest.
            self._reset()
            raise classify(exc) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise ConnectionFailure(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            # Something in this message the connection cannot carry (e.g. an address that
            # is not ASCII): this message fails alone, the connection is reset for the rest.
            self._reset()
            raise PermanentFailure(f"cannot be sent: {type(exc).__name__}: {exc}") from exc

    def finish(self) -> None:
        """Read the server's answer to the message `start` sent; raise a classified failure."""
        try:
            code, answer = self.host.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise ConnectionFailure(f"{type(exc).__name__}: {exc}") from exc
        if code != 250:
            self._reset()
            raise classify(smtplib.SMTPDataError(code, answer))

    def _reset(self) -> None:
        try:
            self.host.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self.host is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.host.quit()
            with contextlib.suppress(OSError):
                self.host.close()
            self.host = None


class LogConnection:
    """Writes each message to the log as a person reads it: headers and the plain text."""

    delivered = outbox.LOGGED

    def send(self, recipient: str, data: bytes) -> None:
        self.start(recipient, data)

    def start(self, recipient: str, data: bytes) -> None:
        log.info("Mail (no MAIL_SERVER set, written to the log, not sent):\n%s", readable(data))

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class SMTPTransport:
    """Delivery over SMTP with Flask-Mail's settings."""

    sends = True

    def __init__(self, app: Flask):
        self.sender = parseaddr(app.config["MAIL_DEFAULT_SENDER"])[1]
        self.timeout = app.config["MAIL_TIMEOUT"]

    def open(self) -> SMTPConnection:
        return SMTPConnection(self.sender, self.timeout)


class LogTransport:
    """No MAIL_SERVER: every message goes to the log, and none is sent."""

    sends = False

    def open(self) -> LogConnection:
        return LogConnection()


def readable(data: bytes) -> str:
    """The message as a person reads it in the log: headers and the plain-text body."""
    message = message_from_bytes(data, policy=policy.default)
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    body = message.get_body(("plain",))
    return f"{headers}\n\n{body.get_content() if body else ''}"


def init_app(app: Flask) -> None:
    """Bind Flask-Mail and choose this app's transport from MAIL_SERVER, once."""
    mail.init_app(app)
    if app.config["MAIL_SERVER"]:
        app.extensions[EXTENSION] = SMTPTransport(app)
        return
    app.extensions[EXTENSION] = LogTransport()
    if not (app.debug or app.testing):
        app.logger.warning(
            "MAIL_SERVER is not set: e-mail is written to the log and marked logged, not "
            "sent. Set MAIL_SERVER (and MAIL_PORT, MAIL_USE_TLS, …) in production."
        )


def current() -> SMTPTransport | LogTransport:
    """The transport create_app chose for the current app."""
    return current_app.extensions[EXTENSION]
