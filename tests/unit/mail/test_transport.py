"""How mail leaves: a real SMTP server (aiosmtpd) or the log; refusals sorted into
temporary (retried later) and permanent (never retried)."""

import contextlib
import logging
import socket
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.support import Inbox, free_port, outbox, serve_smtp
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import transport, worker
from webinars.models import OutboxMessage, utcnow


def point_at(app, port: int) -> None:
    """Deliver to an SMTP server on this loopback port (chosen once, as create_app does)."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    transport.init_app(app)


# --- failures -------------------------------------------------------------------------------


def test_temporary_refusal_is_retried_later(ctx, mail_app, smtp, create_event, create_registration):
    create_registration(create_event())
    smtp.reply = "450 4.2.0 Mailbox busy, try later"
    assert worker.deliver_due() == 0

    (message,) = outbox(ctx)
    assert message.status == "retrying" and message.attempts == 1
    assert message.next_attempt_at > utcnow()
    assert "450" in message.last_error and "try later" in message.last_error
    assert message.token is not None  # the manage link is still to be sent
    assert smtp.messages == []
    assert worker.deliver_due() == 0  # not due yet

    smtp.reply = None
    with write_transaction():
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    assert worker.deliver_due() == 1
    (message,) = outbox(ctx)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)


def test_permanent_refusal_fails_and_is_never_retried(
    ctx, mail_app, smtp, create_event, create_registration
):
    create_registration(create_event())
    smtp.reply = "550 5.1.1 No such user"
    assert worker.deliver_due() == 0
    (message,) = outbox(ctx)
    assert message.status == "failed"
    assert "550" in message.last_error and "No such user" in message.last_error

    smtp.reply = None
    with write_transaction():
        db.session.execute(
            update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(days=1))
        )
    assert worker.deliver_due() == 0
    assert smtp.messages == []
    assert outbox(ctx)[0].status == "failed"


def test_server_down_is_retried(ctx, create_event, create_registration):
    point_at(ctx, free_port())  # nothing listens there
    create_registration(create_event())
    assert worker.deliver_due() == 0
    (message,) = outbox(ctx)
    assert message.status == "retrying"
    assert message.next_attempt_at > utcnow()
    assert "Connection" in message.last_error or "refused" in message.last_error


# --- the log transport ----------------------------------------------------------------------


def test_without_mail_server_the_message_goes_to_the_log(
    ctx, create_event, create_registration, caplog
):
    assert ctx.config["MAIL_SERVER"] is None
    create_registration(create_event(title="Loggmøtet"))
    with caplog.at_level(logging.INFO, logger="webinars.mail"):
        assert worker.deliver_due() == 1
    assert "no MAIL_SERVER" in caplog.text
    assert "kari@kommune.no" in caplog.text and "Loggmøtet" in caplog.text
    (message,) = outbox(ctx)
    assert message.status == "logged", "nobody received it: it is not marked sent"
    assert message.token is None


# --- one connection per batch ---------------------------------------------------------------


class PeerInbox(Inbox):
    """Also notes which client connection each message came over."""

    def __init__(self):
        super().__init__()
        self.peers = []

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def peer_smtp():
    with serve_smtp(PeerInbox()) as inbox:
        yield inbox


def test_one_smtp_connection_serves_a_batch(ctx, peer_smtp, create_event, create_registration):
    point_at(ctx, peer_smtp.port)
    event = create_event()
    for n in range(5):
        create_registration(event, f"p{n}@kommune.no")
    assert worker.deliver_due() == 5
    assert len(peer_smtp.messages) == 5
    assert len(set(peer_smtp.peers)) == 1


# --- a server that hangs, one that is not trusted, a message that cannot be sent ------------


@contextmanager
def silent_server():
    """Accepts connections and never says a word (not even the SMTP greeting)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_hang_a_server_that_never_answers_costs_one_timeout_then_the_batch_waits(
    ctx, create_event, create_registration
):
    event = create_event()
    for n in range(3):
        create_registration(event, f"p{n}@kommune.no")
    with silent_server() as port:
        ctx.config["MAIL_TIMEOUT"] = 0.5
        point_at(ctx, port)
        started = time.monotonic()
        assert worker.deliver_all() == 0
        elapsed = time.monotonic() - started
    assert elapsed < 3, f"one timeout, not one per message or for ever ({elapsed:.1f} s)"
    first, *rest = outbox(ctx)
    assert (first.status, first.attempts) == ("retrying", 1)
    assert "timed out" in first.last_error
    assert [(m.status, m.attempts) for m in rest] == [("queued", 0), ("queued", 0)]
    assert all(m.next_attempt_at == first.next_attempt_at > utcnow() for m in rest)
    assert all(m.claimed_by is None for m in outbox(ctx))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 that no trust store knows."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", folder / "key.pem", "-out", folder / "cert.pem", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder / "cert.pem", folder / "key.pem"


@contextmanager
def tls_server(certificate, mode: str):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    kwargs = {"tls_context": context, "require_starttls": True}
    if mode == "ssl":
        kwargs = {"ssl_context": context}
    with serve_smtp(Inbox(), **kwargs) as inbox:
        yield inbox


@pytest.mark.parametrize("mode", ["tls", "ssl"])
def test_untrusted_certificate_nothing_is_sent_and_the_reason_is_visible(
    ctx, create_event, create_registration, certificate, mode, monkeypatch
):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    create_registration(create_event())
    with tls_server(certificate, mode) as inbox:
        ctx.config.update(MAIL_USE_TLS=mode == "tls", MAIL_USE_SSL=mode == "ssl")
        point_at(ctx, inbox.port)
        assert worker.deliver_due() == 0
        assert inbox.messages == []
    (message,) = outbox(ctx)
    assert message.status == "retrying"
    assert "CERTIFICATE_VERIFY_FAILED" in message.last_error


@pytest.mark.parametrize("mode", ["tls", "ssl"])
def test_a_certificate_in_ssl_cert_file_is_trusted(
    ctx, create_event, create_registration, certificate, mode, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    create_registration(create_event())
    with tls_server(certificate, mode) as inbox:
        ctx.config.update(MAIL_USE_TLS=mode == "tls", MAIL_USE_SSL=mode == "ssl")
        point_at(ctx, inbox.port)
        assert worker.deliver_due() == 1
        assert len(inbox.messages) == 1


def test_a_poisoned_message_between_good_ones_fails_alone(
    ctx, mail_app, smtp, create_event, create_registration
):
    """An address the mail system cannot carry used to abort the batch and leave every
    message of it "sending"."""
    event = create_event()
    for address in ("first@kommune.no", "poison@kommune.no", "last@kommune.no"):
        create_registration(event, address)
    with write_transaction():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.recipient == "poison@kommune.no")
            .values(recipient="kari@bø.kommune.no")
        )
    assert worker.deliver_all() == 2
    assert sorted(e.rcpt_tos[0] for e, _ in smtp.messages) == [
        "first@kommune.no",
        "last@kommune.no",
    ]
    statuses = {m.recipient: (m.status, m.attempts) for m in outbox(ctx)}
    assert statuses == {
        "first@kommune.no": ("sent", 1),
        "kari@bø.kommune.no": ("failed", 1),
        "last@kommune.no": ("sent", 1),
    }
