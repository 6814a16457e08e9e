"""The registration form as people use it: a failed submit that lands where the errors are,
messages that go once a field is fixed, and the municipality picker by keyboard.

Headless Chromium against the app on a real HTTP server (tests/browser/conftest.py).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.support import MEETING, fill_form, open_meeting, stored, submit
from webinars.extensions import db
from webinars.models import Registration

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def registered_municipalities(app) -> list[str]:
    """The municipality number of every registration, read afresh from the live app's database."""
    with app.app_context():
        return list(
            db.session.scalars(select(Registration.municipality_number).order_by(Registration.id))
        )


def focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


# --- a failed submit ------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_failed_submit_on_a_phone_lands_on_the_errors_with_focus_there(
    new_page, app, live_server, akson, shots, javascript
):
    page = new_page(viewport=PHONE, java_script_enabled=javascript)
    open_meeting(page, akson)
    expect(page).to_have_title(MEETING)
    # The form is far below the top of the page on a phone: the mayor scrolls down to it.
    fill_form(page, name="Kari Nordmann", email="kari@")
    assert submit(page) == 422

    expect(page).to_have_url(re.compile(r"/events/akson-stormote/register#register$"))
    expect(page).to_have_title(f"Feil: {MEETING}")
    summary = page.locator(".error-summary")
    expect(page.locator("form[action*='/register']")).to_be_in_viewport()
    expect(summary).to_be_in_viewport(ratio=1)  # the whole summary, on a phone
    assert focused_id(page) == "register"
    assert page.evaluate("scrollY") > 500  # not the top of the page, where nothing is wrong
    page.screenshot(path=shots / f"phone-failed-submit-{'js' if javascript else 'nojs'}.png")

    # The summary names each error as a link to its field; the messages stay by the fields.
    expect(summary.get_by_role("link")).to_have_count(3)
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_have_text(
        "Skriv en gyldig e-postadresse, for eksempel navn@kommune.no."
    )
    # Tab goes from the summary to its first link, Enter to that field.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert focused_id(page) == "email"
    assert stored(app) == (0, 0)


def test_a_failed_submit_in_english_says_error_in_the_title(page, live_server, akson):
    page.goto("/events/akson-stormote?lang=en")
    assert submit_in_english(page) == 422
    expect(page).to_have_title(re.compile(r"^Error: "))
    assert focused_id(page) == "register"


def submit_in_english(page) -> int:
    with page.expect_response(lambda r: r.url.endswith("/register")) as posted:
        page.get_by_role("button", name="Register").click()
    page.wait_for_load_state()
    return posted.value.status


def test_a_fixed_field_loses_its_message_and_the_summary_goes_when_all_are_fixed(
    page, app, live_server, akson
):
    open_meeting(page, akson)
    fill_form(page, name="   ", email="kari@")
    assert submit(page) == 422
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("link")).to_have_count(4)  # name, e-mail, role, municipality
    name = page.get_by_label("Navn", exact=True)

    # Spaces are not a name: the message stays.
    name.press_sequentially("  ")
    expect(page.locator("#name-error")).to_be_visible()
    name.fill("Kari Nordmann")
    expect(page.locator("#name-error")).to_have_count(0)
    expect(name).not_to_have_attribute("aria-invalid", "true")
    expect(name).not_to_have_attribute("aria-describedby", re.compile("error"))
    expect(summary.get_by_role("link")).to_have_count(3)
    expect(page).to_have_title(f"Feil: {MEETING}")

    email = page.get_by_label("E-postadresse", exact=True)
    email.fill("kari@oslo")  # valid to the browser (the server asks for more)
    expect(page.locator("#email-error")).to_have_count(0)
    # The hint is still read out with the field; only the message went.
    expect(email).to_have_attribute("aria-describedby", "email-hint")

    page.get_by_label("Rolle", exact=True).select_option(label="Ordfører")
    expect(page.locator("#role-error")).to_have_count(0)
    expect(summary.get_by_role("link")).to_have_count(1)

    box = page.get_by_role("combobox", name="Kommune")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.fill("Oslo")
    page.keyboard.press("Enter")
    expect(page.locator("#municipality-error")).to_have_count(0)
    expect(box).not_to_have_attribute("aria-invalid", "true")
    # Nothing left to fix: the summary and the "Feil:" of the title are gone.
    expect(summary).to_have_count(0)
    expect(page).to_have_title(MEETING)

    email.fill("kari@oslo.kommune.no")
    assert submit(page) == 303
    assert registered_municipalities(app) == ["0301"]


# --- the municipality picker ----------------------------------------------------------------


def test_the_picker_finds_norwegian_sami_and_kven_names_and_numbers_by_keyboard(
    page, app, live_server, create_event, shots
):
    event = create_event(title="Webinar for alle kommuner")  # open to all 356
    page.goto(f"/events/{event.slug}")
    box = page.get_by_role("combobox", name="Kommune")
    select = page.locator("select[name=municipality]")
    expect(select).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    listbox = page.get_by_role("listbox")
    status = page.get_by_role("status")

    for typed, label, number in [
        ("Tana", "Tana – Deatnu (Troms og Finnmark)", "5441"),
        ("Kautokeino", "Kautokeino – Guovdageaidnu (Troms og Finnmark)", "5430"),
        ("Hattfjelldal", "Hattfjelldal – Aarborte (Nordland)", "1826"),
        ("5054", "Indre Fosen (Trøndelag)", "5054"),
        ("guovda", "Kautokeino – Guovdageaidnu (Troms og Finnmark)", "5430"),  # Sami
        ("Omasvuono", "Storfjord – Omasvuotna – Omasvuono (Troms og Finnmark)", "5425"),  # Kven
        ("karasjohka", "Karasjok – Kárášjohka (Troms og Finnmark)", "5437"),  # no diacritics
        ("HERØY", "Herøy (Møre og Romsdal)", "1515"),
        ("Porsáŋgu", "Porsanger – Porsáŋgu – Porsanki (Troms og Finnmark)", "5436"),
        ("bø", "Bø (Nordland)", "1867"),  # before Bodø and Bokn, which "bo" also finds
        ("toten", "Vestre Toten (Innlandet)", None),  # a later word of a name: two
    ]:
        box.fill("")
        box.press_sequentially(typed)
        expect(listbox).to_be_visible()
        expect(box).to_have_attribute("aria-expanded", "true")
        first = listbox.get_by_role("option").first
        expect(first).to_have_text(label)
        expect(first).to_have_attribute("aria-selected", "true")
        expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
        if number is None:
            expect(listbox.get_by_role("option")).to_have_text(
                ["Vestre Toten (Innlandet)", "Østre Toten (Innlandet)"]
            )
            expect(status).to_have_text("2 kommuner passer. Bla med pil opp og ned; Enter velger.")
            continue
        expect(status).to_contain_text("passer")
        box.press("Enter")
        expect(listbox).to_be_hidden()
        expect(box).to_have_value(label)
        expect(select).to_have_value(number)
        assert focused_id(page) == "municipality"

    # Two of a name: the arrow takes the second.
    box.fill("")
    box.press_sequentially("herøy")
    expect(listbox.get_by_role("option")).to_have_text(
        ["Herøy (Møre og Romsdal)", "Herøy (Nordland)"]
    )
    box.press("ArrowDown")
    box.press("Enter")
    expect(select).to_have_value("1818")

    # Each municipality once, with its county once.
    box.fill("")
    box.press("ArrowDown")
    options = listbox.get_by_role("option")
    expect(options).to_have_count(356)
    labels = options.all_inner_texts()
    assert len(set(labels)) == 356
    assert not [label for label in labels if label.count("(") != 1]
    page.screenshot(path=shots / "picker-open.png")

    # Arrows, Home and End move through the list; Escape closes it and keeps the value.
    box.fill("")
    box.press_sequentially("nord")
    expect(options.first).to_have_text("Nord-Aurdal (Innlandet)")
    box.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    box.press("End")
    expect(options.last).to_have_attribute("aria-selected", "true")
    box.press("Home")
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("ArrowUp")  # already at the top: stays there
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value("nord")  # what was typed stays
    expect(select).to_have_value("")  # and names no municipality
    box.press("Escape")
    expect(box).to_have_value("")

    box.press_sequentially("ingensteds")
    expect(listbox).to_be_hidden()
    expect(status).to_have_text("Ingen kommuner passer.")


def test_a_municipality_chosen_by_keyboard_is_the_one_registered(page, app, live_server, akson):
    open_meeting(page, akson)
    page.get_by_label("Navn", exact=True).fill("Áile Somby")
    page.get_by_label("E-postadresse", exact=True).fill("aile@tana.kommune.no")
    page.get_by_label("Rolle", exact=True).select_option(label="Ordfører")
    box = page.get_by_role("combobox", name="Kommune")
    box.press_sequentially("Tana")
    box.press("Enter")  # takes Tana; does not send the form
    expect(box).to_have_value("Tana – Deatnu (Troms og Finnmark)")
    assert stored(app) == (0, 0)
    # Midt-Norge is not in this meeting: its numbers find nothing.
    assert submit(page) == 303
    assert registered_municipalities(app) == ["5441"]


def test_leaving_the_box_takes_the_highlighted_match_and_the_number_is_enough(
    page, app, live_server, akson
):
    open_meeting(page, akson)
    fill_form(page, name="Kari Nordmann", email="kari@bodo.kommune.no", role="Ordfører")
    box = page.get_by_role("combobox", name="Kommune")
    box.press_sequentially("5054")  # Indre Fosen, Trøndelag: not in this meeting
    expect(page.get_by_role("status")).to_have_text("Ingen kommuner passer.")
    box.fill("")
    box.press_sequentially("1804")
    expect(page.get_by_role("listbox").get_by_role("option")).to_have_text(["Bodø (Nordland)"])
    box.press("Tab")
    expect(box).to_have_value("Bodø (Nordland)")
    assert submit(page) == 303
    assert registered_municipalities(app) == ["1804"]


def test_without_javascript_the_plain_select_finds_norwegian_names_by_typing(
    new_page, app, live_server, akson
):
    page = new_page(java_script_enabled=False)
    open_meeting(page, akson)
    select = page.get_by_label("Kommune", exact=True)
    expect(select).to_be_visible()
    expect(page.locator("input[role=combobox]")).to_have_count(0)  # no picker: the select
    # Typing on the closed select picks by the first letters of the label.
    for typed, number in [("Tana", "5441"), ("Kautokeino", "5430"), ("Hattfjelldal", "1826")]:
        select.focus()
        page.wait_for_timeout(1100)  # a pause ends the select's type-ahead
        page.keyboard.type(typed)
        expect(select).to_have_value(number)
    expect(select.locator("option:checked")).to_have_text("Hattfjelldal – Aarborte (Nordland)")
    expect(select.locator("option", has_text="Herøy")).to_have_text(["Herøy (Nordland)"])

    page.get_by_label("Navn", exact=True).fill("Kari Nordmann")
    page.get_by_label("E-postadresse", exact=True).fill("kari@hattfjelldal.kommune.no")
    page.get_by_label("Rolle", exact=True).select_option(label="Ordfører")
    assert submit(page) == 303
    assert registered_municipalities(app) == ["1826"]
