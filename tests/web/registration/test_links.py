"""Links that never go missing: every mail to a registrant carries a working manage link, and
the event page sends it again ("Send meg lenken min på nytt") without telling who is registered.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select, update

from tests.support import deliver, form_token, manage_link, outbox, text_part, within
from webinars import registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import messages
from webinars.models import Event, OutboxMessage, Registration, utcnow

BASE = "http://webinars.test"


def _id_of(app, email: str) -> int:
    with within(app):
        return db.session.scalar(select(Registration.id).where(Registration.email == email))


def _queue(app, registration_id: int, queue) -> None:
    """Queue one mail for a registration the way the domain does, in a write transaction."""
    with within(app), write_transaction():
        queue(db.session.get(Registration, registration_id))


def _cancel(by_organiser: bool):
    def run(app, registration):
        with within(app):
            registrations.cancel(
                db.session.get(Registration, registration.id), by_organiser=by_organiser
            )

    return run


def _send_link(app, registration):
    with within(app), write_transaction():
        db.session.execute(
            update(Registration)
            .where(Registration.id == registration.id)
            .values(confirmation_sent_at=utcnow() - registrations.RESEND_AFTER)
        )
    with within(app):
        registrations.send_link(db.session.get(Event, registration.event_id), registration.email)


def _promote(app, registration):
    """The registrant is second on a full event's list; the first one cancels."""
    with within(app):
        first = db.session.scalars(
            select(Registration).where(
                Registration.event_id == registration.event_id, Registration.id != registration.id
            )
        ).one()
        registrations.cancel(first)


#: Each kind of mail to a registrant, and how it comes about for the second registrant of a
#: one-seat event with a waiting list (the first one has the seat).
KINDS = {
    "confirmation": None,
    "promoted": _promote,
    "event_updated": lambda app, r: _queue(
        app, r.id, lambda row: messages.queue_event_updated(row, {"title": ("Før", "Etter")})
    ),
    "reminder_day": lambda app, r: _queue(
        app, r.id, lambda row: messages.queue_reminder(row, hour=False)
    ),
    "reminder_hour": lambda app, r: _queue(
        app, r.id, lambda row: messages.queue_reminder(row, hour=True)
    ),
    "recording": lambda app, r: _queue(app, r.id, messages.queue_recording),
    "cancellation": _cancel(by_organiser=False),
    "cancellation_by_organiser": _cancel(by_organiser=True),
    "event_cancelled": lambda app, r: _queue(
        app, r.id, lambda row: messages.queue_event_cancelled(row, "Vi må avlyse.")
    ),
    "manage_link": _send_link,
}


@pytest.fixture
def seated(create_event, create_registration):
    """A one-seat event with a waiting list; Kari has the seat."""
    event = create_event(capacity=1, waitlist=True, title="Webinar om Akson")
    create_registration(event, "kari@kommune.no")
    return event


@pytest.mark.parametrize("kind", KINDS)
def test_every_mail_to_a_registrant_carries_a_working_manage_link(
    kind, mail_app, smtp, client, seated, create_registration
):
    ola = create_registration(seated, "ola@kommune.no", name="Ola Nordmann")
    deliver(mail_app)
    confirmation_link = manage_link(smtp.to("ola@kommune.no")[-1], BASE)
    if KINDS[kind] is not None:
        KINDS[kind](mail_app, ola)
        assert deliver(mail_app) >= 1
    kinds = [row.kind for row in outbox(mail_app) if row.registration_id == ola.id]
    assert kinds[-1] == kind.removesuffix("_by_organiser")

    mail = smtp.to("ola@kommune.no")[-1]
    link = manage_link(mail, BASE)
    assert link in mail.get_body(("html",)).get_content()
    page = client.get(urlsplit(link).path)
    assert page.status_code == 200
    assert "Din påmelding" in page.text and "Ola Nordmann" in page.text
    # One more link: the ones mailed before still work.
    assert client.get(urlsplit(confirmation_link).path).status_code == 200


def test_the_reminder_no_longer_points_to_the_confirmation(mail_app, smtp, seated):
    kari = _id_of(mail_app, "kari@kommune.no")
    _queue(mail_app, kari, lambda row: messages.queue_reminder(row, hour=False))
    deliver(mail_app)
    text = text_part(smtp.to("kari@kommune.no")[-1])
    assert "lenken i bekreftelsen" not in text
    assert "Kan du ikke delta? Avbestill med lenken under" in text
    assert "Se eller avbestill påmeldingen din:" in text


@pytest.mark.parametrize("by_organiser", [False, True], ids=["by-registrant", "by-organiser"])
def test_cancellation_mails_say_different_things(by_organiser, mail_app, smtp, seated):
    kari = _id_of(mail_app, "kari@kommune.no")
    with within(mail_app):
        registrations.cancel(db.session.get(Registration, kari), by_organiser=by_organiser)
    deliver(mail_app)
    text = text_part(smtp.to("kari@kommune.no")[-1])
    if by_organiser:
        assert "Arrangøren har avbestilt" in text
        assert "Ombestemmer du deg" not in text
        assert "Tror du dette er en feil" in text
    else:
        assert "Du har avbestilt" in text and "Ombestemmer du deg" in text
        assert "Tror du dette er en feil" not in text
    # A cancelled registration's link no longer offers to cancel, it shows the page.
    assert "Se påmeldingen din:" in text


# --- "Send meg lenken min på nytt" -----------------------------------------------------------


def ask_for_link(client, slug: str, email: str, **environ):
    """Post the event page's send-again form as a browser does."""
    page = client.get(f"/events/{slug}")
    token = re.search(r'name="link-csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    return client.post(
        f"/events/{slug}/link",
        data={"link-email": email, "link-csrf_token": token},
        environ_base=environ,
    )


def normalised(html: str, email: str) -> str:
    """A page with its CSRF tokens (signed with a time) and the posted address blanked."""
    html = re.sub(r'value="[^"]*\.[^"]*\.[^"]*"', 'value="TOKEN"', html)
    return html.replace(email, "ADDRESS")


def link_mails(app) -> list[OutboxMessage]:
    return [row for row in outbox(app) if row.kind == "manage_link"]


@pytest.fixture
def event(create_event):
    return create_event(title="Webinar om Akson")


@pytest.fixture
def kari(app, event, create_registration):
    """Kari registered a while ago (the re-send limit of her confirmation has passed)."""
    return create_registration(event, "kari@kommune.no", now=utcnow() - timedelta(hours=1))


def test_the_event_page_offers_to_send_the_link_again(client, event):
    page = client.get(f"/events/{event.slug}")
    assert "Send meg lenken min på nytt" in page.text
    assert 'name="link-email"' in page.text and 'name="link-csrf_token"' in page.text
    english = client.get(f"/events/{event.slug}?lang=en")
    assert "Send me my link again" in english.text


def test_registered_and_unknown_addresses_get_the_same_answer(app, client, event, kari):
    mine, other = app.test_client(), app.test_client()  # two browsers
    known = ask_for_link(mine, event.slug, "Kari@Kommune.no")
    unknown = ask_for_link(other, event.slug, "nobody@kommune.no")

    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == f"/events/{event.slug}#lenke"
    assert known.get_data() == unknown.get_data()
    # Each browser's page after the redirect (its session carries the message).
    first = mine.get(known.headers["Location"])
    second = other.get(unknown.headers["Location"])
    assert first.status_code == second.status_code == 200
    assert normalised(first.text, "kari@kommune.no") == normalised(second.text, "nobody@kommune.no")
    assert "Er nobody@kommune.no påmeldt til dette arrangementet" in second.text
    # Nothing private in the page: no manage link, no join link.
    assert "/r/" not in first.text and event.join_url not in first.text
    # Only the registered address gets a mail.
    sent = link_mails(app)
    assert [row.recipient for row in sent] == ["kari@kommune.no"]


def test_the_link_mail_opens_the_registrants_page(mail_app, smtp, client, event, kari):
    ask_for_link(client, event.slug, "kari@kommune.no")
    deliver(mail_app)
    mail = smtp.to("kari@kommune.no")[-1]
    assert mail["Subject"] == "Lenken til påmeldingen din: Webinar om Akson"
    text = text_part(mail)
    assert "Du ba om lenken" in text and "Du er påmeldt." in text
    page = client.get(urlsplit(manage_link(mail, BASE)).path)
    assert page.status_code == 200 and "Kari Nordmann" in page.text


def test_the_link_is_sent_at_most_once_per_resend_interval(app, client, event, kari):
    for _ in range(3):
        assert ask_for_link(client, event.slug, "kari@kommune.no").status_code == 303
    assert len(link_mails(app)) == 1
    # Ten minutes later it can go again.
    with within(app), write_transaction():
        row = db.session.get(Registration, kari.id)
        row.confirmation_sent_at = utcnow() - registrations.RESEND_AFTER - timedelta(seconds=1)
    ask_for_link(client, event.slug, "kari@kommune.no")
    assert len(link_mails(app)) == 2


def test_the_limit_is_shared_with_a_repeat_registration(app, client, event, register):
    """Registering and asking for the link in turn cannot flood someone's inbox."""
    assert register(event.slug, email="ola@kommune.no").status_code == 303
    ask_for_link(client, event.slug, "ola@kommune.no")
    assert link_mails(app) == []


def test_cancelled_and_other_events_registrations_get_nothing(
    app, client, create_event, create_registration, event, kari
):
    other = create_event()
    earlier = utcnow() - timedelta(hours=1)
    create_registration(other, "ola@kommune.no", now=earlier)
    with within(app):
        registrations.cancel(db.session.get(Registration, kari.id))
    ask_for_link(client, event.slug, "kari@kommune.no")
    ask_for_link(client, event.slug, "ola@kommune.no")
    assert link_mails(app) == []


def test_a_bad_address_is_answered_next_to_the_field(app, client, event, kari):
    answer = ask_for_link(client, event.slug, "ikke en adresse")
    assert answer.status_code == 422
    assert 'id="link-email-error"' in answer.text and 'aria-invalid="true"' in answer.text
    assert link_mails(app) == []


def test_the_form_needs_its_csrf_token(app, client, event, kari):
    client.get(f"/events/{event.slug}")
    answer = client.post(f"/events/{event.slug}/link", data={"link-email": "kari@kommune.no"})
    assert answer.status_code == 400
    assert link_mails(app) == []


def test_no_links_for_an_event_that_is_over(app, client, create_event):
    start = utcnow() - timedelta(days=2)
    over = create_event(starts_at=start, ends_at=start + timedelta(hours=1))
    page = client.get(f"/events/{over.slug}")
    assert "Send meg lenken min på nytt" not in page.text
    token = form_token(client.get("/organiser/login").text)
    answer = client.post(
        f"/events/{over.slug}/link", data={"link-email": "kari@kommune.no", "csrf_token": token}
    )
    assert answer.status_code == 409
    assert link_mails(app) == []


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True}])
def test_asking_for_links_is_limited_per_client(app, event):
    app.config["RATELIMIT_SEND_LINK"] = "3 per minute"
    client = app.test_client()
    for n in range(3):
        answer = ask_for_link(client, event.slug, f"p{n}@kommune.no", REMOTE_ADDR="203.0.113.9")
        assert answer.status_code == 303
    over = ask_for_link(client, event.slug, "p9@kommune.no", REMOTE_ADDR="203.0.113.9")
    assert over.status_code == 429
    # Another client is not affected.
    assert ask_for_link(client, event.slug, "p9@kommune.no").status_code == 303


def test_a_registered_and_an_unknown_address_run_the_same_statements(app, event, kari):
    """The deterministic side of the timing: the same SQL, in the same order, both times."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with within(app):
        engine = db.engine
        event_row = db.session.get(Event, event.id)
        registrations.send_link(event_row, "warm-up@kommune.no")  # both start after a commit
        sqlalchemy_event.listen(engine, "before_cursor_execute", record)
        try:
            registrations.send_link(event_row, "kari@kommune.no")
            registered, statements[:] = list(statements), []
            registrations.send_link(event_row, "nobody@kommune.no")
            unknown = list(statements)
        finally:
            sqlalchemy_event.remove(engine, "before_cursor_execute", record)
    # Message-IDs and times are parameters; the SQL itself is the same.
    assert registered == unknown
    assert any(s.lstrip().upper().startswith("INSERT INTO OUTBOX") for s in registered)
    assert [row.recipient for row in link_mails(app)] == ["kari@kommune.no"]
