"""The waiting list in plain words: the button and the page before registering, and "på
ventelisten, nummer N" after it, in the confirmation and on the registrant's page."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support import deliver, manage_link, text_part, within
from webinars import registrations
from webinars.extensions import db
from webinars.models import Registration

BASE = "http://webinars.test"


@pytest.fixture
def full(create_event, create_registration):
    """One seat, taken by Kari; a waiting list."""
    event = create_event(capacity=1, waitlist=True)
    create_registration(event, "kari@kommune.no")
    return event


def test_a_full_event_says_you_join_the_waiting_list_before_you_submit(client, full):
    page = client.get(f"/events/{full.slug}").text
    assert "Meld meg på ventelisten" in page
    assert ">Meld meg på<" not in page
    assert "kommer du på ventelisten" in page
    english = client.get(f"/events/{full.slug}?lang=en").text
    assert "Join the waiting list" in english and "put on the waiting list" in english


def test_an_event_with_seats_left_has_the_plain_button(client, create_event):
    event = create_event(capacity=5, waitlist=True)
    page = client.get(f"/events/{event.slug}").text
    assert ">Meld meg på</button>" in page and "ventelisten" not in page


def test_a_full_event_without_a_waiting_list_says_so_and_shows_no_form(
    client, create_event, create_registration
):
    event = create_event(capacity=1, waitlist=False)
    create_registration(event, "kari@kommune.no")
    page = client.get(f"/events/{event.slug}").text
    assert "Arrangementet er fullt, og det er ingen venteliste." in page
    assert 'action="/events/' + event.slug + '/register"' not in page
    assert 'name="name"' not in page
    # Those registered can still get their link.
    assert "Send meg lenken min på nytt" in page


def test_the_page_mail_and_registrants_page_give_the_number(
    app, mail_app, smtp, client, register, full
):
    register(full.slug, email="ola@kommune.no")
    answer = register(full.slug, email="per@kommune.no")
    page = client.get(answer.headers["Location"]).text
    assert "på ventelisten, nummer 2" in page
    assert "Du er meldt på" not in page

    deliver(mail_app)
    text = text_part(smtp.to("per@kommune.no")[-1])
    assert "ventelisten til" in text and "nummer 2" in text
    path = urlsplit(manage_link(smtp.to("per@kommune.no")[-1], BASE)).path
    assert "På ventelisten, nummer 2" in client.get(path).text

    # Ola, ahead of Per, cancels: Per is number 1 now.
    with within(app):
        ola = db.session.query(Registration).filter_by(email="ola@kommune.no").one()
        registrations.cancel(ola)
    assert "På ventelisten, nummer 1" in client.get(path).text

    # Kari gives up her seat: Per gets it and sees it.
    with within(app):
        kari = db.session.query(Registration).filter_by(email="kari@kommune.no").one()
        registrations.cancel(kari)
    seat = client.get(path).text
    assert "ventelisten" not in seat and "Påmeldt" in seat
    assert "Legg til i Google Kalender" in seat  # the seat comes with its calendar links


def test_english_says_on_the_waiting_list_number_n(app, client, register, full):
    client.get(f"/events/{full.slug}?lang=en")
    answer = register(full.slug, email="ola@kommune.no")
    page = client.get(answer.headers["Location"]).text
    assert "on the waiting list, number 1" in page


def test_the_list_of_events_says_which_are_full(client, create_event, create_registration):
    no_list = create_event(capacity=1, waitlist=False, title="Uten venteliste")
    with_list = create_event(capacity=1, waitlist=True, title="Med venteliste")
    for event in (no_list, with_list):
        create_registration(event, "kari@kommune.no")
    page = client.get("/").text
    assert "Fullt." in page
    assert "fullt, men du kan stå på ventelisten" in page
