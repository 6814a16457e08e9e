"""Programmes on the organiser pages: create one with its campaign and events, edit it; the
goal follows the programme's own eligibility."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.support import form_token, within
from webinars.extensions import db
from webinars.models import Event, Programme

NBSP = "\xa0"


def test_an_organiser_creates_a_programme_with_its_events(app, signed_in, create_event):
    meeting = create_event(slug="stormote", title="Stormøte")
    create_event(slug="annet", title="Annet")
    page = signed_in.get("/organiser/programmes/new").text

    response = signed_in.post(
        "/organiser/programmes/new",
        data={
            "csrf_token": form_token(page),
            "title": "Akson",
            "slug": "akson",
            "regions": ["Nord", "Vest", "Sør-Øst"],
            "goal_percent": "50",
            "declarations_due": "2020-07-01",
            "organiser_email": "akson@hod.no",
            "events": [str(meeting.id)],
        },
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/organiser/programmes/akson"
    campaign = signed_in.get("/organiser/programmes/akson").text
    assert "Programmet er opprettet." in campaign
    assert f"minst 2{NBSP}316{NBSP}821 av 4{NBSP}633{NBSP}640" in campaign
    with within(app):
        events = db.session.scalars(select(Event.slug).where(Event.programme_id.is_not(None)))
        assert list(events) == ["stormote"]
    assert "Akson" in signed_in.get("/organiser/programmes").text


def test_bad_values_are_shown_next_to_their_fields(app, signed_in, create_programme):
    create_programme()
    page = signed_in.get("/organiser/programmes/new").text

    response = signed_in.post(
        "/organiser/programmes/new",
        data={
            "csrf_token": form_token(page),
            "title": "Akson igjen",
            "slug": "akson",
            "goal_percent": "100",
            "declarations_due": "1. juli",
        },
    )

    assert response.status_code == 422
    assert "Velg et tall fra 1 til 99." in response.text
    assert "Skriv datoen som ÅÅÅÅ-MM-DD." in response.text
    with within(app):
        assert len(db.session.scalars(select(Programme)).all()) == 1


def test_editing_the_campaign_moves_the_goal_and_the_events(
    app, signed_in, create_programme, create_event
):
    meeting = create_event(slug="stormote")
    webinar = create_event(slug="webinar")
    create_programme([meeting])
    page = signed_in.get("/organiser/programmes/akson/edit").text
    assert re.search(r'<input checked[^>]*value="Nord"', page)
    assert not re.search(r'<input checked[^>]*value="Midt-Norge"', page)

    response = signed_in.post(
        "/organiser/programmes/akson/edit",
        data={
            "csrf_token": form_token(page),
            "title": "Akson",
            "slug": "akson",
            "regions": ["Vest"],
            "goal_percent": "50",
            "declarations_due": "2020-07-01",
            "events": [str(webinar.id)],
        },
    )

    assert response.status_code == 303
    campaign = signed_in.get("/organiser/programmes/akson").text
    assert f"av 1{NBSP}116{NBSP}423 innbyggere" in campaign  # Vest alone
    with within(app):
        assert db.session.get(Event, meeting.id).programme_id is None
        assert db.session.get(Event, webinar.id).programme_id is not None
