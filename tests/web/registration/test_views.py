"""The public pages: every kind of bad input, the confirmation, the registrant's page.

(What the form refuses field by field is in test_forms.py.)
"""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.support import form_token, outbox, within
from webinars import seed
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import messages
from webinars.models import Event, OutboxMessage, Registration, utcnow

PERSON = {"name": "Kari Nordmann", "role": "ordforer", "municipality": "0301"}


def count(app, model, *where) -> int:
    """Rows in the database now, as a fresh request would see them."""
    with within(app):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def nothing_stored(app) -> bool:
    return count(app, Registration) == 0 and count(app, OutboxMessage) == 0


def status(app) -> str:
    """The status of the one registration in the database."""
    with within(app):
        return db.session.scalars(select(Registration.status)).one()


def mail_part(app, message: OutboxMessage, subtype: str) -> str:
    with within(app):
        composed = messages.compose(db.session.get(OutboxMessage, message.id))
    return composed.get_body((subtype,)).get_content()


def manage_path(app, message: OutboxMessage) -> str:
    plain = mail_part(app, message, "plain")
    return re.search(r"https?://[^/\s]+(/r/[A-Za-z0-9_-]+)", plain).group(1)


def move_event(app, event, **fields):
    """Change an event's row by hand, as an organiser's edit would."""
    with within(app), write_transaction():
        row = db.session.get(Event, event.id)
        for name, value in fields.items():
            setattr(row, name, value)


@pytest.fixture
def event(create_event):
    return create_event()


@pytest.fixture
def registered(app, client, event, register):
    """A confirmed registration and the path of the manage link its e-mail carries."""
    assert register(event.slug).status_code == 303
    return manage_path(app, outbox(app)[-1])


# --- CSRF ------------------------------------------------------------------------------------


def test_missing_csrf_token(app, client, event):
    client.get(f"/events/{event.slug}")
    data = {"name": "Kari", "email": "kari@kommune.no", "role": "ordforer", "municipality": "0301"}
    page = client.post(f"/events/{event.slug}/register", data=data)
    assert page.status_code == 400
    assert "Skjemaet var utløpt" in page.text and "Ingenting er lagret" in page.text
    assert nothing_stored(app)


def test_wrong_csrf_token(app, register, event):
    page = register(event.slug, csrf_token="IjEyMzQi.ZmFrZQ.c2lnbmF0dXJl")
    assert page.status_code == 400
    assert "Skjemaet var utløpt" in page.text
    assert nothing_stored(app)


def test_csrf_token_from_another_session(client, app, event, register):
    token = form_token(app.test_client().get(f"/events/{event.slug}").text)
    page = register(event.slug, csrf_token=token)
    assert page.status_code == 400
    assert nothing_stored(app)


# --- events that take no registrations: 4xx with the reason ---------------------------------


def test_deadline_is_checked_again_when_the_form_is_posted(app, client, event):
    page = client.get(f"/events/{event.slug}")
    assert "Meld meg på" in page.text
    move_event(app, event, deadline_days_before=None, deadline_at=utcnow() - timedelta(minutes=1))
    data = {
        "name": "Kari",
        "email": "kari@kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "csrf_token": form_token(page.text),
    }
    answer = client.post(f"/events/{event.slug}/register", data=data)
    assert answer.status_code == 403
    assert "Påmeldingsfristen har gått ut." in answer.text
    assert "Ingen påmelding er registrert." in answer.text
    assert nothing_stored(app)
    assert "Meld meg på" not in client.get(f"/events/{event.slug}").text


def _post_with_valid_token(client, open_slug, slug):
    token = form_token(client.get(f"/events/{open_slug}").text)
    data = {
        "name": "Kari",
        "email": "kari@kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "csrf_token": token,
    }
    return client.post(f"/events/{slug}/register", data=data)


def test_post_to_a_draft_event_is_404(app, client, create_event, event):
    draft = create_event(status=Event.DRAFT)
    assert client.get(f"/events/{draft.slug}").status_code == 404
    page = _post_with_valid_token(client, event.slug, draft.slug)
    assert page.status_code == 404
    assert "Fant ikke siden" in page.text
    assert nothing_stored(app)


def test_post_to_a_cancelled_event_is_410(app, client, create_event, event):
    cancelled = create_event(status=Event.CANCELLED)
    assert client.get(f"/events/{cancelled.slug}").status_code == 200
    page = _post_with_valid_token(client, event.slug, cancelled.slug)
    assert page.status_code == 410
    assert "Arrangementet er avlyst" in page.text
    assert nothing_stored(app)


def test_post_to_a_full_event_without_waitlist_is_409(app, client, create_event, register):
    full = create_event(capacity=1)
    assert register(full.slug, email="first@kommune.no").status_code == 303
    page = register(full.slug, email="second@kommune.no")
    assert page.status_code == 409
    assert "Arrangementet er fullt" in page.text
    assert count(app, Registration) == 1


def test_unknown_slug_is_404(client):
    assert client.get("/events/finnes-ikke").status_code == 404


# --- the answer after registering -------------------------------------------------------------


def test_confirmation_page_names_the_address_and_no_private_link(app, client, event, register):
    answer = register(event.slug, email="Kari@Kommune.no")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/events/{event.slug}/registered"
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    assert "Vi har sendt en bekreftelse til kari@kommune.no." in page.text
    assert event.join_url not in page.text
    assert "/r/" not in page.text
    (message,) = outbox(app)
    assert message.kind == "confirmation" and message.recipient == "kari@kommune.no"


def test_waitlisted_registrant_is_not_told_they_have_a_seat(app, client, create_event, register):
    event = create_event(capacity=1, waitlist=True)
    seated = register(event.slug, email="first@kommune.no")
    assert seated.status_code == 303
    waiting = app.test_client()  # another browser
    token = form_token(waiting.get(f"/events/{event.slug}").text)
    fields = {"name": "Ola", "role": "ordforer", "municipality": "0301", "csrf_token": token}
    answer = waiting.post(
        f"/events/{event.slug}/register", data={**fields, "email": "second@kommune.no"}
    )
    waiting_page = waiting.get(answer.headers["Location"]).text
    assert "Du er meldt på" not in waiting_page
    assert "på ventelisten, nummer 1" in waiting_page and "second@kommune.no" in waiting_page
    # The seated person registering again is answered as a new registration would be at
    # that moment (the next number on the list): nothing about their seat is revealed.
    again = waiting.post(
        f"/events/{event.slug}/register", data={**fields, "email": "FIRST@kommune.no"}
    )
    repeat_page = waiting.get(again.headers["Location"]).text
    assert "på ventelisten, nummer 2" in repeat_page
    new = waiting.post(
        f"/events/{event.slug}/register", data={**fields, "email": "third@kommune.no"}
    )
    assert waiting.get(new.headers["Location"]).text == repeat_page.replace(
        "first@kommune.no", "third@kommune.no"
    )


def test_registered_page_without_registering_goes_back_to_the_event(client, event):
    page = client.get(f"/events/{event.slug}/registered")
    assert page.status_code == 302 and page.headers["Location"] == f"/events/{event.slug}"


def _register_again(app, event, email: str = "KARI@Kommune.NO"):
    """Someone else (or the same person in another browser) posts the same address."""
    other = app.test_client()
    token = form_token(other.get(f"/events/{event.slug}").text)
    response = other.post(
        f"/events/{event.slug}/register",
        data={
            "name": "Noen Andre",
            "email": email,
            "role": "ordforer",
            "municipality": "0301",
            "csrf_token": token,
        },
    )
    return other, response


def test_same_email_again_answers_the_same_and_mails_a_new_link(app, client, event, register):
    first = register(event.slug, email="kari@kommune.no")
    first_page = client.get(first.headers["Location"]).text
    old_path = manage_path(app, outbox(app)[-1])
    with within(app), write_transaction():
        # The first confirmation went out more than 10 minutes ago.
        registration = db.session.scalar(select(Registration))
        registration.confirmation_sent_at -= timedelta(minutes=10)

    other, second = _register_again(app, event)
    assert (second.status_code, second.headers["Location"]) == (303, first.headers["Location"])
    assert other.get(second.headers["Location"]).text == first_page
    assert count(app, Registration) == 1
    sent = outbox(app)
    assert [m.recipient for m in sent] == ["kari@kommune.no"] * 2
    new_path = manage_path(app, sent[-1])
    assert new_path != old_path
    # The link the registrant already had keeps working, and so does the new one.
    for path in (old_path, new_path):
        page = other.get(path)
        assert page.status_code == 200 and "Kari Nordmann" in page.text


def test_resend_guard_a_repeat_within_10_minutes_answers_the_same_and_mails_nothing(
    app, client, event, register
):
    first = register(event.slug, email="kari@kommune.no")
    first_page = client.get(first.headers["Location"]).text
    for _ in range(5):
        other, again = _register_again(app, event)
        assert (again.status_code, again.headers["Location"]) == (303, first.headers["Location"])
        assert other.get(again.headers["Location"]).text == first_page
    assert [m.kind for m in outbox(app)] == ["confirmation"], "one mail, not six"


# --- many browsers at once -------------------------------------------------------------------


def post_at_once(app, slug: str, addresses: list[str]) -> list[int]:
    """Each thread is one browser: GET the form, wait for the others, POST together."""
    barrier = threading.Barrier(len(addresses))
    statuses, errors = [], []

    def browser(address):
        try:
            client = app.test_client()
            token = form_token(client.get(f"/events/{slug}").text)
            barrier.wait(timeout=60)
            response = client.post(
                f"/events/{slug}/register",
                data={**PERSON, "email": address, "csrf_token": token},
            )
            statuses.append(response.status_code)
        except Exception as exc:  # collected and reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=browser, args=(a,)) for a in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return statuses


def seats_taken(app, event) -> int:
    with within(app):
        return db.session.get(Event, event.id).seats_taken


@pytest.mark.parametrize("waitlist", [False, True])
def test_capacity_holds_under_concurrent_registrations(app, create_event, waitlist):
    event = create_event(capacity=5, waitlist=waitlist)
    statuses = post_at_once(app, event.slug, [f"p{n}@kommune.no" for n in range(30)])

    assert len(statuses) == 30
    confirmed = count(app, Registration, Registration.status == Registration.CONFIRMED)
    waitlisted = count(app, Registration, Registration.status == Registration.WAITLISTED)
    assert confirmed == 5
    assert seats_taken(app, event) == 5
    if waitlist:
        assert sorted(statuses) == [303] * 30 and waitlisted == 25
    else:
        assert sorted(statuses) == [303] * 5 + [409] * 25 and waitlisted == 0
    assert count(app, OutboxMessage) == confirmed + waitlisted


def test_same_address_at_once_makes_one_registration(app, create_event):
    event = create_event(capacity=5)
    statuses = post_at_once(app, event.slug, ["Kari@kommune.no", "kari@KOMMUNE.no"] * 5)
    assert statuses == [303] * 10
    assert count(app, Registration) == 1
    assert seats_taken(app, event) == 1
    # The first confirmation; the nine repeats within 10 minutes re-send nothing.
    assert count(app, OutboxMessage) == 1


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


def test_cancel_asks_first_then_cancels_on_post(app, client, event, registered):
    question = client.get(f"{registered}/cancel")
    assert question.status_code == 200
    assert "Avbestille påmeldingen?" in question.text
    assert status(app) == Registration.CONFIRMED

    refused = client.post(f"{registered}/cancel", data={})
    assert refused.status_code == 400
    assert status(app) == Registration.CONFIRMED

    done = client.post(f"{registered}/cancel", data={"csrf_token": form_token(question.text)})
    assert (done.status_code, done.headers["Location"]) == (303, registered)
    page = client.get(registered)
    assert "Avbestilt" in page.text and "Påmeldingen er avbestilt" in page.text
    assert event.join_url not in page.text
    assert client.get(f"{registered}/invite.ics").status_code == 410
    assert status(app) == Registration.CANCELLED
    assert [m.kind for m in outbox(app)] == ["confirmation", "cancellation"]


@pytest.mark.parametrize("suffix", ["", "/invite.ics", "/cancel"])
def test_unknown_and_tampered_manage_tokens_are_404(client, registered, suffix):
    token = registered.rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for path in (f"/r/{tampered}", "/r/finnes-ikke", f"/r/{'x' * 5000}", f"/r/{token}extra"):
        page = client.get(path + suffix)
        assert page.status_code == 404
        assert "Fant ikke siden" in page.text


def test_cancel_post_with_tampered_token_is_404(app, client, registered):
    token = form_token(client.get(f"{registered}/cancel").text)
    tampered = registered[:-2] + "zz"
    assert client.post(f"{tampered}/cancel", data={"csrf_token": token}).status_code == 404
    assert status(app) == Registration.CONFIRMED


def test_a_registration_cannot_be_cancelled_after_the_event(app, client, create_event, register):
    event = create_event()
    register(event.slug)
    (message,) = outbox(app)
    manage = f"/r/{message.token}"
    month = timedelta(days=30)
    move_event(app, event, starts_at=event.starts_at - month, ends_at=event.ends_at - month)

    page = client.get(f"{manage}/cancel")
    response = client.post(f"{manage}/cancel", data={"csrf_token": form_token(page.text)})

    assert response.status_code == 409
    assert "Arrangementet er over" in response.text
    assert status(app) == Registration.CONFIRMED


# --- HTML is text everywhere -------------------------------------------------------------------


def test_html_in_names_is_escaped_on_every_page_and_in_the_mail(
    app, client, create_event, register
):
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
    (message,) = outbox(app)
    body = mail_part(app, message, "html")
    assert "<script>" not in body and "&lt;script&gt;" in body
    path = manage_path(app, message)
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
    with within(app):
        seed.seed_akson(original_dates=True)
    page = client.get("/events/akson-stormote")
    assert page.status_code == 200
    assert '<html lang="nb">' in page.text
    assert "tirsdag 5. mai 2020 kl. 14:00–15:30" in page.text
    assert "Hvem er det for?" in page.text and "Ordførere, kommunedirektører" in page.text
    # Over since 2020: it says so, and offers neither its file nor calendar links.
    assert "Arrangementet er over." in page.text
    assert "/events/akson-stormote/calendar.ics" not in page.text
    assert "calendar.google.com/calendar/render?action=TEMPLATE" not in page.text
    assert "https://meet.example.org" not in page.text


def test_pages_are_norwegian_by_default(client, event):
    page = client.get("/")
    assert '<html lang="nb">' in page.text
    assert "Kommende møter og webinarer" in page.text
    assert event.title in page.text


def test_lang_en_switches_the_chrome(client, event):
    page = client.get("/?lang=en")
    assert '<html lang="en">' in page.text
    assert "Kommende møter og webinarer" not in page.text
    assert '<html lang="en">' in client.get(f"/events/{event.slug}").text  # remembered
