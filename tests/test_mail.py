"""Outgoing mail through a real SMTP server (aiosmtpd): the message, retries, no duplicates."""

import logging
import threading
from datetime import timedelta

import pytest
from conftest import Inbox, free_port, serve_smtp
from sqlalchemy import select, update

from webinars import mail, services
from webinars.extensions import db
from webinars.extensions import mail as flask_mail
from webinars.models import OutboxMessage, utcnow


def register(event, address="kari@kommune.no", **fields):
    person = {"name": "Kari Nordmann", "role": "ordforer", "municipality": "0301"}
    return services.register(event, **{**person, "email": address, **fields})[0]


def messages() -> list[OutboxMessage]:
    db.session.rollback()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def point_at(app, port: int) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    flask_mail.init_app(app)


# --- what arrives -------------------------------------------------------------------------------


def test_confirmation_arrives_as_multipart_with_a_request_invite(mail_app, smtp, create_event):
    event = create_event(title="Stormøte om Akson")
    join_url = register(event).event.join_url
    assert mail.deliver_due() == 1  # ends the session: read what we need first

    ((envelope, msg),) = smtp.messages
    assert envelope.rcpt_tos == ["kari@kommune.no"]
    assert envelope.mail_from == "noreply@webinars.test"
    assert msg["To"].addresses[0].addr_spec == "kari@kommune.no"
    assert msg["Subject"] == "Påmeldingen er bekreftet: Stormøte om Akson"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Du er meldt på Stormøte om Akson." in plain and join_url in plain
    assert "Du er meldt på Stormøte om Akson." in html and "<a href=" in html

    calendars = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendars) == 1
    assert calendars[0].get_param("method") == "REQUEST"
    assert "METHOD:REQUEST" in calendars[0].get_content()
    attachments = list(msg.iter_attachments())
    assert attachments, "the invite is attached as a file too"
    for part in attachments:
        assert part.get_filename().isascii() and part.get_filename().endswith(".ics")
        assert part.get_param("method") == "REQUEST"

    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Message-ID"].endswith("@webinars.test>")
    assert msg["Reply-To"].addresses[0].addr_spec == "akson@ks.test"
    assert msg["Reply-To"].addresses[0].display_name == "KS"


def test_line_breaks_in_a_name_cannot_add_headers_or_recipients(mail_app, smtp, create_event):
    event = create_event(title="Møte\r\nBcc: alle@example.org")
    registration = register(event, name="Kari\r\nBcc: evil@example.org")
    # The builder itself, given a raw name (as an organiser-side caller might pass it).
    mail.queue(
        "confirmation",
        "confirmation",
        recipient="kari@kommune.no",
        recipient_name="Kari\r\nBcc: evil@example.org\r\nX-Evil: 1",
        event=event,
        registration=registration,
        manage_url="http://webinars.test/r/x",
    )
    db.session.commit()
    assert mail.deliver_due() == 2

    for envelope, msg in smtp.messages:
        assert envelope.rcpt_tos == ["kari@kommune.no"]
        assert msg["Bcc"] is None and msg["X-Evil"] is None
        assert [a.addr_spec for a in msg["To"].addresses] == ["kari@kommune.no"]
        assert "\n" not in msg["Subject"] and "\n" not in str(msg["To"])


# --- failures -------------------------------------------------------------------------------


def test_temporary_refusal_is_retried_later(mail_app, smtp, create_event):
    register(create_event())
    smtp.reply = "450 4.2.0 Mailbox busy, try later"
    assert mail.deliver_due() == 0

    (message,) = messages()
    assert message.status == "retrying" and message.attempts == 1
    assert message.next_attempt_at > utcnow()
    assert "450" in message.last_error and "try later" in message.last_error
    assert message.token is not None  # the manage link is still to be sent
    assert smtp.messages == []
    assert mail.deliver_due() == 0  # not due yet

    smtp.reply = None
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert mail.deliver_due() == 1
    (message,) = messages()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)


def test_permanent_refusal_fails_and_is_never_retried(mail_app, smtp, create_event):
    register(create_event())
    smtp.reply = "550 5.1.1 No such user"
    assert mail.deliver_due() == 0
    (message,) = messages()
    assert message.status == "failed"
    assert "550" in message.last_error and "No such user" in message.last_error

    smtp.reply = None
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    assert mail.deliver_due() == 0
    assert smtp.messages == []
    assert messages()[0].status == "failed"


def test_server_down_is_retried(app, create_event):
    point_at(app, free_port())  # nothing listens there
    register(create_event())
    assert mail.deliver_due() == 0
    (message,) = messages()
    assert message.status == "retrying"
    assert message.next_attempt_at > utcnow()
    assert "Connection" in message.last_error or "refused" in message.last_error


def test_failures_stop_after_the_last_attempt(mail_app, smtp, create_event):
    mail_app.config["MAIL_MAX_ATTEMPTS"] = 2
    register(create_event())
    smtp.reply = "421 4.3.2 Shutting down"
    mail.deliver_due()
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    mail.deliver_due()
    (message,) = messages()
    assert (message.status, message.attempts) == ("failed", 2)
    assert "421" in message.last_error


# --- exactly once ----------------------------------------------------------------------------


def test_concurrent_deliverers_send_each_message_once(mail_app, smtp, create_event):
    event = create_event()
    for n in range(40):
        register(event, f"p{n}@kommune.no")
    errors = []

    def deliverer():
        try:
            with mail_app.app_context():
                while mail.deliver_due(limit=3):
                    pass
        except Exception as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliverer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    received = [msg["Message-ID"] for _, msg in smtp.messages]
    assert len(received) == 40 and len(set(received)) == 40
    assert {m.status for m in messages()} == {"sent"}
    assert sorted(received) == sorted(m.message_id for m in messages())


def test_a_crashed_claim_is_picked_up_again(mail_app, smtp, create_event):
    register(create_event())
    register(create_event(), "ola@kommune.no")
    stale, live = messages()
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == stale.id)
        .values(
            status="sending", claimed_by="crashed", claimed_until=utcnow() - timedelta(seconds=1)
        )
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == live.id)
        .values(status="sending", claimed_by="busy", claimed_until=utcnow() + timedelta(minutes=5))
    )
    db.session.commit()

    assert mail.deliver_due() == 1
    assert [env.rcpt_tos for env, _ in smtp.messages] == [["kari@kommune.no"]]
    stale, live = messages()
    assert stale.status == "sent" and stale.claimed_by is None
    assert (live.status, live.claimed_by) == ("sending", "busy")


def test_manage_token_is_cleared_once_sent(mail_app, smtp, create_event):
    register(create_event())
    (message,) = messages()
    assert message.token and f"/r/{message.token}" in mail.compose(message).as_string()
    mail.deliver_due()
    (message,) = messages()
    assert message.status == "sent" and message.token is None
    assert message.sent_at is not None and message.subject and message.recipient


def test_without_mail_server_the_message_goes_to_the_log(app, create_event, caplog):
    assert app.config["MAIL_SERVER"] is None
    register(create_event(title="Loggmøtet"))
    with caplog.at_level(logging.INFO, logger="webinars.mail"):
        assert mail.deliver_due() == 1
    assert "no MAIL_SERVER" in caplog.text
    assert "kari@kommune.no" in caplog.text and "Loggmøtet" in caplog.text
    (message,) = messages()
    assert message.status == "sent"


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


def test_one_smtp_connection_serves_a_batch(app, peer_smtp, create_event):
    point_at(app, peer_smtp.port)
    event = create_event()
    for n in range(5):
        register(event, f"p{n}@kommune.no")
    assert mail.deliver_due() == 5
    assert len(peer_smtp.messages) == 5
    assert len(set(peer_smtp.peers)) == 1
