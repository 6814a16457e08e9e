"""What organisers do in a real browser: log in, create and publish an event, follow it up.

Headless Chromium against the app on a real HTTP server (tests/browser/conftest.py). The
mayor's side of each scenario runs in a second browser context, as another person would.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import OSLO, fill_form, log_in, norwegian_date, submit
from tests.support import deliver, text_part
from webinars.models import utcnow

pytestmark = pytest.mark.browser


def test_organiser_creates_publishes_and_exports_participants(
    new_page, app, smtp, live_server, organiser, shots
):
    day = datetime.now(OSLO).date() + timedelta(days=21)
    title = "Webinar om felles kommunal journal"
    organiser_page = new_page()

    # Anonymous visitors are sent to the login page and come back to where they were going.
    organiser_page.goto("/organiser/events")
    expect(organiser_page).to_have_url(re.compile(r"/organiser/login\?next="))
    log_in(organiser_page, password="feil-passord-helt")
    expect(organiser_page.locator("#password-error")).to_contain_text(
        "Feil e-postadresse eller passord."
    )
    log_in(organiser_page)
    expect(organiser_page).to_have_url(re.compile(r"/organiser/events$"))
    expect(organiser_page.get_by_role("heading", name="Arrangementer", exact=True)).to_be_visible()

    organiser_page.get_by_role("link", name="Nytt arrangement").click()
    form = organiser_page
    form.get_by_label("Tittel", exact=True).fill(title)
    form.get_by_label("Adresse (slug)").fill("journal-webinar")
    form.get_by_label("Type", exact=True).select_option(label="Webinar")
    form.get_by_label("Hvem er det for?").fill("Kommunedirektører og kommunalsjefer for helse.")
    form.get_by_label("Beskrivelse", exact=True).fill("Vi går gjennom journalløsningen.")
    form.get_by_label("Sted", exact=True).fill("Digitalt")
    form.get_by_label("Startdato").fill(day.isoformat())
    form.get_by_label("Starttid").fill("10:00")
    form.get_by_label("Sluttid").fill("09:00")  # a slip: before the start
    form.get_by_label("Sør-Øst").check()
    form.get_by_label("Lenke til møtet (privat)").fill("https://meet.example.org/journal")
    form.get_by_label("Arrangør", exact=True).fill("KS")
    form.get_by_label("Arrangørens e-postadresse").fill("akson@ks.no")
    with form.expect_response(lambda r: r.url.endswith("/organiser/events/new")) as saved:
        form.get_by_role("button", name="Lagre utkast").click()
    assert saved.value.status == 422
    expect(form.locator(".field.has-error", has=form.locator("#end_time"))).to_contain_text(
        "Slutten må være etter starten."
    )
    expect(form.get_by_label("Tittel", exact=True)).to_have_value(title)
    form.get_by_label("Sluttid").fill("11:30")
    form.get_by_role("button", name="Lagre utkast").click()

    expect(organiser_page).to_have_url(re.compile(r"/organiser/events/journal-webinar$"))
    expect(organiser_page.get_by_text("Arrangementet er lagret som utkast.")).to_be_visible()
    expect(organiser_page.locator(".status").first).to_have_text("Utkast")
    when = f"{norwegian_date(day)} kl. 10:00–11:30"
    expect(organiser_page.get_by_text(when)).to_be_visible()

    # A draft is not public yet.
    mayor = new_page()
    mayor.goto("/")
    expect(mayor.get_by_role("link", name=title)).to_have_count(0)
    assert mayor.goto("/events/journal-webinar").status == 404

    organiser_page.get_by_role("button", name="Publiser").click()
    expect(organiser_page.get_by_text("Arrangementet er publisert.")).to_be_visible()
    expect(organiser_page.locator(".status").first).to_have_text("Publisert")
    organiser_page.screenshot(path=shots / "organiser-event.png", full_page=True)

    # The mayor finds it on the front page and registers.
    mayor.goto("/")
    mayor.get_by_role("link", name=title).click()
    expect(mayor.locator(".when")).to_contain_text(when)
    offered = mayor.locator("select[name=municipality] option").evaluate_all(
        "os => os.map(o => o.value)"
    )
    assert "0301" in offered and "4601" not in offered  # Oslo is Sør-Øst, Bergen is Vest
    fill_form(
        mayor,
        name="Ola Ordfører",
        email="ola@oslo.kommune.no",
        role="Ordfører",
        municipality="Oslo (Oslo)",
        organisation="Oslo kommune",
    )
    assert submit(mayor) == 303
    expect(
        mayor.get_by_text("Vi har sendt en bekreftelse til ola@oslo.kommune.no.")
    ).to_be_visible()
    assert deliver(app) == 1
    [confirmation] = smtp.to("ola@oslo.kommune.no")
    assert "https://meet.example.org/journal" in text_part(confirmation)

    # The organiser sees her in the participant list ...
    organiser_page.get_by_role("link", name="Deltakere og eksport").click()
    row = organiser_page.locator("tbody tr", has_text="ola@oslo.kommune.no")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Ola Ordfører")
    expect(row).to_contain_text("Ordfører")
    expect(row).to_contain_text("Oslo (0301), Oslo")
    expect(row.locator(".status")).to_have_text("Påmeldt")
    organiser_page.screenshot(path=shots / "organiser-participants.png", full_page=True)

    # ... and downloads the list for Excel.
    link = organiser_page.get_by_role("link", name="CSV (komma)")
    csv_url = link.get_attribute("href")
    with organiser_page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"deltakere-journal-webinar-{day.isoformat()}.csv"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:3] == ["Navn", "E-post", "Rolle"]
    assert len(lines) == 2
    assert lines[1].startswith("Ola Ordfører,ola@oslo.kommune.no,Ordfører,0301,Oslo,Oslo,")
    fetched = organiser_page.request.get(csv_url)
    assert fetched.headers["content-type"].startswith("text/csv")
    with organiser_page.expect_download() as workbook:
        organiser_page.get_by_role("link", name="Excel (.xlsx)").click()
    assert workbook.value.suggested_filename == f"deltakere-journal-webinar-{day.isoformat()}.xlsx"
    assert Path(workbook.value.path()).read_bytes()[:2] == b"PK"  # a zip, as .xlsx files are

    # Logging out closes the organiser pages again.
    organiser_page.get_by_role("button", name="Logg ut").click()
    expect(organiser_page.get_by_text("Du er logget ut.")).to_be_visible()
    organiser_page.goto("/organiser/events/journal-webinar/participants")
    expect(organiser_page).to_have_url(re.compile(r"/organiser/login\?next="))
    assert organiser_page.request.get(csv_url, max_redirects=0).status == 302


def test_organiser_publishes_a_recording_and_registrants_hear_once(
    page, app, smtp, live_server, organiser, create_event, create_registration, shots
):
    start = (utcnow() - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event = create_event(
        slug="webinar-1", title="Webinar 1: Støttemateriellet", starts_at=start,
        ends_at=start + timedelta(hours=1),
    )  # fmt: skip
    create_registration(
        event, name="Kari Nordmann", email="kari@oslo.kommune.no", role="ordforer",
        municipality="0301", now=start - timedelta(days=3),
    )  # fmt: skip
    assert deliver(app) == 1  # the confirmation
    recording = "https://www.youtube.com/watch?v=akson-1"

    page.goto("/organiser/events/webinar-1")
    log_in(page)
    page.get_by_role("link", name="Opptak og materiell").click()
    page.get_by_label("Lenke til opptaket").fill(recording)
    first = page.locator("fieldset", has_text="Materiell 1")
    first.get_by_label("Tittel").fill("Presentasjonen (PDF)")
    first.get_by_label("Lenke").fill("https://www.ks.no/akson/presentasjon.pdf")
    page.get_by_role("button", name="Lagre").click()
    expect(page.get_by_text("Opptak og materiell er lagret.")).to_be_visible()
    expect(
        page.get_by_text("E-post om opptaket er lagt i utboksen til 1 påmeldte.")
    ).to_be_visible()
    page.screenshot(path=shots / "organiser-recording.png", full_page=True)

    assert deliver(app) == 1
    told = smtp.to("kari@oslo.kommune.no")[-1]
    assert recording in text_part(told)

    # Saving again sends nothing: each registrant is told once.
    page.get_by_role("button", name="Lagre").click()
    expect(page.get_by_text("Opptak og materiell er lagret.")).to_be_visible()
    expect(page.get_by_text("E-post om opptaket er lagt i utboksen")).to_have_count(0)
    assert deliver(app) == 0
    assert len(smtp.to("kari@oslo.kommune.no")) == 2

    # The public page of the past webinar shows the recording and the material.
    page.goto("/events/webinar-1")
    expect(page.get_by_role("link", name="Se opptaket")).to_have_attribute("href", recording)
    expect(page.get_by_role("link", name="Presentasjonen (PDF)")).to_have_attribute(
        "href", "https://www.ks.no/akson/presentasjon.pdf"
    )
