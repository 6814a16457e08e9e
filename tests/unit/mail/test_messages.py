"""What arrives through a real SMTP server (aiosmtpd): headers, MIME structure, the invite."""

from webinars.db import write_transaction
from webinars.mail import messages, worker
from webinars.registrations import new_token


def test_confirmation_arrives_as_multipart_with_a_request_invite(
    ctx, mail_app, smtp, create_event, create_registration
):
    event = create_event(title="Stormøte om Akson")
    join_url = create_registration(event).event.join_url
    assert worker.deliver_due() == 1  # ends the session: read what we need first

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


def test_line_breaks_in_a_name_cannot_add_headers_or_recipients(
    ctx, mail_app, smtp, create_event, create_registration
):
    event = create_event(title="Møte\r\nBcc: alle@example.org")
    registration = create_registration(event, name="Kari\r\nBcc: evil@example.org")
    # The builder itself, given a raw name (as a caller that skips the form's clean-up
    # might store it): the register service normalised the one above, this one is raw.
    with write_transaction():
        registration.name = "Kari\r\nBcc: evil@example.org\r\nX-Evil: 1"
        raw = messages.queue_confirmation(registration, new_token())
    assert "\r\n" in raw.recipient_name  # it did reach the outbox unchanged
    assert worker.deliver_due() == 2

    for envelope, msg in smtp.messages:
        assert envelope.rcpt_tos == ["kari@kommune.no"]
        assert msg["Bcc"] is None and msg["X-Evil"] is None
        assert [a.addr_spec for a in msg["To"].addresses] == ["kari@kommune.no"]
        assert "\n" not in msg["Subject"] and "\n" not in str(msg["To"])
