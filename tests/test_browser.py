"""What people see in a real browser: headless Chromium against the app on a real HTTP server.

The app runs under werkzeug's threaded server on a free loopback port, on a SQLite copy of the
session's migrated template, and sends mail to the real aiosmtpd server of the `smtp` fixture.
One Chromium per module and a fresh browser context (cookies, cache) per test.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from browser_support import (
    LiveServer,
    calendar_parts,
    english_date,
    launch_chromium,
    mails_to,
    manage_link,
    norwegian_date,
    text_part,
)
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import func, select

from webinars import mail
from webinars.extensions import db
from webinars.models import OutboxMessage, Registration

pytestmark = pytest.mark.browser

OSLO = ZoneInfo("Europe/Oslo")
MEETING = "Nasjonalt digitalt stormøte om Akson"
JOIN_URL = "https://meet.example.org/akson-stormote"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "webinars" / "translations"


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def db_url(sqlite_template, tmp_path):
    """SQLite only: overrides conftest's parametrised fixture so browser tests run once."""
    path = tmp_path / "browser.sqlite"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(smtp):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_DELIVERY_THREAD": False}


@pytest.fixture
def live_server(app):
    """The app on a real HTTP server; links in mail and invites point at it."""
    server = LiveServer(app)
    app.config["PUBLIC_URL"] = server.url
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module.

    Module-scoped rather than session-scoped on purpose: while Playwright's sync API is
    running it marks an asyncio loop as running on the main thread, so any later test file
    calling asyncio.run() would fail. Closing it after this module keeps other files clean.
    """
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a fresh context (own cookies); options go to new_context()."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(
            base_url=live_server.url, locale="nb-NO", timezone_id="Europe/Oslo", **options
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where screenshots go: $BROWSER_SCREENSHOTS, or a temporary directory."""
    if os.environ.get("BROWSER_SCREENSHOTS"):
        path = Path(os.environ["BROWSER_SCREENSHOTS"])
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def akson(runner):
    """`flask seed akson`: the meeting 14 days from today (Oslo), deadline the day before."""
    result = runner.invoke(args=["seed", "akson"])
    assert result.exit_code == 0, result.output
    return datetime.now(OSLO).date() + timedelta(days=14)


def stored() -> tuple[int, int]:
    """(registrations, outgoing messages) in the live app's database, read afresh."""
    db.session.rollback()
    registrations = db.session.scalar(select(func.count()).select_from(Registration))
    messages = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    # End the read transaction: an open SQLite snapshot would hide the server's later writes.
    db.session.rollback()
    return registrations, messages


def statuses() -> list[str]:
    """The status of every registration, read afresh."""
    db.session.rollback()
    found = list(db.session.scalars(select(Registration.status).order_by(Registration.id)))
    db.session.rollback()
    return found


# --- the public flow ----------------------------------------------------------------------


def open_meeting(page, meeting_day, shots=None, tag=""):
    """From the front page to the meeting, checking what the mayor reads on the way."""
    when = f"{norwegian_date(meeting_day)} kl. 14:00–15:30"
    page.goto("/")
    expect(page.get_by_role("heading", name="Kommende møter og webinarer")).to_be_visible()
    card = page.locator("li.card", has=page.get_by_role("link", name=MEETING))
    expect(card).to_contain_text(when)
    if shots:
        page.screenshot(path=shots / f"index{tag}.png", full_page=True)
    page.get_by_role("link", name=MEETING).click()

    expect(page).to_have_url(re.compile(r"/events/akson-stormote$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(MEETING)
    expect(page.locator(".when")).to_contain_text(when)
    deadline = f"Påmeldingsfrist: {norwegian_date(meeting_day - timedelta(days=1))} kl. 23:59"
    expect(page.get_by_text(deadline)).to_be_visible()
    expect(page.get_by_role("heading", name="Hvem er det for?")).to_be_visible()
    expect(page.get_by_text("Ordførere, kommunedirektører")).to_be_visible()
    expect(page.get_by_text("utenfor helseregion Midt-Norge.").first).to_be_visible()


def fill_form(page, *, name="", email="", role=None, municipality=None, organisation=""):
    page.get_by_label("Navn", exact=True).fill(name)
    page.get_by_label("E-postadresse", exact=True).fill(email)
    if role:
        page.get_by_label("Rolle", exact=True).select_option(label=role)
    if municipality:
        page.get_by_label("Kommune", exact=True).select_option(label=municipality)
    page.get_by_label("Organisasjon (valgfritt)").fill(organisation)


def submit(page) -> int:
    """Press "Meld meg på"; return the status of the POST (303 on success, 422 on errors)."""
    with page.expect_response(lambda r: r.url.endswith("/register")) as posted:
        page.get_by_role("button", name="Meld meg på").click()
    page.wait_for_load_state()
    return posted.value.status


def mayor_registers_and_cancels(page, app, smtp, live_server, meeting_day, shots, tag):
    """Scenario 1: register, read the mail, open the personal page, download, cancel."""
    email = "kari.nordmann@oslo.kommune.no"
    open_meeting(page, meeting_day, shots, tag)

    offered = page.locator("#municipality option").evaluate_all(
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

    expect(page).to_have_url(re.compile(r"/events/akson-stormote/registered$"))
    expect(page.get_by_role("heading", name="Takk for påmeldingen")).to_be_visible()
    expect(page.get_by_text(f"Vi har sendt en bekreftelse til {email}.")).to_be_visible()
    html = page.content()
    assert JOIN_URL not in html and "meet.example.org" not in html
    assert "/r/" not in html
    page.screenshot(path=shots / f"registered{tag}.png", full_page=True)
    assert stored() == (1, 1)

    # The confirmation travels through the outbox to the real SMTP server.
    assert mail.deliver_due() == 1
    [confirmation] = mails_to(smtp, email)
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

    invite = page.get_by_role("link", name="Last ned kalenderinvitasjon")
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
    assert statuses() == ["confirmed"]
    page.get_by_role("button", name="Ja, avbestill").click()

    expect(page.get_by_role("heading", name="Din påmelding")).to_be_visible()
    expect(page.locator(".status")).to_have_text("Avbestilt")
    expect(page.get_by_text("Påmeldingen er avbestilt.")).to_be_visible()
    expect(page.get_by_role("link", name=JOIN_URL)).to_have_count(0)
    expect(page.get_by_role("link", name="Last ned kalenderinvitasjon")).to_have_count(0)
    page.screenshot(path=shots / f"cancelled{tag}.png", full_page=True)

    assert statuses() == ["cancelled"]
    assert mail.deliver_due() == 1
    cancellation = mails_to(smtp, email)[-1]
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


def test_form_errors_show_next_to_each_field_and_nothing_is_stored(page, live_server, akson, shots):
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
        expect(page.locator(f"#{field_id}")).to_have_attribute(
            "aria-describedby", f"{field_id}-error"
        )
        expect(summary.get_by_role("link", name=re.compile(re.escape(message)))).to_have_attribute(
            "href", f"#{field_id}"
        )
    # What was typed or chosen is still there; the correct fields carry no error.
    expect(page.get_by_label("E-postadresse", exact=True)).to_have_value("kari@")
    expect(page.get_by_label("Kommune", exact=True)).to_have_value("0301")
    expect(page.get_by_label("Organisasjon (valgfritt)")).to_have_value("Oslo kommune")
    expect(page.locator(".field.has-error")).to_have_count(3)
    page.screenshot(path=shots / "event-errors.png", full_page=True)
    assert stored() == (0, 0)

    # Correcting the mistakes on the same page is enough.
    page.get_by_label("Navn", exact=True).fill("Kari Nordmann")
    page.get_by_label("E-postadresse", exact=True).fill("kari@oslo.kommune.no")
    page.get_by_label("Rolle", exact=True).select_option(label="Ordfører")
    assert submit(page) == 303
    expect(
        page.get_by_text("Vi har sendt en bekreftelse til kari@oslo.kommune.no.")
    ).to_be_visible()
    assert stored() == (1, 1)


def test_a_past_meeting_keeps_its_page_with_the_date_written_out(page, runner, live_server):
    result = runner.invoke(args=["seed", "akson", "--original-dates"])
    assert result.exit_code == 0, result.output
    page.goto("/")
    past = page.locator("li", has=page.get_by_role("link", name=MEETING))
    expect(past).to_contain_text("tirsdag 5. mai 2020")
    page.get_by_role("link", name=MEETING).click()
    expect(page.locator(".when")).to_contain_text("tirsdag 5. mai 2020 kl. 14:00–15:30")
    expect(page.get_by_role("heading", name="Opptak og materiell")).to_be_visible()
    expect(page.get_by_role("button", name="Meld meg på")).to_have_count(0)


# --- English ------------------------------------------------------------------------------


def test_english_link_switches_language_and_dates(page, live_server, akson):
    open_meeting(page, akson)
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    page.get_by_role("link", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".when")).to_contain_text(f"{english_date(akson)} at 14:00–15:30")
    # The choice is remembered for the next page.
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="Norsk").click()
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    expect(page.get_by_text(f"{norwegian_date(akson)} kl. 14:00–15:30")).to_be_visible()


def english_catalogue() -> dict[str, str]:
    """msgid -> English text for every finished translation in the English catalogue."""
    po = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        pytest.skip("no English catalogue yet (webinars/translations/en); the lead adds it later")
    if not po.with_suffix(".mo").exists():
        pytest.fail(f"{po} is not compiled; run `make translations`")
    from babel.messages.pofile import read_po

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
    "Legg til i kalender (.ics)",
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


# --- organisers (issue 3) -----------------------------------------------------------------

ORGANISER = "arrangor@ks.no"
PASSWORD = "riktig-hest-batteri-stift"


@pytest.fixture
def organiser(runner):
    """An organiser account, made as operators do: `flask organiser create --password-stdin`."""
    result = runner.invoke(
        args=["organiser", "create", ORGANISER, "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    return ORGANISER


def largest_unreached(region: str, reached: set[str]) -> str:
    """Read from the shipped register itself: the most populous municipality not reached."""
    register = Path(__file__).resolve().parent.parent / "webinars" / "data" / "kommuner-2020.csv"
    with register.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["health_region"] == region]
    rows = [r for r in rows if r["number"] not in reached]
    biggest = max(rows, key=lambda r: int(r["population_2020"]))
    return f"{biggest['name']} ({biggest['number']})"


def log_in(page, email=ORGANISER, password=PASSWORD):
    expect(page.get_by_role("heading", name="Logg inn som arrangør")).to_be_visible()
    page.get_by_label("E-postadresse", exact=True).fill(email)
    page.get_by_label("Passord", exact=True).fill(password)
    page.get_by_role("button", name="Logg inn").click()


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
    offered = mayor.locator("#municipality option").evaluate_all("os => os.map(o => o.value)")
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
    assert mail.deliver_due() == 1
    [confirmation] = mails_to(smtp, "ola@oslo.kommune.no")
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
    assert download.value.suggested_filename == "journal-webinar-deltakere.csv"
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
    assert workbook.value.suggested_filename == "journal-webinar-deltakere.xlsx"
    assert Path(workbook.value.path()).read_bytes()[:2] == b"PK"  # a zip, as .xlsx files are

    # Oslo now counts as reached; the largest municipality not yet reached heads the list.
    organiser_page.goto("/organiser/events/journal-webinar")
    organiser_page.get_by_role("link", name="Kommunedekning").click()
    expect(organiser_page.locator(".headline")).to_contain_text("1 av 146 kommuner er nådd.")
    expect(organiser_page.get_by_text("145 kommuner, største først.")).to_be_visible()
    missing = organiser_page.locator("table.missing tbody tr")
    expect(missing).to_have_count(145)
    expect(missing.first).to_contain_text(largest_unreached("Sør-Øst", reached={"0301"}))
    expect(organiser_page.locator("table.missing", has_text="(0301)")).to_have_count(0)
    organiser_page.screenshot(path=shots / "organiser-coverage.png")

    # Logging out closes the organiser pages again.
    organiser_page.get_by_role("button", name="Logg ut").click()
    expect(organiser_page.get_by_text("Du er logget ut.")).to_be_visible()
    organiser_page.goto("/organiser/events/journal-webinar/participants")
    expect(organiser_page).to_have_url(re.compile(r"/organiser/login\?next="))
    assert organiser_page.request.get(csv_url, max_redirects=0).status == 302


def test_organiser_publishes_a_recording_and_registrants_hear_once(
    page, app, smtp, live_server, organiser, create_event, shots
):
    from webinars import services
    from webinars.models import utcnow

    start = (utcnow() - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event = create_event(
        slug="webinar-1", title="Webinar 1: Støttemateriellet", starts_at=start,
        ends_at=start + timedelta(hours=1),
    )  # fmt: skip
    services.register(
        event, name="Kari Nordmann", email="kari@oslo.kommune.no", role="ordforer",
        municipality="0301", now=start - timedelta(days=3),
    )  # fmt: skip
    assert mail.deliver_due() == 1  # the confirmation
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

    assert mail.deliver_due() == 1
    told = mails_to(smtp, "kari@oslo.kommune.no")[-1]
    assert recording in text_part(told)

    # Saving again sends nothing: each registrant is told once.
    page.get_by_role("button", name="Lagre").click()
    expect(page.get_by_text("Opptak og materiell er lagret.")).to_be_visible()
    expect(page.get_by_text("E-post om opptaket er lagt i utboksen")).to_have_count(0)
    assert mail.deliver_due() == 0
    assert len(mails_to(smtp, "kari@oslo.kommune.no")) == 2

    # The public page of the past webinar shows the recording and the material.
    page.goto("/events/webinar-1")
    expect(page.get_by_role("link", name="Se opptaket")).to_have_attribute("href", recording)
    expect(page.get_by_role("link", name="Presentasjonen (PDF)")).to_have_attribute(
        "href", "https://www.ks.no/akson/presentasjon.pdf"
    )
