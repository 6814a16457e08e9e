"""Text and layout on the public pages: descriptions as typed, no internal identifiers, the
recording only after the event, hyphenation's language, the privacy notice."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.web.organiser.event_form import create as create_through_form
from webinars.models import utcnow


def visible_text(html: str) -> str:
    """What a reader sees: the page without its tags, attributes, scripts and styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_a_description_shows_its_paragraphs_whatever_the_line_ends(client, create_event, end):
    event = create_event(description=f"Første avsnitt.{end}{end}Andre avsnitt.")
    page = client.get(f"/events/{event.slug}").text
    assert '<p class="text">Første avsnitt.</p><p class="text">Andre avsnitt.</p>' in page


def test_a_description_typed_in_a_browser_is_stored_with_lf(app, signed_in):
    event = create_through_form(
        signed_in,
        app,
        description="Første.\r\n\r\nAndre,\r\nmed linjeskift.",
        target_group="A\r\nB",
    )
    assert event.description == "Første.\n\nAndre,\nmed linjeskift."
    assert event.target_group == "A\nB"


def test_the_organisers_capacity_row_says_places_once(app, signed_in, create_event):
    event = create_event(capacity=2, waitlist=True)
    page = signed_in.get(f"/organiser/events/{event.slug}").text
    assert "Plasser: Plasser" not in visible_text(page)
    assert "Plasser 2, ledige: 2" in visible_text(page)


def test_no_internal_identifiers_on_the_event_page(client, create_event):
    event = create_event(slug="akson-webinar-9", ical_uid="akson-webinar-9@webinars.test")
    for lang in ("nb", "en"):
        text = visible_text(client.get(f"/events/{event.slug}?lang={lang}").text)
        assert "Europe/Oslo" not in text and "@webinars.test" not in text
        assert "akson-webinar-9" not in text
    nb = visible_text(client.get(f"/events/{event.slug}?lang=nb").text)
    assert re.search(r"kl\. \d\d:\d\d–\d\d:\d\d norsk tid", nb)


def test_another_zone_is_named_the_way_people_read_it(client, create_event):
    event = create_event(timezone="America/New_York")
    text = visible_text(client.get(f"/events/{event.slug}").text)
    assert "America/New_York" not in text
    assert re.search(r"\d\d:\d\d E[DS]T", text)


def test_a_recording_shows_on_the_public_page_only_once_the_event_is_over(client, create_event):
    upcoming = create_event(recording_url="https://video.example.org/opptak")
    assert "video.example.org/opptak" not in client.get(f"/events/{upcoming.slug}").text
    start = utcnow() - timedelta(days=1)
    over = create_event(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        recording_url="https://video.example.org/opptak",
    )
    page = client.get(f"/events/{over.slug}").text
    assert "video.example.org/opptak" in page and "Se opptaket" in page


def test_the_html_element_names_the_language_hyphenation_follows(client, create_event):
    event = create_event()
    assert '<html lang="nb">' in client.get(f"/events/{event.slug}").text
    assert '<html lang="en">' in client.get(f"/events/{event.slug}?lang=en").text
    with client.get("/static/style.css") as response:
        css = response.text
    assert "hyphens: auto" in css and "overflow-wrap" in css


@pytest.mark.parametrize(
    "app_config, expected",
    [
        ({}, "Påmeldingen anonymiseres 180 dager etter at arrangementet er over."),
        (
            {"ANONYMISE_AFTER_DAYS": 1},
            "Påmeldingen anonymiseres 1 dag etter at arrangementet er over.",
        ),
    ],
    ids=["default", "one-day"],
)
def test_the_form_says_what_is_kept_why_who_sees_it_and_for_how_long(
    client, create_event, expected
):
    event = create_event(organiser_name="KS")
    text = visible_text(client.get(f"/events/{event.slug}").text)
    assert "Personvern" in text
    assert "navnet, e-postadressen, rollen, kommunen og organisasjonen din" in text
    assert "spørsmålet ditt" in text
    assert "gjennomføre arrangementet og oppfølgingen" in text
    assert "Bare arrangørene (KS) ser det." in text
    assert expected in text


def test_the_privacy_notice_in_english(client, create_event):
    event = create_event()
    text = visible_text(client.get(f"/events/{event.slug}?lang=en").text)
    assert "We keep your name, email address, role, municipality and organisation" in text
    assert "anonymised 180 days after the event has ended" in text
