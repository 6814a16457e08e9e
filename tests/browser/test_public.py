"""What mayors and other attendees see in a real browser: find a meeting, register, cancel.

Headless Chromium against the app on a real HTTP server (tests/browser/conftest.py); the
mail arrives at a real SMTP server and is read the way a person reads it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from tests.browser.support import (
    JOIN_URL,
    MEETING,
    english_date,
    fill_form,
    norwegian_date,
    nynorsk_date,
    open_meeting,
    statuses,
    stored,
    submit,
)
from tests.support import calendar_parts, deliver, manage_link, text_part

pytestmark = pytest.mark.browser

TRANSLATIONS = Path(__file__).resolve().parents[2] / "webinars" / "translations"


# --- registering and cancelling -------------------------------------------------------------


def mayor_registers_and_cancels(page, app, smtp, live_server, meeting_day, shots, tag):
    """Scenario 1: register, read the mail, open the personal page, download, cancel."""
    email = "kari.nordmann@oslo.kommune.no"
    open_meeting(page, meeting_day, shots, tag)

    offered = page.locator("select[name=municipality] option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert "0301" in offered  # Oslo
    assert "5001" not in offered  # Trondheim, Midt-Norge
    assert "1507" not in offered  # Ålesund, Møre og Romsdal is Midt-Norge too
    assert len([v for v in offered if v]) == 292  # every municipality outside Midt-Norge

    fill_form(
        page,
        name="Kari Nordmann",
        email=email,
        role="Ordfører",
        municipality="Oslo (Oslo)",
        organisation="Oslo kommune",
    )
    page.screenshot(path=shots / f"event-filled{tag}.png", full_page=True)
    assert submit(page) == 303  # DESIGN.md: a 303 to the confirmation page

    expect(page).to_have_url(re.compile(r"/events/akson-stormote/registered(#register)?$"))
    expect(page.get_by_role("heading", name="Takk for påmeldingen")).to_be_visible()
    expect(page.get_by_text(f"Vi har sendt en bekreftelse til {email}.")).to_be_visible()
    html = page.content()
    assert JOIN_URL not in html and "meet.example.org" not in html
    assert "/r/" not in html
    page.screenshot(path=shots / f"registered{tag}.png", full_page=True)
    assert stored(app) == (1, 1)

    # The confirmation travels through the outbox to the real SMTP server.
    assert deliver(app) == 1
    [confirmation] = smtp.to(email)
    assert confirmation["Subject"] == f"Påmeldingen er bekreftet: {MEETING}"
    assert JOIN_URL in text_part(confirmation)
    [request] = calendar_parts(confirmation)
    assert request.get_param("method") == "REQUEST"
    uid = re.search(r"^UID:(.+)$", request.get_content(), re.M).group(1).strip()

    page.goto(manage_link(confirmation, live_server.url))
    expect(page.get_by_role("heading", name="Din påmelding")).to_be_visible()
    expect(page.locator(".status")).to_have_text("Påmeldt")
    expect(page.get_by_text("Kari Nordmann · kari.nordmann@oslo.kommune.no · Oslo")).to_be_visible()
    expect(page.get_by_role("link", name=JOIN_URL)).to_have_attribute("href", JOIN_URL)
    page.screenshot(path=shots / f"manage{tag}.png", full_page=True)

    invite = page.get_by_role("link", name=re.compile(r"^Last ned \.ics"))
    with page.expect_download() as download:
        invite.click()
    assert download.value.suggested_filename == "invitasjon.ics"
    ics = Path(download.value.path()).read_text(encoding="utf-8")
    assert ics.startswith("BEGIN:VCALENDAR") and f"UID:{uid}" in ics and JOIN_URL in ics
    fetched = page.request.get(invite.get_attribute("href"))
    assert fetched.status == 200
    assert fetched.headers["content-type"].startswith("text/calendar")

    page.get_by_role("link", name="Avbestill påmeldingen").click()
    expect(page.get_by_role("heading", name="Avbestille påmeldingen?")).to_be_visible()
    expect(page.get_by_text(f"Du avbestiller påmeldingen til {MEETING}")).to_be_visible()
    page.screenshot(path=shots / f"cancel-question{tag}.png", full_page=True)
    assert statuses(app) == ["confirmed"]
    page.get_by_role("button", name="Ja, avbestill").click()

    expect(page.get_by_role("heading", name="Din påmelding")).to_be_visible()
    expect(page.locator(".status")).to_have_text("Avbestilt")
    expect(page.get_by_text("Påmeldingen er avbestilt.")).to_be_visible()
    expect(page.get_by_role("link", name=JOIN_URL)).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile(r"^Last ned \.ics"))).to_have_count(0)
    page.screenshot(path=shots / f"cancelled{tag}.png", full_page=True)

    assert statuses(app) == ["cancelled"]
    assert deliver(app) == 1
    cancellation = smtp.to(email)[-1]
    assert cancellation["Subject"] == f"Påmeldingen er avbestilt: {MEETING}"
    [cancel] = calendar_parts(cancellation)
    assert cancel.get_param("method") == "CANCEL"
    assert "METHOD:CANCEL" in cancel.get_content() and f"UID:{uid}" in cancel.get_content()


def test_mayor_registers_reads_the_mail_and_cancels(page, app, smtp, live_server, akson, shots):
    mayor_registers_and_cancels(page, app, smtp, live_server, akson, shots, tag="")


def test_the_whole_flow_works_without_javascript(new_page, app, smtp, live_server, akson, shots):
    page = new_page(java_script_enabled=False)
    # The context really runs no page scripts (and renders <noscript>).
    page.goto("data:text/html,<body><script>document.body.dataset.js='on'</script></body>")
    assert page.locator("body").get_attribute("data-js") is None
    mayor_registers_and_cancels(page, app, smtp, live_server, akson, shots, tag="-nojs")


def test_form_errors_show_next_to_each_field_and_nothing_is_stored(
    page, app, live_server, akson, shots
):
    open_meeting(page, akson)
    fill_form(
        page, name="   ", email="kari@", municipality="Oslo (Oslo)", organisation="Oslo kommune"
    )
    assert submit(page) == 422

    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Noe må rettes før du kan sende skjemaet:")
    expect(summary.get_by_role("link")).to_have_count(3)
    for field_id, message in [
        ("name", "Skriv navnet ditt."),
        ("email", "Skriv en gyldig e-postadresse, for eksempel navn@kommune.no."),
        ("role", "Velg rollen din."),
    ]:
        field = page.locator(".field.has-error", has=page.locator(f"#{field_id}"))
        expect(field.locator(".error")).to_have_text(message)
        expect(page.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "true")
        described = (
            f"{field_id}-hint {field_id}-error" if field_id == "email" else f"{field_id}-error"
        )
        expect(page.locator(f"#{field_id}")).to_have_attribute("aria-describedby", described)
        expect(summary.get_by_role("link", name=re.compile(re.escape(message)))).to_have_attribute(
            "href", f"#{field_id}"
        )
    # What was typed or chosen is still there; the correct fields carry no error.
    expect(page.get_by_label("E-postadresse", exact=True)).to_have_value("kari@")
    expect(page.locator("select[name=municipality]")).to_have_value("0301")
    expect(page.get_by_role("combobox", name="Kommune")).to_have_value("Oslo (Oslo)")
    expect(page.get_by_label("Organisasjon (valgfritt)")).to_have_value("Oslo kommune")
    expect(page.locator(".field.has-error")).to_have_count(3)
    page.screenshot(path=shots / "event-errors.png", full_page=True)
    assert stored(app) == (0, 0)

    # Correcting the mistakes on the same page is enough.
    page.get_by_label("Navn", exact=True).fill("Kari Nordmann")
    page.get_by_label("E-postadresse", exact=True).fill("kari@oslo.kommune.no")
    page.get_by_label("Rolle", exact=True).select_option(label="Ordfører")
    assert submit(page) == 303
    expect(
        page.get_by_text("Vi har sendt en bekreftelse til kari@oslo.kommune.no.")
    ).to_be_visible()
    assert stored(app) == (1, 1)


def test_a_past_meeting_keeps_its_page_with_the_date_written_out(page, runner, live_server):
    result = runner.invoke(args=["seed", "akson", "--original-dates"])
    assert result.exit_code == 0, result.output
    page.goto("/")
    past = page.locator("li", has=page.get_by_role("link", name=MEETING))
    expect(past).to_contain_text("tirsdag 5. mai 2020")
    page.get_by_role("link", name=MEETING).click()
    expect(page.locator(".when")).to_contain_text("tirsdag 5. mai 2020 kl. 14:00–15:30")
    # No recording yet: the heading says what there is.
    expect(page.get_by_role("heading", name="Materiell", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Meld meg på")).to_have_count(0)


# --- English ------------------------------------------------------------------------------


def test_the_language_links_switch_language_and_dates(page, live_server, akson):
    open_meeting(page, akson)
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    choice = page.get_by_role("navigation", name="Språk")
    expect(choice.get_by_role("link", name="Bokmål")).to_have_attribute("aria-current", "true")
    choice.get_by_role("link", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".when")).to_contain_text(f"{english_date(akson)} at 14:00–15:30")
    # The choice is remembered for the next page.
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Nynorsk").click()
    expect(page.locator("html")).to_have_attribute("lang", "nn")
    page.get_by_role("link", name=MEETING).click()
    expect(page.locator(".when")).to_contain_text(f"{nynorsk_date(akson)} kl. 14:00–15:30")
    # By keyboard too: the links are plain links, no script needed.
    bokmal = page.get_by_role("navigation", name="Språk").get_by_role("link", name="Bokmål")
    bokmal.focus()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    expect(page.locator(".when")).to_contain_text(f"{norwegian_date(akson)} kl. 14:00–15:30")


def english_catalogue() -> dict[str, str]:
    """msgid -> English text for every finished translation in the English catalogue."""
    po = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        pytest.skip("no English catalogue yet (webinars/translations/en); the lead adds it later")
    if not po.with_suffix(".mo").exists():
        pytest.fail(f"{po} is not compiled; run `make translations`")
    with po.open("rb") as handle:
        catalog = read_po(handle)
    return {
        m.id: m.string
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy and "%(" not in m.id
    }


# Page chrome on the front page and the event page, as msgids (no placeholders).
CHROME = [
    "Webinarer for kommunene",
    "Kommende møter og webinarer",
    "Abonner på kalenderen (alle arrangementer)",
    "Alle arrangementer",
    "Hvem er det for?",
    "Om arrangementet",
    "Påmelding",
    "Legg til i Google Kalender",
    "Meld meg på",
    "Navn",
    "E-postadresse",
    "Rolle",
    "Kommune",
]


def test_english_page_chrome_is_translated(page, live_server, akson):
    english = english_catalogue()
    wanted = {msgid: english[msgid] for msgid in CHROME if msgid in english}
    if not wanted:
        pytest.skip("the English catalogue translates none of the page chrome yet")
    page.goto("/?lang=en")
    text = page.locator("body").inner_text()
    page.get_by_role("link", name=MEETING).click()
    text += page.locator("body").inner_text()
    missing = [f"{msgid!r} -> {en!r}" for msgid, en in wanted.items() if en not in text]
    assert not missing, "English translations not shown: " + "; ".join(missing)
    if "Meld meg på" in wanted:
        expect(page.get_by_role("button", name=wanted["Meld meg på"])).to_be_visible()
