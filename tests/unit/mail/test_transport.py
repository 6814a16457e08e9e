"""How mail leaves: a real SMTP server (aiosmtpd) or the log; refusals sorted into
temporary (retried later) and permanent (never retried)."""

import logging
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
