"""A mayor registers for the whole Akson series from one form, and for the rest with one click.

Headless Chromium against the app on a real HTTP server; the mail arrives at a real SMTP
server and each invite is read back with the icalendar library.
"""

from __future__ import annotations

import re
from datetime import timedelta

import icalendar
import pytest
from playwright.sync_api import expect

from tests.browser.support import MEETING, fill_form, open_meeting, stored, submit
from tests.support import calendar_parts, deliver, manage_link
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Event, utcnow

pytestmark = pytest.mark.browser

EMAIL = "kari.nordmann@oslo.kommune.no"
WEBINARS = [
    "Webinar 1: Støttemateriellet om Akson",
    "Webinar 2: Intensjonserklæringen",
    "Webinar 3: Det sentrale styringsdokumentet",
]


def fill_in(page):
    fill_form(
        page,
        name="Kari Nordmann",
        email=EMAIL,
        role="Ordfører",
        municipality="Oslo (Oslo)",
        organisation="Oslo kommune",
    )


def invites(smtp) -> dict[str, str]:
    """The SUMMARY of the one VEVENT of each REQUEST invite mailed to the mayor, by subject."""
    found = {}
    for message in smtp.to(EMAIL):
        [part] = calendar_parts(message)
        calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
        assert calendar["METHOD"] == "REQUEST" and part.get_param("method") == "REQUEST"
        [vevent] = calendar.walk("VEVENT")
        found[message["Subject"]] = str(vevent["SUMMARY"])
    return found


def test_the_whole_series_from_one_form(page, app, smtp, live_server, akson, shots):
    open_meeting(page, akson)
    series = page.get_by_role("group", name="Meld deg på flere i samme serie")
    expect(series).to_be_visible()
    this = series.get_by_role("checkbox", name=re.compile(MEETING))
    expect(this).to_be_checked()
    expect(this).to_be_disabled()
    fill_in(page)
    for title in WEBINARS:
        box = series.get_by_role("checkbox", name=re.compile(re.escape(title)))
        expect(box).not_to_be_checked()
        box.check()
    page.screenshot(path=shots / "series-ticked.png", full_page=True)

    assert submit(page) == 303
    expect(page.get_by_role("heading", name="Takk for påmeldingen")).to_be_visible()
    for title in WEBINARS:
        expect(page.get_by_text(title)).to_be_visible()
    assert stored(app) == (4, 4)

    assert deliver(app) == 4
    assert sorted(invites(smtp).values()) == sorted([MEETING, *WEBINARS])


def test_one_click_from_the_registered_and_the_registrants_page(
    page, app, smtp, live_server, akson, shots
):
    open_meeting(page, akson)
    fill_in(page)
    page.get_by_role("checkbox", name=re.compile(re.escape(WEBINARS[1]))).check()
    assert submit(page) == 303
    assert stored(app) == (2, 2)

    # The page after registering offers the other two, one click each, nothing to type.
    offer = page.locator("section.series-offer")
    expect(offer.get_by_role("button")).to_have_count(2)
    offer.get_by_role("button", name=f"Meld meg på: {WEBINARS[0]}").click()
    expect(page).to_have_url(re.compile(r"/events/akson-webinar-1/registered$"))
    expect(page.get_by_text(f"Du er meldt på {WEBINARS[0]}")).to_be_visible()
    expect(page.locator("section.series-offer").get_by_role("button")).to_have_count(1)
    assert stored(app) == (3, 3)

    # The registrant's page, from the mail: the last one, also with one click.
    assert deliver(app) == 3
    page.goto(manage_link(smtp.to(EMAIL)[0], live_server.url))
    offer = page.locator("section.series-offer")
    expect(offer.get_by_text("Du er påmeldt")).to_have_count(2)
    offer.get_by_role("button", name=f"Meld meg på: {WEBINARS[2]}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Du er meldt på {WEBINARS[2]}.")
    expect(page.locator("section.series-offer").get_by_role("button")).to_have_count(0)
    page.screenshot(path=shots / "series-manage.png", full_page=True)
    assert deliver(app) == 1
    assert sorted(invites(smtp).values()) == sorted([MEETING, *WEBINARS])


def test_a_ticked_webinar_that_closed_meanwhile_is_named_and_nothing_stored(
    page, app, smtp, live_server, akson
):
    open_meeting(page, akson)
    fill_in(page)
    page.get_by_role("checkbox", name=re.compile(re.escape(WEBINARS[0]))).check()
    page.get_by_role("checkbox", name=re.compile(re.escape(WEBINARS[2]))).check()
    with app.app_context(), write_transaction():
        webinar = db.session.scalar(db.select(Event).where(Event.slug == "akson-webinar-3"))
        webinar.deadline_days_before, webinar.deadline_local_time = None, None
        webinar.deadline_at = utcnow() - timedelta(minutes=1)

    assert submit(page) == 422
    error = page.locator("#events-error")
    expect(error).to_contain_text(f"«{WEBINARS[2]}»")
    expect(error).to_contain_text("Påmeldingsfristen har gått ut.")
    expect(page.get_by_role("group", name="Meld deg på flere i samme serie")).to_have_attribute(
        "aria-describedby", "events-error"
    )
    # What was typed and ticked is kept; the closed one is no longer offered.
    expect(page.get_by_label("Navn", exact=True)).to_have_value("Kari Nordmann")
    expect(page.get_by_role("checkbox", name=re.compile(re.escape(WEBINARS[0])))).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile(re.escape(WEBINARS[2])))).to_have_count(0)
    assert stored(app) == (0, 0)
