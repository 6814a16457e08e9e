"""The organiser's event form and participant list in a real browser: only the deadline
fields of the chosen kind show (both without JavaScript), the end follows a moved start,
and the participant table fits a 1280 px screen.

Headless Chromium against the app on a real HTTP server (tests/browser/conftest.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.support import ORGANISER, OSLO, PolicyWatch, log_in
from tests.support import within
from webinars import attendance, registrations
from webinars.extensions import db
from webinars.models import Event

pytestmark = pytest.mark.browser


def signed_in(page, path: str):
    """Open an organiser page, logging in on the way."""
    page.goto(path)
    log_in(page)
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    # The address changes before the page has loaded: wait for its scripts to run.
    page.wait_for_load_state("load")
    return page


def test_only_the_chosen_deadline_fields_show(new_page, organiser):
    page = new_page()
    watch = PolicyWatch(page)
    signed_in(page, "/organiser/events/new")
    relative = page.locator("#deadline-relative")
    absolute = page.locator("#deadline-absolute")

    # The default is "some days before the start".
    expect(page.get_by_label("Et antall dager før start")).to_be_checked()
    expect(relative).to_be_visible()
    expect(page.get_by_role("spinbutton", name="Dager før start")).to_be_visible()
    expect(absolute).to_be_hidden()

    page.get_by_label("Fast dato", exact=True).check()
    expect(absolute).to_be_visible()
    expect(page.get_by_label("Fristdato")).to_be_visible()
    expect(relative).to_be_hidden()

    page.get_by_label("Til arrangementet starter").check()
    expect(relative).to_be_hidden()
    expect(absolute).to_be_hidden()
    assert watch.violations == []


def test_without_javascript_both_deadline_groups_show_and_say_which_is_which(new_page, organiser):
    page = signed_in(new_page(java_script_enabled=False), "/organiser/events/new")
    expect(page.locator("#deadline-relative")).to_be_visible()
    expect(page.locator("#deadline-absolute")).to_be_visible()
    expect(page.locator("#deadline-relative")).to_contain_text(
        "Gjelder bare «Et antall dager før start»"
    )
    expect(page.locator("#deadline-absolute")).to_contain_text("Gjelder bare «Fast dato»")


def test_a_deadline_error_stays_in_view_whatever_kind_is_chosen(new_page, organiser):
    page = signed_in(new_page(), "/organiser/events/new")
    page.get_by_label("Fast dato", exact=True).check()
    page.get_by_label("Tittel", exact=True).fill("Uten fristdato")
    page.get_by_label("Startdato").fill(
        (datetime.now(OSLO).date() + timedelta(days=20)).isoformat()
    )
    page.get_by_label("Starttid").fill("10:00")
    page.get_by_label("Sluttid").fill("11:00")
    page.get_by_label("Arrangørens e-postadresse").fill("akson@ks.no")
    page.get_by_role("button", name="Lagre utkast").click()
    expect(page.locator("#deadline_date-error")).to_have_text("Velg fristdato.")
    expect(page.locator("#deadline-absolute")).to_be_visible()


def test_moving_the_start_moves_the_end_until_the_end_is_changed(
    app, new_page, organiser, create_event
):
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=30)
    start = start.astimezone(OSLO).replace(hour=14).astimezone(UTC)
    create_event(
        slug="flytt-meg",
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        organiser_email="akson@ks.no",
    )
    page = signed_in(new_page(), "/organiser/events/flytt-meg/edit")
    day = start.astimezone(OSLO).date()
    start_date, start_time = page.get_by_label("Startdato"), page.get_by_label("Starttid")
    end_date, end_time = page.get_by_label("Sluttdato"), page.get_by_label("Sluttid")
    expect(end_time).to_have_value("15:30")

    start_time.fill("15:00")
    expect(end_time).to_have_value("16:30")
    later = day + timedelta(days=7)
    start_date.fill(later.isoformat())
    expect(end_date).to_have_value(later.isoformat())
    expect(end_time).to_have_value("16:30")

    page.get_by_role("button", name="Lagre endringene").click()
    expect(page).to_have_url(re.compile(r"/organiser/events/flytt-meg$"))
    with within(app):
        event = db.session.scalar(db.select(Event).where(Event.slug == "flytt-meg"))
        assert event.local_start.date() == later
        assert event.local_end.strftime("%H:%M") == "16:30"

    # Once the end is changed by hand, the start moves alone.
    page.goto("/organiser/events/flytt-meg/edit")
    end_time.fill("17:00")
    start_time.fill("16:00")
    expect(end_time).to_have_value("17:00")


def test_the_participant_table_fits_a_1280_px_screen(app, new_page, organiser, create_event, shots):
    event = create_event(slug="stormote", title="Nasjonalt digitalt stormøte om Akson")
    long = [
        (
            "Anne-Marie Kristine Østensjø-Bakkeli",
            "anne-marie.kristine.ostensjo-bakkeli@nordre-follo.kommune.no",
            "kommunedirektor",
            "3020",
            "Helse- og omsorgsavdelingen, virksomhet for tildeling og koordinering",
        ),
        ("Bjørn", "b@tana.kommune.no", "ordforer", "5441", ""),
        (
            "Kari Nordmann",
            "kari.nordmann@kautokeino.kommune.no",
            "politisk_leder",
            "5430",
            "Guovdageainnu suohkan",
        ),
    ]
    with within(app):
        stored = db.session.get(Event, event.id)
        for name, email, role, number, organisation in long:
            registrations.register(
                stored,
                name=name,
                email=email,
                role=role,
                municipality=number,
                organisation=organisation,
            )
        # With a participant report loaded the table has its widest form (the Deltok column).
        report = "email,minutes\nkari.nordmann@kautokeino.kommune.no,88\n"
        attendance.load(stored, report.encode(), any_date=True)
    page = signed_in(
        new_page(viewport={"width": 1280, "height": 800}), "/organiser/events/stormote/participants"
    )
    expect(page.get_by_role("cell", name="Bjørn", exact=True)).to_be_visible()
    expect(page.get_by_role("columnheader", name="Deltok")).to_be_visible()

    widths = page.evaluate(
        """() => {
          const table = document.querySelector("table.participants");
          return {
            page: document.documentElement.scrollWidth,
            viewport: document.documentElement.clientWidth,
            table: table.scrollWidth,
            wrap: table.parentElement.clientWidth,
          };
        }"""
    )
    page.screenshot(path=str(shots / "participants-1280.png"), full_page=True)
    # No horizontal scroll: neither of the page nor of the table inside its frame.
    assert widths["page"] <= widths["viewport"], widths
    assert widths["table"] <= widths["wrap"], widths


def test_choosing_a_programme_fills_in_its_organiser_unless_typed(
    new_page, organiser, create_programme
):
    create_programme(title="Akson", organiser_name="HOD", organiser_email="akson@hod.no")
    page = signed_in(new_page(), "/organiser/events/new")
    name, email = (
        page.get_by_label("Arrangør", exact=True),
        page.get_by_label("Arrangørens e-postadresse"),
    )
    expect(email).to_have_value(ORGANISER)  # nothing else to go by yet: my own address

    page.get_by_label("Program", exact=True).select_option(label="Akson")
    expect(name).to_have_value("HOD")
    expect(email).to_have_value("akson@hod.no")

    # What the organiser typed is never overwritten.
    email.fill("meg@ks.no")
    page.get_by_label("Program", exact=True).select_option(label="Ingen")
    page.get_by_label("Program", exact=True).select_option(label="Akson")
    expect(email).to_have_value("meg@ks.no")
