"""Authoring events: copying one to a new date, previewing a draft, the organiser's defaults,
the time-zone list, the deadline groups, and the end following a moved start.

Filled in and posted as a browser does (without JavaScript; tests/browser/ has the script's
side); what was stored is read back from the database.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.support import within
from tests.web.organiser.event_form import (
    START,
    count,
    create,
    event_by_slug,
    field_error,
    form,
    post,
)
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Event, Material, Organiser, Question, Registration


def shown_times(page) -> str:
    """The hidden record of the start and end the form showed."""
    match = re.search(r'name="shown_times"[^>]*value="([^"]*)"', page.text) or re.search(
        r'value="([^"]*)"[^>]*name="shown_times"', page.text
    )
    assert match, "the form records the times it showed"
    return html.unescape(match.group(1))


def input_value(page, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page.text)
    return html.unescape(match.group(1)) if match else ""


# --- the end follows the start -------------------------------------------------------------


def test_moving_only_the_start_moves_the_end_and_keeps_the_duration(app, signed_in):
    create(signed_in, app, end_date=START.isoformat(), start_time="14:00", end_time="15:30")
    page = signed_in.get("/organiser/events/akson-test/edit")
    later = START + timedelta(days=7)

    response = post(
        signed_in,
        "/organiser/events/akson-test/edit",
        form(
            start_date=later.isoformat(),
            start_time="15:00",
            end_date=START.isoformat(),  # as the form showed it
            end_time="15:30",
            shown_times=shown_times(page),
        ),
    )

    # Before, this was refused with "the end must be after the start" under the end time.
    assert response.status_code == 303, response.text
    event = event_by_slug(app, "akson-test")
    assert event.local_start.date() == later and event.local_start.hour == 15
    assert event.ends_at - event.starts_at == timedelta(hours=1, minutes=30)
    assert (event.local_end.date(), event.local_end.strftime("%H:%M")) == (later, "16:30")


def test_the_duration_is_kept_in_local_time_across_summer_time(app, signed_in):
    # 14:00-15:30 on 20 March 2031 (winter time), moved to 3 April (summer time).
    create(signed_in, app, start_date="2031-03-20", end_date="", end_time="15:30")
    page = signed_in.get("/organiser/events/akson-test/edit")
    post(
        signed_in,
        "/organiser/events/akson-test/edit",
        form(
            start_date="2031-04-03",
            end_date=input_value(page, "end_date"),
            shown_times=shown_times(page),
        ),
    )
    event = event_by_slug(app, "akson-test")
    assert event.starts_at == datetime(2031, 4, 3, 12, tzinfo=UTC)  # 14:00 CEST
    assert event.local_end.strftime("%Y-%m-%d %H:%M") == "2031-04-03 15:30"


def test_an_end_changed_too_is_kept_as_given(app, signed_in):
    create(signed_in, app, end_time="15:30")
    page = signed_in.get("/organiser/events/akson-test/edit")
    later = START + timedelta(days=1)
    post(
        signed_in,
        "/organiser/events/akson-test/edit",
        form(
            start_date=later.isoformat(),
            end_date=later.isoformat(),
            end_time="17:00",
            shown_times=shown_times(page),
        ),
    )
    event = event_by_slug(app, "akson-test")
    assert event.local_end.strftime("%H:%M") == "17:00"
    assert event.ends_at - event.starts_at == timedelta(hours=3)


def test_an_end_before_the_start_is_shown_under_the_field_that_is_wrong(app, signed_in):
    create(signed_in, app)
    page = signed_in.get("/organiser/events/akson-test/edit")
    earlier = START - timedelta(days=1)

    # Both changed: the end date is on an earlier day, so the message goes there.
    response = post(
        signed_in,
        "/organiser/events/akson-test/edit",
        form(end_date=earlier.isoformat(), end_time="16:00", shown_times=shown_times(page)),
    )
    assert response.status_code == 422
    assert field_error(response, "end_date") == "Slutten må være etter starten."
    assert 'id="end_time-error"' not in response.text

    # The same day, a time before the start: the end time is wrong.
    response = post(
        signed_in, "/organiser/events/akson-test/edit", form(end_date="", end_time="13:00")
    )
    assert field_error(response, "end_time") == "Slutten må være etter starten."


# --- the time zones and the deadline groups --------------------------------------------------


def test_a_fixed_deadline_without_its_date_is_refused_next_to_the_date(app, signed_in):
    # Before, this was a server error: the date's own checks stop when it is empty.
    response = post(
        signed_in, "/organiser/events/new", form(deadline_mode="absolute", deadline_date="")
    )
    assert response.status_code == 422
    assert field_error(response, "deadline_date") == "Velg fristdato."
    assert count(app, Event) == 0


def test_a_relative_deadline_without_its_days_is_refused_next_to_them(app, signed_in):
    response = post(signed_in, "/organiser/events/new", form(deadline_days=""))
    assert response.status_code == 422
    assert field_error(response, "deadline_days") == "Skriv hvor mange dager før start fristen er."
    assert count(app, Event) == 0


def test_the_time_zone_list_starts_with_oslo_then_common_zones(signed_in):
    page = signed_in.get("/organiser/events/new")
    select = page.text[page.text.index('name="timezone"') :]
    select = select[: select.index("</select>")]
    values = re.findall(r'value="([^"]+)"', select)
    assert values[0] == "Europe/Oslo"
    assert values[1:7] == [
        "Europe/Stockholm",
        "Europe/Copenhagen",
        "Europe/Helsinki",
        "Europe/London",
        "Europe/Berlin",
        "UTC",
    ]
    assert values[7] == "Africa/Abidjan"  # then every zone, A to Z
    assert len(values) == len(set(values)), "no zone offered twice"
    assert '<optgroup label="Vanlige tidssoner">' in select
    assert '<optgroup label="Alle tidssoner">' in select


def test_without_javascript_both_deadline_groups_show_labelled(signed_in):
    page = signed_in.get("/organiser/events/new")
    assert 'data-deadline-kind="relative"' in page.text
    assert 'data-deadline-kind="absolute"' in page.text
    assert "Gjelder bare «Et antall dager før start»" in page.text
    assert "Gjelder bare «Fast dato»" in page.text
    assert " hidden" not in page.text.split('id="deadline-relative"')[0][-80:]
    assert '<script src="/static/event-form.js" defer></script>' in page.text


# --- the organiser's defaults --------------------------------------------------------------


def organiser_id(app, email_address="arrangor@ks.test") -> int:
    with within(app):
        return db.session.scalar(select(Organiser.id).where(Organiser.email == email_address))


def test_a_new_event_takes_the_organiser_of_the_programme(signed_in, create_programme):
    create_programme(slug="akson", organiser_name="HOD", organiser_email="akson@hod.test")
    campaign = signed_in.get("/organiser/programmes/akson")
    assert 'href="/organiser/events/new?programme=akson">Nytt arrangement i programmet' in (
        campaign.text
    )
    page = signed_in.get("/organiser/events/new?programme=akson")
    assert input_value(page, "organiser_name") == "HOD"
    assert input_value(page, "organiser_email") == "akson@hod.test"
    assert re.search(r'<option [^>]*selected value="\d+">Akson</option>', page.text)
    # The programme's organiser rides along for the script to fill in on a change.
    assert 'data-organiser-email="akson@hod.test"' in page.text


def test_a_new_event_takes_the_organiser_of_my_last_event(app, signed_in, create_event):
    mine = organiser_id(app)
    create_event(organiser_name="Mitt team", organiser_email="mitt@ks.test", created_by_id=mine)
    create_event(organiser_name="Noen andre", organiser_email="andre@ks.test")  # newer, not mine
    page = signed_in.get("/organiser/events/new")
    assert input_value(page, "organiser_name") == "Mitt team"
    assert input_value(page, "organiser_email") == "mitt@ks.test"


def test_without_any_event_the_mailbox_is_my_own(signed_in):
    page = signed_in.get("/organiser/events/new")
    assert input_value(page, "organiser_email") == "arrangor@ks.test"


def test_creating_remembers_who_created_it_and_its_programme(app, signed_in, create_programme):
    programme = create_programme()
    event = create(signed_in, app, programme=str(programme.id))
    assert event.created_by_id == organiser_id(app)
    assert event.programme_id == programme.id


def test_an_unknown_programme_is_refused_next_to_the_field(app, signed_in):
    response = post(signed_in, "/organiser/events/new", form(programme="999"))
    assert response.status_code == 422
    assert field_error(response, "programme") == "Velg et program fra listen."
    assert count(app, Event) == 0


# --- copying an event ----------------------------------------------------------------------


def test_the_copy_form_is_filled_from_the_original_a_week_later(app, signed_in, create_event):
    start = datetime(2030, 5, 5, 12, tzinfo=UTC)
    create_event(
        slug="akson-webinar-1",
        title="Webinar 1",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
    )
    create_event(slug="akson-webinar-1-2")  # taken: the copy gets -3

    page = signed_in.get("/organiser/events/akson-webinar-1/copy")

    assert page.status_code == 200
    assert "Kopier «Webinar 1»" in page.text
    assert input_value(page, "title") == "Webinar 1"
    assert input_value(page, "slug") == "akson-webinar-1-3"
    assert input_value(page, "start_date") == "2030-05-12"
    assert input_value(page, "start_time") == "14:00"
    assert "Lagre kopien som utkast" in page.text


def test_a_copy_is_a_new_draft_with_nothing_of_the_original(
    app, signed_in, create_event, create_registration, create_programme
):
    original = create_event(
        slug="akson-webinar-1", recording_url="https://video.example.org/1", capacity=50
    )
    programme = create_programme(events=[original])
    create_registration(original, question="Et spørsmål")
    with within(app), write_transaction():
        db.session.add(Material(event_id=original.id, title="Lysark", url="https://x.test/l.pdf"))
    page = signed_in.get("/organiser/events/akson-webinar-1/copy")
    later = START + timedelta(days=40)

    response = post(
        signed_in,
        "/organiser/events/akson-webinar-1/copy",
        form(
            slug="akson-webinar-1-2",
            start_date=later.isoformat(),
            capacity="50",
            programme=str(programme.id),
            shown_times=shown_times(page),
        ),
    )

    assert response.status_code == 303, response.text
    assert response.headers["Location"].endswith("/organiser/events/akson-webinar-1-2")
    copy = event_by_slug(app, "akson-webinar-1-2")
    assert copy.status == Event.DRAFT and copy.id != original.id
    assert copy.local_start.date() == later
    assert (copy.capacity, copy.seats_taken, copy.programme_id) == (50, 0, programme.id)
    assert copy.recording_url == "" and copy.recording_published_at is None
    assert copy.ical_uid != original.ical_uid and copy.sequence == 0
    assert copy.created_by_id == organiser_id(app)
    with within(app):
        for model in (Registration, Question, Material):
            assert (
                db.session.scalar(
                    select(func.count()).select_from(model).where(model.event_id == copy.id)
                )
                == 0
            )
    # The original is as it was.
    assert event_by_slug(app, "akson-webinar-1").seats_taken == 1


def test_a_copy_with_the_original_s_slug_is_refused_next_to_the_field(app, signed_in, create_event):
    create_event(slug="akson-webinar-1")
    response = post(
        signed_in, "/organiser/events/akson-webinar-1/copy", form(slug="akson-webinar-1")
    )
    assert response.status_code == 422
    assert "allerede i bruk" in field_error(response, "slug")


def test_copy_of_an_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/copy").status_code == 404


# --- previewing a draft ----------------------------------------------------------------------


def test_a_draft_can_be_previewed_as_the_public_will_see_it(client, signed_in, create_event):
    create_event(
        slug="utkast", title="Et utkast", status=Event.DRAFT, description="Første.\n\nAndre."
    )

    page = signed_in.get("/organiser/events/utkast/preview")

    assert page.status_code == 200
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<title>Forhåndsvisning: Et utkast</title>" in page.text
    assert "Forhåndsvisning" in page.text and "Skjemaet kan ikke sendes herfra." in page.text
    # The public page, registration form included, but nothing in it can be sent.
    assert "<h1>Et utkast</h1>" in page.text and "Påmeldingsfrist" in page.text
    assert re.search(r'<fieldset disabled class="preview">', page.text)
    assert page.text.index('<fieldset disabled class="preview">') < page.text.index('name="name"')
    assert "Meld meg på" in page.text
    # The join link is no more on the preview than on the public page.
    assert "meet.example.org" not in page.text
    # The public still cannot see the draft.
    anonymous = signed_in.application.test_client()
    assert anonymous.get("/events/utkast").status_code == 404
    assert anonymous.get("/organiser/events/utkast/preview").status_code == 302


def test_the_event_page_offers_preview_and_copy(signed_in, create_event):
    create_event(slug="utkast", status=Event.DRAFT)
    page = signed_in.get("/organiser/events/utkast")
    assert 'href="/organiser/events/utkast/preview"' in page.text
    assert 'href="/organiser/events/utkast/copy"' in page.text
