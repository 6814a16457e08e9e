"""The public pages: every kind of bad input, the confirmation, the registrant's page."""

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import func, select

from webinars import mail, seed
from webinars.extensions import db
from webinars.models import OutboxMessage, Registration, utcnow

LONG = "x" * 20_000
TRANSLATIONS = Path(__file__).resolve().parent.parent / "webinars" / "translations"


def csrf(page) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)


def field_error(page, field: str) -> str | None:
    """The message shown right under a field, as the visitor reads it."""
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page.text, re.S)
    return html.unescape(match.group(1)) if match else None


def nothing_stored() -> bool:
    db.session.rollback()
    registrations = db.session.scalar(select(func.count()).select_from(Registration))
    messages = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    return registrations == 0 and messages == 0


def outbox() -> list[OutboxMessage]:
    db.session.rollback()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def mail_part(message: OutboxMessage, subtype: str) -> str:
    parsed = mail.compose(message)
    return parsed.get_body((subtype,)).get_content()


def manage_path(message: OutboxMessage) -> str:
    return re.search(r"https?://[^/\s]+(/r/[A-Za-z0-9_-]+)", mail_part(message, "plain")).group(1)


def another_browser(app):
    """A second test client. The `app` fixture's app context is shared by every request in
    the test, and Flask-WTF caches the CSRF token in `g`: forget it, as a new request would."""
    g.pop("csrf_token", None)
    return app.test_client()


@pytest.fixture
def event(create_event):
    return create_event()


@pytest.fixture
def registered(client, event, register):
    """A confirmed registration and the path of the manage link its e-mail carries."""
    assert register(event.slug).status_code == 303
    return manage_path(outbox()[-1])


# --- bad input: the form again with the message next to the field (422), nothing stored -------


def test_empty_form(register, event):
    page = register(event.slug, name="  ", email="", role="", municipality="")
    assert page.status_code == 422
    assert field_error(page, "name") == "Skriv navnet ditt."
    assert field_error(page, "email") == "Skriv e-postadressen din."
    assert field_error(page, "role") == "Velg rollen din."
    assert field_error(page, "municipality") == "Velg kommunen din."
    assert field_error(page, "organisation") is None  # optional
    assert "Noe må rettes før du kan sende skjemaet" in page.text
    assert nothing_stored()


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("name", "Navnet kan være høyst 200 tegn."),
        ("email", "E-postadressen er for lang."),
        ("organisation", "Organisasjonen kan være høyst 200 tegn."),
        ("role", "Velg en rolle fra listen."),
        ("municipality", "Velg en kommune fra listen; den viser kommunene arrangementet er for."),
    ],
)
def test_20000_character_field(register, event, field, message):
    value = LONG + "@kommune.no" if field == "email" else LONG
    page = register(event.slug, **{field: value})
    assert page.status_code == 422
    assert message in field_error(page, field)
    assert nothing_stored()


@pytest.mark.parametrize(
    "address",
    [
        "kari",
        "kari@",
        "@kommune.no",
        "kari@kommune",
        "kari nordmann@kommune.no",
        "kari@kommune.no\r\nBcc: alle@example.org",
        "kari@@kommune.no",
    ],
)
def test_malformed_email(register, event, address):
    page = register(event.slug, email=address)
    assert page.status_code == 422
    assert field_error(page, "email") == (
        "Skriv en gyldig e-postadresse, for eksempel navn@kommune.no."
    )
    assert nothing_stored()


def test_name_with_line_break(register, event):
    page = register(event.slug, name="Kari\r\nBcc: alle@example.org")
    assert page.status_code == 422
    assert field_error(page, "name") == "Feltet kan ikke inneholde linjeskift eller kontrolltegn."
    assert nothing_stored()


@pytest.mark.parametrize("number", ["9999", "abcd", "301"])
def test_unknown_municipality(register, event, number):
    page = register(event.slug, municipality=number)
    assert page.status_code == 422
    assert field_error(page, "municipality").startswith("Velg en kommune fra listen")
    assert nothing_stored()


def test_unknown_role(register, event):
    page = register(event.slug, role="keiser")
    assert page.status_code == 422
    assert field_error(page, "role") == "Velg en rolle fra listen."
    assert nothing_stored()


def test_akson_meeting_refuses_midt_norge(app, client, register):
    seed.seed_akson()
    page = client.get("/events/akson-stormote")
    assert '<option value="0301">' in page.text  # Oslo (Sør-Øst) is offered
    assert '<option value="5001">' not in page.text  # Trondheim (Midt-Norge) is not
    page = register("akson-stormote", municipality="5001")
    assert page.status_code == 422
    assert "den viser kommunene arrangementet er for" in field_error(page, "municipality")
    assert nothing_stored()
    assert register("akson-stormote", municipality="1811").status_code == 303  # Bindal, Nord


# --- CSRF ------------------------------------------------------------------------------------


def test_missing_csrf_token(client, event):
    client.get(f"/events/{event.slug}")
    data = {"name": "Kari", "email": "kari@kommune.no", "role": "ordforer", "municipality": "0301"}
    page = client.post(f"/events/{event.slug}/register", data=data)
    assert page.status_code == 400
    assert "Skjemaet var utløpt" in page.text and "Ingenting er lagret" in page.text
    assert nothing_stored()


def test_wrong_csrf_token(register, event):
    page = register(event.slug, csrf_token="IjEyMzQi.ZmFrZQ.c2lnbmF0dXJl")
    assert page.status_code == 400
    assert "Skjemaet var utløpt" in page.text
    assert nothing_stored()


def test_csrf_token_from_another_session(client, app, event, register):
    token = csrf(another_browser(app).get(f"/events/{event.slug}"))
    g.pop("csrf_token", None)
    page = register(event.slug, csrf_token=token)
    assert page.status_code == 400
    assert nothing_stored()


# --- events that take no registrations: 4xx with the reason ---------------------------------


def test_deadline_is_checked_again_when_the_form_is_posted(client, event):
    page = client.get(f"/events/{event.slug}")
    assert "Meld meg på" in page.text
    event.deadline_days_before = None
    event.deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    data = {
        "name": "Kari",
        "email": "kari@kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "csrf_token": csrf(page),
    }
    answer = client.post(f"/events/{event.slug}/register", data=data)
    assert answer.status_code == 403
    assert "Påmeldingsfristen har gått ut." in answer.text
    assert "Ingen påmelding er registrert." in answer.text
    assert nothing_stored()
    assert "Meld meg på" not in client.get(f"/events/{event.slug}").text


def _post_with_valid_token(client, open_slug, slug):
    token = csrf(client.get(f"/events/{open_slug}"))
    data = {
        "name": "Kari",
        "email": "kari@kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "csrf_token": token,
    }
    return client.post(f"/events/{slug}/register", data=data)


def test_post_to_a_draft_event_is_404(client, create_event, event):
    draft = create_event(status="draft")
    assert client.get(f"/events/{draft.slug}").status_code == 404
    page = _post_with_valid_token(client, event.slug, draft.slug)
    assert page.status_code == 404
    assert "Fant ikke siden" in page.text
    assert nothing_stored()


def test_post_to_a_cancelled_event_is_410(client, create_event, event):
    cancelled = create_event(status="cancelled")
    assert client.get(f"/events/{cancelled.slug}").status_code == 200
    page = _post_with_valid_token(client, event.slug, cancelled.slug)
    assert page.status_code == 410
    assert "Arrangementet er avlyst" in page.text
    assert nothing_stored()


def test_post_to_a_full_event_without_waitlist_is_409(client, create_event, register):
    full = create_event(capacity=1)
    assert register(full.slug, email="first@kommune.no").status_code == 303
    page = register(full.slug, email="second@kommune.no")
    assert page.status_code == 409
    assert "Arrangementet er fullt" in page.text
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 1


def test_unknown_slug_is_404(client):
    assert client.get("/events/finnes-ikke").status_code == 404


# --- the answer after registering -------------------------------------------------------------


def test_confirmation_page_names_the_address_and_no_private_link(client, event, register):
    answer = register(event.slug, email="Kari@Kommune.no")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/events/{event.slug}/registered"
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    assert "Vi har sendt en bekreftelse til kari@kommune.no." in page.text
    assert event.join_url not in page.text
    assert "/r/" not in page.text
    (message,) = outbox()
    assert message.kind == "confirmation" and message.recipient == "kari@kommune.no"


def test_waitlisted_registrant_is_not_told_they_have_a_seat(app, client, create_event, register):
    event = create_event(capacity=1, waitlist=True)
    seated = register(event.slug, email="first@kommune.no")
    assert seated.status_code == 303
    waiting = another_browser(app)
    token = csrf(waiting.get(f"/events/{event.slug}"))
    fields = {"name": "Ola", "role": "ordforer", "municipality": "0301", "csrf_token": token}
    answer = waiting.post(
        f"/events/{event.slug}/register", data={**fields, "email": "second@kommune.no"}
    )
    waiting_page = waiting.get(answer.headers["Location"]).text
    assert "Du er meldt på" not in waiting_page
    assert "kommer på ventelisten" in waiting_page and "second@kommune.no" in waiting_page
    # The seated person registering again gets the very same wording: nothing is revealed.
    again = waiting.post(
        f"/events/{event.slug}/register", data={**fields, "email": "FIRST@kommune.no"}
    )
    assert waiting.get(again.headers["Location"]).text == waiting_page.replace(
        "second@kommune.no", "first@kommune.no"
    )


def test_registered_page_without_registering_goes_back_to_the_event(client, event):
    page = client.get(f"/events/{event.slug}/registered")
    assert page.status_code == 302 and page.headers["Location"] == f"/events/{event.slug}"


def test_same_email_again_answers_the_same_and_mails_a_new_link(app, client, event, register):
    first = register(event.slug, email="kari@kommune.no")
    first_page = client.get(first.headers["Location"]).text
    old_path = manage_path(outbox()[-1])
    other = another_browser(app)  # someone else, or the same person in another browser
    token = csrf(other.get(f"/events/{event.slug}"))
    second = other.post(
        f"/events/{event.slug}/register",
        data={
            "name": "Noen Andre",
            "email": "KARI@Kommune.NO",
            "role": "ordforer",
            "municipality": "0301",
            "csrf_token": token,
        },
    )
    assert (second.status_code, second.headers["Location"]) == (303, first.headers["Location"])
    assert other.get(second.headers["Location"]).text == first_page
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 1
    messages = outbox()
    assert [m.recipient for m in messages] == ["kari@kommune.no"] * 2
    new_path = manage_path(messages[-1])
    assert new_path != old_path
    assert other.get(old_path).status_code == 404
    page = other.get(new_path)
    assert page.status_code == 200 and "Kari Nordmann" in page.text


# --- the registrant's own page ---------------------------------------------------------------


def test_registrant_page_shows_status_join_link_and_invite(client, event, registered):
    page = client.get(registered)
    assert page.status_code == 200
    assert "Påmeldt" in page.text
    assert event.join_url in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    invite = client.get(f"{registered}/invite.ics")
    assert invite.status_code == 200
    assert invite.mimetype == "text/calendar"
    assert event.join_url in invite.get_data(as_text=True).replace("\r\n ", "")
    assert f'href="{registered}/cancel"' in page.text


def test_cancel_asks_first_then_cancels_on_post(client, event, registered):
    question = client.get(f"{registered}/cancel")
    assert question.status_code == 200
    assert "Avbestille påmeldingen?" in question.text
    db.session.rollback()
    assert db.session.scalar(select(Registration.status)) == "confirmed"

    refused = client.post(f"{registered}/cancel", data={})
    assert refused.status_code == 400
    db.session.rollback()
    assert db.session.scalar(select(Registration.status)) == "confirmed"

    done = client.post(f"{registered}/cancel", data={"csrf_token": csrf(question)})
    assert (done.status_code, done.headers["Location"]) == (303, registered)
    page = client.get(registered)
    assert "Avbestilt" in page.text and "Påmeldingen er avbestilt" in page.text
    assert event.join_url not in page.text
    assert client.get(f"{registered}/invite.ics").status_code == 410
    db.session.rollback()
    assert db.session.scalar(select(Registration.status)) == "cancelled"
    assert [m.kind for m in outbox()] == ["confirmation", "cancellation"]


@pytest.mark.parametrize("suffix", ["", "/invite.ics", "/cancel"])
def test_unknown_and_tampered_manage_tokens_are_404(client, registered, suffix):
    token = registered.rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for path in (f"/r/{tampered}", "/r/finnes-ikke", f"/r/{'x' * 5000}", f"/r/{token}extra"):
        page = client.get(path + suffix)
        assert page.status_code == 404
        assert "Fant ikke siden" in page.text


def test_cancel_post_with_tampered_token_is_404(client, registered):
    token = csrf(client.get(f"{registered}/cancel"))
    tampered = registered[:-2] + "zz"
    assert client.post(f"{tampered}/cancel", data={"csrf_token": token}).status_code == 404
    db.session.rollback()
    assert db.session.scalar(select(Registration.status)) == "confirmed"


# --- HTML is text everywhere -------------------------------------------------------------------


def test_html_in_names_is_escaped_on_every_page_and_in_the_mail(client, create_event, register):
    evil = '<script>alert("x")</script>'
    event = create_event(title=f"Møte {evil}", organiser_name=f"KS {evil}")
    for path in ("/", f"/events/{event.slug}"):
        page = client.get(path)
        assert evil not in page.text and "&lt;script&gt;" in page.text

    invalid = register(event.slug, name=evil, organisation=evil, email="ugyldig")
    assert invalid.status_code == 422
    assert evil not in invalid.text and "&lt;script&gt;" in invalid.text

    answer = register(event.slug, name=evil, organisation=evil)
    assert answer.status_code == 303
    confirmation = client.get(answer.headers["Location"])
    assert evil not in confirmation.text
    (message,) = outbox()
    body = mail_part(message, "html")
    assert "<script>" not in body and "&lt;script&gt;" in body
    path = manage_path(message)
    for page in (client.get(path), client.get(f"{path}/cancel")):
        assert page.status_code == 200
        assert evil not in page.text and "&lt;script&gt;" in page.text


# --- other public pages ------------------------------------------------------------------------


def test_past_event_page_stays_up_with_its_recording(client, create_event):
    past = utcnow() - timedelta(days=30)
    event = create_event(
        starts_at=past,
        ends_at=past + timedelta(hours=1),
        recording_url="https://video.example.org/opptak",
    )
    page = client.get(f"/events/{event.slug}")
    assert page.status_code == 200
    assert "Se opptaket" in page.text and "https://video.example.org/opptak" in page.text
    assert "Meld meg på" not in page.text
    assert event.join_url not in page.text
    assert "Tidligere arrangementer og opptak" in client.get("/").text


def test_event_page_in_norwegian_in_the_event_zone(app, client):
    seed.seed_akson(original_dates=True)
    page = client.get("/events/akson-stormote")
    assert page.status_code == 200
    assert '<html lang="nb">' in page.text
    assert "tirsdag 5. mai 2020 kl. 14:00–15:30" in page.text
    assert "Hvem er det for?" in page.text and "Ordførere, kommunedirektører" in page.text
    assert "/events/akson-stormote/calendar.ics" in page.text
    assert "https://meet.example.org" not in page.text


def test_healthz(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok"}


def test_pages_are_norwegian_by_default(client, event):
    page = client.get("/")
    assert '<html lang="nb">' in page.text
    assert "Kommende møter og webinarer" in page.text
    assert event.title in page.text


@pytest.mark.skipif(
    not (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo").exists(),
    reason="no compiled English catalogue (webinars/translations/en) yet",
)
def test_lang_en_switches_the_chrome(client, event):
    page = client.get("/?lang=en")
    assert '<html lang="en">' in page.text
    assert "Kommende møter og webinarer" not in page.text
    assert '<html lang="en">' in client.get(f"/events/{event.slug}").text  # remembered


def test_missing_page_is_friendly_and_norwegian(client):
    page = client.get("/finnes/ikke")
    assert page.status_code == 404
    assert "Fant ikke siden" in page.text and "Til forsiden" in page.text


def test_a_registration_cannot_be_cancelled_after_the_event(client, create_event, register):
    event = create_event()
    register(event.slug)
    (message,) = db.session.scalars(select(OutboxMessage)).all()
    manage = f"/r/{message.token}"
    event.starts_at -= timedelta(days=30)
    event.ends_at -= timedelta(days=30)
    db.session.commit()

    page = client.get(f"{manage}/cancel")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    response = client.post(f"{manage}/cancel", data={"csrf_token": token.group(1) if token else ""})

    assert response.status_code == 409
    assert "Arrangementet er over" in response.text
    assert db.session.scalars(select(Registration)).one().status == "confirmed"
