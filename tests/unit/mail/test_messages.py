"""What arrives through a real SMTP server (aiosmtpd): headers, MIME structure, the invite;
and the language every mail of a registration is written in."""

from dataclasses import replace
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import inspect, select

from tests.support import text_part
from tests.unit.test_events import fields_of
from webinars import declarations, events, invitations, municipalities, registrations, reminders
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import messages, outbox, worker
from webinars.models import Event, OutboxMessage, Registration
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
        messages.queue_confirmation(registration, new_token())
    raw = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
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


def test_every_mail_of_a_registration_is_in_the_language_it_was_made_in(
    ctx, create_event, create_registration
):
    """Registered on nynorsk pages: confirmation, waiting list, update, reminder,
    cancellation, promotion, recording and the event's cancellation all come in nynorsk."""
    event = create_event(title="Stormøte", capacity=1, waitlist=True)
    kari = create_registration(event, "kari@kommune.no", locale="nn")
    ola = create_registration(event, "ola@kommune.no", locale="nn", name="Ola Nordmann")
    assert (kari.locale, ola.locale) == ("nn", "nn")
    event = db.session.get(Event, event.id)
    later = event.starts_at + timedelta(hours=1)
    events.update_event(
        event, replace(fields_of(event), starts_at=later, ends_at=later + timedelta(hours=1))
    )
    assert reminders.send_reminders(later - timedelta(hours=23)) == 1
    registrations.cancel(db.session.get(Registration, kari.id))  # Ola gets the seat
    with write_transaction():
        messages.queue_recording(db.session.get(Registration, ola.id))
    events.cancel_event(db.session.get(Event, event.id), "Vi set opp eit nytt møte.")

    expected = {
        ("confirmation", "kari@kommune.no"): "Du er påmeld Stormøte.",
        ("confirmation", "ola@kommune.no"): "Du står på ventelista: Stormøte",
        ("event_updated", "kari@kommune.no"): "Endra: Stormøte",
        ("event_updated", "ola@kommune.no"): "Endra: Stormøte",
        ("reminder_day", "kari@kommune.no"): "Dette er ei påminning om at du er påmeld",
        ("cancellation", "kari@kommune.no"): "Møtet blir fjerna frå kalenderen din.",
        ("promoted", "ola@kommune.no"): "Det blei ein plass ledig",
        ("recording", "ola@kommune.no"): "Opptaket er tilgjengeleg",
        ("event_cancelled", "ola@kommune.no"): "Melding frå arrangøren:",
    }
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert sorted((row.kind, row.recipient) for row in rows) == sorted(expected)
    for row in rows:
        mail = messages.compose(row)
        text = mail["Subject"] + "\n" + text_part(mail)
        assert mail["Content-Language"] == "nn", row.kind
        assert expected[row.kind, row.recipient] in text, (row.kind, text)
        assert "Påmeldingen" not in text and "påmeldt" not in text, (row.kind, text)


@pytest.mark.usefixtures("restore_register")
def test_a_registration_an_organiser_makes_follows_the_municipality(ctx, create_event):
    """Nobody chose a language: a nynorsk municipality's people get nynorsk, others bokmål."""
    event = create_event(title="Stormøte")
    municipalities.set_languages({"4621": "nn", "4601": "neutral"})  # Voss and Bergen
    voss, _new = registrations.add_by_organiser(
        event, name="Hans", email="hans@voss.no", role="ordforer", municipality="4621"
    )
    bergen, _new = registrations.add_by_organiser(
        event, name="Marte", email="marte@bergen.no", role="ordforer", municipality="4601"
    )
    assert (voss.locale, bergen.locale) == ("nn", "nb")
    subjects = dict(
        db.session.execute(select(OutboxMessage.recipient, OutboxMessage.subject)).all()
    )
    assert subjects == {
        "hans@voss.no": "Påmeldinga er stadfesta: Stormøte",
        "marte@bergen.no": "Påmeldingen er bekreftet: Stormøte",
    }


def test_a_subject_kept_for_reuse_follows_the_event_and_its_values(ctx, create_event):
    event = create_event(title="Stormøte")
    subject = partial(messages.render_subject, "confirmation", event=event)
    assert subject("nb", status="confirmed") == "Påmeldingen er bekreftet: Stormøte"
    assert subject("nb", status="confirmed") == "Påmeldingen er bekreftet: Stormøte"
    assert subject("nb", status="waitlisted") == "Du står på ventelisten: Stormøte"
    assert subject("nn", status="waitlisted") == "Du står på ventelista: Stormøte"
    assert subject("en", status="confirmed") != subject("nb", status="confirmed")
    events.update_event(event, replace(fields_of(event), title="Nytt stormøte"))
    db.session.refresh(event)  # loaded again whole, as a request reads it
    assert subject("nb", status="confirmed") == "Påmeldingen er bekreftet: Nytt stormøte"
    # Changed in the session, not yet written (its version has not moved): as it is now.
    with write_transaction():
        event.title = "Tredje tittel"
        assert "updated_at" in inspect(event).dict
        assert subject("nb", status="confirmed") == "Påmeldingen er bekreftet: Tredje tittel"
    assert subject("nb", status="confirmed") == "Påmeldingen er bekreftet: Tredje tittel"
    other = create_event(title="Webinar")
    assert (
        messages.render_subject("confirmation", "nb", event=other, status="confirmed")
        == "Påmeldingen er bekreftet: Webinar"
    )
