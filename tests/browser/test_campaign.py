"""The campaign in Chromium: load contacts, invite, a mayor registers from the invitation,
a declaration is recorded, and the campaign page shows it, map and all, without JavaScript
and without breaking the Content-Security-Policy; keyboard and screen-reader basics hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import PolicyWatch, log_in, submit
from tests.support import deliver, text_part

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parent.parent / "data"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def test_from_contacts_to_a_signed_declaration_on_the_map(
    new_page, app, smtp, live_server, akson, organiser, shots, tmp_path
):
    desk = new_page()
    watch = PolicyWatch(desk)
    desk.goto("/organiser/contacts")
    log_in(desk)
    desk.goto("/organiser/contacts")

    # Contacts from the sample file.
    desk.get_by_label("Fil (CSV)").set_input_files(str(DATA / "contacts-example.csv"))
    desk.get_by_role("button", name="Les inn").click()
    expect(
        desk.get_by_text("Kontaktene er lest inn: 5 nye, 0 oppdatert, 0 uendret.")
    ).to_be_visible()

    # Invite the contacts in Oslo only: the page counts before anything is sent.
    desk.goto("/organiser/events/akson-stormote/invitations")
    desk.get_by_label("Fylke").select_option(label="Oslo")
    desk.get_by_role("button", name="Tell opp").click()
    expect(desk.get_by_role("status")).to_contain_text("Dette sender 1 invitasjoner")
    desk.get_by_role("button", name="Send 1 e-post").click()
    expect(desk.get_by_text("1 invitasjoner og 0 påminnelser er lagt i utboksen")).to_be_visible()
    assert deliver(app) == 1
    [invitation] = smtp.to("raymond@oslo.kommune.example")
    assert invitation["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The mayor opens the link: the form is filled in, registering is one click.
    mayor = new_page()
    link = re.search(re.escape(live_server.url) + r"/i/\S+", text_part(invitation)).group(0)
    mayor.goto(link)
    expect(mayor.get_by_label("Navn")).to_have_value("Raymond Johansen")
    expect(mayor.get_by_label("E-postadresse")).to_have_value("raymond@oslo.kommune.example")
    expect(mayor.get_by_role("combobox", name="Kommune")).to_have_value("Oslo (Oslo)")
    expect(mayor.locator("select[name=municipality]")).to_have_value("0301")
    assert submit(mayor) == 303
    expect(mayor.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")

    # Bergen's declaration arrives by post; the organiser records it with the scan.
    scan = tmp_path / "bergen.pdf"
    scan.write_bytes(PDF)
    desk.goto("/organiser/programmes/akson/declarations")
    desk.get_by_label("Kommune", exact=True).select_option("4601")
    desk.get_by_label("Mottatt (dato)").fill("2020-06-12")
    desk.get_by_label("Signert av (navn)").fill("Marte Mjøs Persen")
    desk.get_by_label("Den signerte erklæringen").set_input_files(str(scan))
    desk.get_by_role("button", name="Registrer", exact=True).click()
    expect(desk.get_by_text("Erklæringen fra Bergen er registrert.")).to_be_visible()

    # The campaign page.
    desk.goto("/organiser/programmes/akson")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Kampanjen: Akson")
    expect(desk.locator(".headline").first).to_contain_text(
        "283\u00a0929 av 4\u00a0633\u00a0640 innbyggere bor i kommuner som har signert (6,1\u00a0%)"
    )
    expect(desk.get_by_text("Mål: 2\u00a0316\u00a0821")).to_be_visible()
    shapes = desk.locator("svg.map path[data-municipality]")
    expect(shapes).to_have_count(356)
    bergen = desk.locator('svg.map path[data-municipality="4601"]')
    assert bergen.get_attribute("fill") == "#253494"
    expect(bergen.locator("title")).to_have_text(
        re.compile(r"^Bergen: [\d\u00a0]+ innbyggere – Signert$")
    )
    oslo = desk.locator('svg.map path[data-municipality="0301"] title')
    expect(oslo).to_have_text(re.compile(r"– Påmeldt$"))
    expect(desk.locator("svg.map .legend")).to_contain_text("Signert (1)")
    expect(desk.locator("svg.map")).to_contain_text("© Kartverket")
    # Screen readers: the map is one image with a name, and the same facts are a table.
    expect(
        desk.get_by_role("img", name="Kart over kommunene etter hvor langt de er kommet")
    ).to_be_visible()
    table = desk.get_by_role("table", name="Kommunene på kartet, med innbyggertall og trinn")
    expect(table.locator("tbody tr")).to_have_count(356)
    expect(table.locator("tr", has_text="Bergen")).to_contain_text("Signert")
    # Whom to call: Oslo is the largest that has not signed.
    calls = desk.locator("table.calls tbody tr")
    expect(calls.first).to_contain_text("Oslo")
    expect(calls.first).to_contain_text("Raymond Johansen")
    assert watch.seen() == []
    desk.screenshot(path=shots / "campaign.png", full_page=True)

    # The map alone.
    assert desk.goto("/organiser/programmes/akson/map.svg").status == 200
    expect(desk.locator("path[data-municipality]")).to_have_count(356)
    assert watch.seen() == []
    desk.screenshot(path=shots / "campaign-map.png")

    # Without JavaScript the page is the same: everything is drawn on the server.
    plain = new_page(java_script_enabled=False)
    plain.goto("/organiser/programmes/akson")
    log_in(plain)
    plain.goto("/organiser/programmes/akson")
    expect(plain.locator("svg.map path[data-municipality]")).to_have_count(356)
    expect(plain.locator("svg.chart")).to_have_count(2)
    expect(plain.locator("table.calls tbody tr").first).to_contain_text("Oslo")


def test_the_campaign_page_can_be_used_with_the_keyboard(new_page, akson, organiser):
    page = new_page()
    page.goto("/organiser/programmes/akson")
    log_in(page)
    page.goto("/organiser/programmes/akson")

    # No map shape takes the focus (356 tab stops would trap a keyboard user): the first tab
    # stops are the site's links, and the call list's downloads come soon after.
    reached = []
    for _ in range(30):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => document.activeElement.textContent.trim()"))
        assert page.evaluate("() => document.activeElement.closest('svg') === null")
    assert "Intensjonserklæringer" in reached and "Kartet alene (SVG)" in reached
    assert "CSV (komma)" in reached
    # One h1, and a heading for every section, in order.
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert headings == [
        "Målet",
        "Fra invitasjon til signatur",
        "Kartet",
        "Over tid",
        "Hvem ringer vi nå?",
        "Fylkene",
    ]
