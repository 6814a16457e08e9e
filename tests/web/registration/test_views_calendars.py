"""Every calendar: "add to" links on the event page, in the confirmation and on the
registrant's page; feeds as webcal: subscriptions; nothing to add for a past or cancelled
event."""

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from sqlalchemy import select

from tests.support import outbox, within
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import messages
from webinars.models import Event, OutboxMessage, utcnow

GOOGLE = "https://calendar.google.com/calendar/render?action=TEMPLATE"
OUTLOOK_COM = "https://outlook.live.com/calendar/0/deeplink/compose?"
MICROSOFT_365 = "https://outlook.office.com/calendar/0/deeplink/compose?"


def hrefs(html: str, prefix: str) -> list[str]:
    return [
        unescape(h) for h in re.findall(r'href="([^"]+)"', html) if unescape(h).startswith(prefix)
    ]


def params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def composed(app, row: OutboxMessage):
    with within(app):
        return messages.compose(db.session.get(OutboxMessage, row.id))


@pytest.fixture
def event(create_event):
    return create_event(title="Webinar 1", join_url="https://meet.example.org/hemmelig-rom")


def test_the_event_page_offers_every_calendar_without_the_join_link(client, event):
    page = client.get(f"/events/{event.slug}").text

    assert "Legg til i Google Kalender" in page
    assert "Legg til i Outlook.com" in page and "Legg til i Microsoft 365" in page
    [google] = hrefs(page, GOOGLE)
    [outlook] = hrefs(page, OUTLOOK_COM)
    [office] = hrefs(page, MICROSOFT_365)
    assert params(google)["text"] == params(outlook)["subject"] == "Webinar 1"
    assert params(outlook) == params(office)
    assert f'href="/events/{event.slug}/calendar.ics"' in page
    assert "hemmelig-rom" not in page


def test_english_pages_label_the_links_in_english(client, event):
    page = client.get(f"/events/{event.slug}?lang=en").text
    assert "Add to Google Calendar" in page and "Add to Outlook.com" in page
    assert "Add to Microsoft 365" in page
    assert "Mer informasjon og påmelding" not in params(hrefs(page, GOOGLE)[0])["details"]


def test_the_registrants_page_and_mail_carry_their_own_links(app, client, event, register):
    register(event.slug)
    [row] = outbox(app)
    message = composed(app, row)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    path = re.search(r"https?://[^/\s]+(/r/[A-Za-z0-9_-]+)", text)[1]

    # The mail: Google, Outlook.com and Microsoft 365 with the join link, and the personal .ics.
    for body in (text, html):
        for prefix in (GOOGLE, OUTLOOK_COM, MICROSOFT_365):
            found = re.findall(re.escape(prefix) + r"[^\s\"<]+", body)
            assert len(found) == 1, (prefix, body)
            assert params(unescape(found[0]))["location"] == "https://meet.example.org/hemmelig-rom"
    assert f"http://webinars.test{path}/invite.ics" in text

    page = client.get(path).text
    [google] = hrefs(page, GOOGLE)
    assert "Delta i møtet: https://meet.example.org/hemmelig-rom" in params(google)["details"]
    assert len(hrefs(page, OUTLOOK_COM)) == len(hrefs(page, MICROSOFT_365)) == 1
    assert f'href="{path}/invite.ics"' in page
    assert 'rel="noopener noreferrer">Legg til i Google Kalender' in page


def test_a_waitlisted_registrant_gets_no_calendar_links(app, client, create_event, register):
    full = create_event(capacity=0, waitlist=True)
    register(full.slug)
    text = composed(app, outbox(app)[0]).get_body(("plain",)).get_content()
    assert "calendar.google.com" not in text and "invite.ics" not in text


# --- past and cancelled events -----------------------------------------------------------------


def test_a_past_event_says_it_is_over_and_offers_no_calendar(client, create_event):
    start = utcnow() - timedelta(days=2)
    create_event(
        slug="over",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        recording_url="https://video.example.org/opptak",
    )
    page = client.get("/events/over")
    assert page.status_code == 200
    assert "Arrangementet er over. Opptaket finner du under «Opptak og materiell»." in page.text
    assert "https://video.example.org/opptak" in page.text
    assert "/events/over/calendar.ics" not in page.text
    assert "calendar.google.com/calendar/render?action" not in page.text
    assert "outlook" not in page.text
    assert 'name="name"' not in page.text  # no registration form


def test_a_cancelled_event_says_so_and_offers_no_calendar(client, create_event):
    create_event(slug="avlyst", status=Event.CANCELLED)
    page = client.get("/events/avlyst")
    assert "Dette arrangementet er avlyst." in page.text
    assert "/events/avlyst/calendar.ics" not in page.text
    assert "calendar.google.com/calendar/render?action" not in page.text
    assert 'name="name"' not in page.text


def test_the_registrants_page_offers_no_calendar_after_the_event(app, client, event, register):
    register(event.slug)
    text = composed(app, outbox(app)[0]).get_body(("plain",)).get_content()
    path = re.search(r"https?://[^/\s]+(/r/[A-Za-z0-9_-]+)", text)[1]
    with within(app), write_transaction():
        row = db.session.get(Event, event.id)
        row.starts_at, row.ends_at = utcnow() - timedelta(hours=3), utcnow() - timedelta(hours=2)
    page = client.get(path).text
    assert "calendar.google.com/calendar/render?action" not in page
    assert "invite.ics" not in page


# --- feeds ----------------------------------------------------------------------------------


def test_feeds_are_offered_as_webcal_subscriptions(app, client, create_event, create_programme):
    app.config["PUBLIC_URL"] = "https://moter.example.no"
    meeting = create_event(slug="akson-stormote", title="Stormøte")
    webinar = create_event(slug="akson-webinar-1", title="Webinar 1")
    create_event(slug="utkast", status=Event.DRAFT)
    create_programme([meeting, webinar])

    for path in ("/", "/events/akson-stormote"):
        page = client.get(path).text
        assert 'href="webcal://moter.example.no/programmes/akson/calendar.ics"' in page
        assert 'href="webcal://moter.example.no/calendar.ics"' in page  # the site's, in the footer
        assert "Alle arrangementene i Akson:" in page
        google = hrefs(page, "https://calendar.google.com/calendar/render?cid=")
        assert {params(g)["cid"] for g in google} == {
            "webcal://moter.example.no/programmes/akson/calendar.ics",
            "webcal://moter.example.no/calendar.ics",
        }

    feed = client.get("/programmes/akson/calendar.ics")
    calendar = icalendar.Calendar.from_ical(feed.data)
    assert calendar["METHOD"] == "PUBLISH" and calendar["X-WR-CALNAME"] == "Akson"
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["Stormøte", "Webinar 1"]
    assert b"meet.example.org" not in feed.data


def test_an_event_outside_a_programme_offers_only_the_site_feed(client, create_event):
    create_event(slug="alone")
    page = client.get("/events/alone").text
    assert "/programmes/" not in page
    assert 'href="webcal://webinars.test/calendar.ics"' in page


def test_the_site_feed_and_the_programme_feed_are_built_alike(
    app, client, create_event, create_programme
):
    one = create_event(slug="one", title="En")
    create_programme([one])
    site = icalendar.Calendar.from_ical(client.get("/calendar.ics").data)
    programme = icalendar.Calendar.from_ical(client.get("/programmes/akson/calendar.ics").data)
    [a], [b] = site.walk("VEVENT"), programme.walk("VEVENT")
    assert a["UID"] == b["UID"] and a["DTSTART"].dt == b["DTSTART"].dt
    for calendar in (site, programme):
        assert "REFRESH-INTERVAL" in calendar and calendar["METHOD"] == "PUBLISH"
    with within(app):
        assert db.session.scalar(select(Event.slug)) == "one"
