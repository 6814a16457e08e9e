"""Organiser event pages: the list, creating and editing, publish, unpublish, cancel.

What the event form itself does with local times, deadlines and bad input is in test_forms.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.web.organiser.event_form import (
    OSLO,
    START,
    count,
    create,
    event_by_slug,
    field_error,
    form,
    post,
)
from webinars.models import Event, OutboxMessage, utcnow


@pytest.fixture
def add(create_registration):
    """Register n people for an event through the service (mail queued too)."""

    def register_people(event: Event, n: int) -> None:
        for i in range(n):
            create_registration(event, email=f"person{i}@kommune.no", name=f"Person {i}")

    return register_people


# --- creating -------------------------------------------------------------------------------


def test_creating_stores_utc_and_a_calendar_uid(app, signed_in):
    event = create(signed_in, app)
    assert event.status == Event.DRAFT
    start = datetime.combine(START, datetime.min.time()).replace(hour=14, tzinfo=OSLO)
    assert event.starts_at == start.astimezone(UTC)
    assert event.ends_at == (start + timedelta(minutes=90)).astimezone(UTC)
    assert event.ical_uid == "akson-test@webinars.test"
    assert event.eligible_regions == "Nord,Vest,Sør-Øst"
    assert event.deadline_days_before == 1
    assert event.organiser_email == "akson@ks.no"
    page = signed_in.get("/organiser/events/akson-test")
    assert page.status_code == 200
    # Every municipality outside Midt-Norge may register: 356 - 64.
    assert "292 kommuner kan melde seg på" in page.text
    assert "Utkast" in page.text


def test_a_slug_in_use_is_a_field_error(app, signed_in, create_event):
    create_event(slug="akson-test")
    response = post(signed_in, "/organiser/events/new", form())
    assert response.status_code == 422
    assert "allerede i bruk" in field_error(response, "slug")
    assert count(app, Event) == 1


# --- editing --------------------------------------------------------------------------------


def test_renaming_keeps_the_calendar_uid(app, signed_in):
    create(signed_in, app)
    response = post(signed_in, "/organiser/events/akson-test/edit", form(slug="akson-nytt-navn"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/organiser/events/akson-nytt-navn")
    event = event_by_slug(app, "akson-nytt-navn")
    assert event.ical_uid == "akson-test@webinars.test"
    assert signed_in.get("/organiser/events/akson-test").status_code == 404
    # The old slug is free again; a new event there gets a UID of its own.
    assert create(signed_in, app).ical_uid == "akson-test.2@webinars.test"


def test_a_relative_deadline_moves_with_the_start(app, signed_in):
    event = create(signed_in, app)
    before = event.deadline
    later = START + timedelta(days=7)
    post(signed_in, "/organiser/events/akson-test/edit", form(start_date=later.isoformat()))
    assert event_by_slug(app, "akson-test").deadline == before + timedelta(days=7)


def test_capacity_below_the_confirmed_is_refused(app, signed_in, add):
    event = create(signed_in, app, capacity="5")
    post(signed_in, "/organiser/events/akson-test/publish", {})
    add(event_by_slug(app, "akson-test"), 3)
    response = post(signed_in, "/organiser/events/akson-test/edit", form(capacity="2"))
    assert response.status_code == 422
    assert "3 påmeldte" in field_error(response, "capacity")
    assert event_by_slug(app, "akson-test").capacity == 5
    assert event.id == event_by_slug(app, "akson-test").id


def test_an_invalid_edit_changes_nothing(app, signed_in):
    create(signed_in, app)
    response = post(
        signed_in,
        "/organiser/events/akson-test/edit",
        form(title="Nytt navn", start_time="16:00", end_time="15:00"),
    )
    assert response.status_code == 422
    assert "etter starten" in field_error(response, "end_time")
    event = event_by_slug(app, "akson-test")
    assert event.title == "Webinar om Akson"
    assert event.local_start.hour == 14


def test_saving_a_time_change_tells_how_many_were_updated(app, signed_in, add):
    create(signed_in, app, capacity="2", waitlist="y")
    post(signed_in, "/organiser/events/akson-test/publish", {})
    add(event_by_slug(app, "akson-test"), 3)
    queued = count(app, OutboxMessage)
    response = post(
        signed_in,
        "/organiser/events/akson-test/edit",
        form(start_time="13:00", capacity="2", waitlist="y"),
    )
    assert response.status_code == 303
    page = signed_in.get(response.headers["Location"])
    assert "2 påmeldte får oppdatert kalenderinvitasjon" in page.text
    assert "1 på ventelisten får beskjed" in page.text
    assert count(app, OutboxMessage) == queued + 3


def test_the_edit_form_warns_before_changes_go_out(app, signed_in, add):
    create(signed_in, app)
    post(signed_in, "/organiser/events/akson-test/publish", {})
    add(event_by_slug(app, "akson-test"), 2)
    page = signed_in.get("/organiser/events/akson-test/edit")
    assert "får 2 påmeldte en oppdatert kalenderinvitasjon" in page.text


# --- the list, publishing, cancelling ------------------------------------------------------


def test_the_list_has_upcoming_past_and_drafts_with_counts(signed_in, create_event, add):
    upcoming = create_event(title="Kommende webinar", capacity=10)
    add(upcoming, 2)
    past_start = utcnow() - timedelta(days=10)
    create_event(
        title="Gammelt webinar", starts_at=past_start, ends_at=past_start + timedelta(hours=1)
    )
    create_event(title="Uferdig webinar", status=Event.DRAFT)
    page = signed_in.get("/organiser/events")
    assert page.status_code == 200
    sections = {
        key: page.text.split(f'id="{key}"')[1].split("</section>")[0]
        for key in ("upcoming", "past", "drafts")
    }
    assert "(1)" in sections["upcoming"] and "Kommende webinar" in sections["upcoming"]
    assert "<td>2 / 10</td>" in sections["upcoming"]
    assert "(1)" in sections["past"] and "Gammelt webinar" in sections["past"]
    assert "(1)" in sections["drafts"] and "Uferdig webinar" in sections["drafts"]


def test_publish_and_unpublish(app, signed_in):
    create(signed_in, app)
    assert signed_in.get("/events/akson-test").status_code == 404
    assert post(signed_in, "/organiser/events/akson-test/publish", {}).status_code == 303
    assert event_by_slug(app, "akson-test").status == Event.PUBLISHED
    assert signed_in.get("/events/akson-test").status_code == 200
    assert post(signed_in, "/organiser/events/akson-test/unpublish", {}).status_code == 303
    assert event_by_slug(app, "akson-test").status == Event.DRAFT
    assert signed_in.get("/events/akson-test").status_code == 404


def test_unpublishing_an_event_with_registrations_is_refused(app, signed_in, create_event, add):
    event = create_event(slug="med-pameldte")
    add(event, 1)
    response = post(signed_in, "/organiser/events/med-pameldte/unpublish", {})
    assert response.status_code == 409
    assert "Avlys det i stedet" in response.text
    assert event_by_slug(app, "med-pameldte").status == Event.PUBLISHED


def test_cancelling_asks_first(app, signed_in, create_event, add):
    event = create_event(slug="avlyses", capacity=1, waitlist=True)
    add(event, 2)
    page = signed_in.get("/organiser/events/avlyses/cancel")
    assert page.status_code == 200
    assert "1 påmeldt får avlysningen i kalenderen" in page.text
    assert "1 på ventelisten får en e-post" in page.text
    assert event_by_slug(app, "avlyses").status == Event.PUBLISHED

    response = post(
        signed_in, "/organiser/events/avlyses/cancel", {"message": "Nytt tidspunkt kommer."}
    )
    assert response.status_code == 303
    assert event_by_slug(app, "avlyses").status == Event.CANCELLED
    assert "Arrangementet er avlyst" in signed_in.get(response.headers["Location"]).text
    assert count(app, OutboxMessage) == 2 + 2  # two confirmations, two cancellations


def test_a_draft_cannot_be_cancelled(app, signed_in):
    create(signed_in, app)
    response = post(signed_in, "/organiser/events/akson-test/cancel", {})
    assert response.status_code == 409
    assert event_by_slug(app, "akson-test").status == Event.DRAFT


def test_the_overview_links_to_the_other_organiser_pages_that_exist(app, signed_in, create_event):
    create_event(slug="oversikt")
    page = signed_in.get("/organiser/events/oversikt")
    for endpoint, path in [
        ("organiser.participants", "/organiser/events/oversikt/participants"),
        ("organiser.recording", "/organiser/events/oversikt/recording"),
        ("organiser.outbox_event", "/organiser/events/oversikt/mail"),
        ("organiser.invitations", "/organiser/events/oversikt/invitations"),
        ("organiser.attendance", "/organiser/events/oversikt/attendance"),
    ]:
        if endpoint in app.view_functions:
            assert f'href="{path}"' in page.text, endpoint
    assert 'href="/organiser/events/oversikt/edit"' in page.text


def test_a_missing_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke").status_code == 404
    assert signed_in.get("/organiser/events/finnes-ikke/edit").status_code == 404
