"""What arrives through a real SMTP server (aiosmtpd): headers, MIME structure, the invite."""

from webinars import declarations, invitations
from webinars.db import write_transaction
from webinars.mail import messages, outbox, worker
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


def test_an_invitation_carries_one_click_unsubscribe_and_the_personal_link(
    ctx, mail_app, smtp, create_event, create_programme, create_contact
):
    event = create_event(title="Stormøte om Akson")
    create_programme([event])
    create_contact("0301", name="Raymond Johansen", email="raymond@oslo.no")
    join_url = event.join_url
    invitations.send(event, invitations.Audience())
    [row] = outbox.messages(None, None, 1)[0]
    assert "/i/" not in row.context and row.token is None  # the link is rebuilt, not stored
    assert worker.deliver_due() == 1

    ((envelope, msg),) = smtp.messages
    assert envelope.rcpt_tos == ["raymond@oslo.no"]
    assert msg["Subject"] == "Invitasjon: Stormøte om Akson"
    unsubscribe = msg["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://webinars.test/u/") and unsubscribe.endswith(">")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Hei Raymond Johansen," in plain
    assert "http://webinars.test/i/" in plain and "http://webinars.test/i/" in html
    assert unsubscribe[1:-1] in plain
    assert join_url not in plain and join_url not in html  # only once registered
    assert [p for p in msg.walk() if p.get_content_type() == "text/calendar"] == []


def test_the_submission_link_mail_comes_from_the_programme(
    ctx, mail_app, smtp, create_programme, create_contact
):
    akson = create_programme()
    create_contact("4601", name="Ola", email="ola@bergen.no")
    declarations.send_submission_links(akson)
    assert worker.deliver_due() == 1

    ((_envelope, msg),) = smtp.messages
    assert msg["Subject"] == "Send inn intensjonserklæringen: Akson"
    assert msg["Reply-To"].addresses[0].addr_spec == "akson@hod.test"
    plain = msg.get_body(("plain",)).get_content()
    assert "Har Bergen signert intensjonserklæringen for Akson?" in plain
    assert "http://webinars.test/d/" in plain and "1. juli 2020" in plain
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
