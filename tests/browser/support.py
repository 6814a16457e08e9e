"""Helpers for the browser tests: Chromium, a live HTTP server, what a person does on a page.

Kept apart from the test modules so the tests read as what a person does and sees. Mail is
read with tests/support.py (`Inbox.to`, `text_part`, `calendar_parts`, `manage_link`).
"""

from __future__ import annotations

import os
import re
import threading
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from werkzeug.serving import make_server

from webinars.extensions import db
from webinars.models import OutboxMessage, Registration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

OSLO = ZoneInfo("Europe/Oslo")
MEETING = "Nasjonalt digitalt stormøte om Akson"
JOIN_URL = "https://meet.example.org/akson-stormote"
#: The organiser account the `organiser` fixture makes through the CLI.
ORGANISER = "arrangor@ks.no"
ORGANISER_PASSWORD = "riktig-hest-batteri-stift"

# Written out by hand rather than through Babel, so a wrong locale in the app shows up here.
WEEKDAYS_NB = ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
MONTHS_NB = [
    "januar", "februar", "mars", "april", "mai", "juni",
    "juli", "august", "september", "oktober", "november", "desember",
]  # fmt: skip
WEEKDAYS_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS_EN = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


def norwegian_date(day: date) -> str:
    """'tirsdag 5. mai 2020'."""
    return f"{WEEKDAYS_NB[day.weekday()]} {day.day}. {MONTHS_NB[day.month - 1]} {day.year}"


WEEKDAYS_NN = ["måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag", "søndag"]


def nynorsk_date(day: date) -> str:
    """'tysdag 5. mai 2020' (the months are written as in bokmål)."""
    return f"{WEEKDAYS_NN[day.weekday()]} {day.day}. {MONTHS_NB[day.month - 1]} {day.year}"


def english_date(day: date) -> str:
    """'Tuesday 5 May 2020'."""
    return f"{WEEKDAYS_EN[day.weekday()]} {day.day} {MONTHS_EN[day.month - 1]} {day.year}"


# --- Chromium and the live server -----------------------------------------------------------


def launch_chromium(playwright):
    """Debian's Chromium, headless; missing Chromium fails under CI and skips elsewhere."""
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need it"
        if CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class LiveServer:
    """The Flask app behind werkzeug's threaded HTTP server on a free loopback port.

    Each request gets its own app context and database session in the server's threads,
    as in production: the `app` fixture pushes no context of its own.
    """

    def __init__(self, app: Flask):
        # Port 0: the OS picks a free port while binding, so there is no race for it.
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="live-server", daemon=True
        )

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# --- the live app's database ----------------------------------------------------------------


def stored(app: Flask) -> tuple[int, int]:
    """(registrations, outgoing messages) in the live app's database, read afresh."""
    with app.app_context():
        registrations = db.session.scalar(select(func.count()).select_from(Registration))
        messages = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    return registrations, messages


def statuses(app: Flask) -> list[str]:
    """The status of every registration, read afresh."""
    with app.app_context():
        return list(db.session.scalars(select(Registration.status).order_by(Registration.id)))


# --- what a mayor does ----------------------------------------------------------------------


def open_meeting(page: Page, meeting_day: date, shots=None, tag: str = "") -> None:
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


def fill_form(page: Page, *, name="", email="", role=None, municipality=None, organisation=""):
    """Fill in the registration form as a person does, field by field."""
    page.get_by_label("Navn", exact=True).fill(name)
    page.get_by_label("E-postadresse", exact=True).fill(email)
    if role:
        page.get_by_label("Rolle", exact=True).select_option(label=role)
    if municipality:
        choose_municipality(page, municipality)
    page.get_by_label("Organisasjon (valgfritt)").fill(organisation)


def choose_municipality(page: Page, label: str) -> None:
    """Choose a municipality by its label: in the plain select, or by typing in the picker."""
    if page.locator("select[name=municipality]").is_visible():
        page.get_by_label("Kommune", exact=True).select_option(label=label)
        return
    box = page.get_by_role("combobox", name="Kommune", exact=True)
    box.fill(re.split(r" – | \(", label)[0])
    page.get_by_role("option", name=label, exact=True).click()
    expect(box).to_have_value(label)


def submit(page: Page) -> int:
    """Press "Meld meg på"; return the status of the POST (303 on success, 422 on errors)."""
    with page.expect_response(lambda r: r.url.endswith("/register")) as posted:
        page.get_by_role("button", name="Meld meg på").click()
    page.wait_for_load_state()
    return posted.value.status


# --- what an organiser does -----------------------------------------------------------------


def log_in(page: Page, email: str = ORGANISER, password: str = ORGANISER_PASSWORD) -> None:
    """Fill in and send the organiser login form shown on the page."""
    expect(page.get_by_role("heading", name="Logg inn som arrangør")).to_be_visible()
    page.get_by_label("E-postadresse", exact=True).fill(email)
    page.get_by_label("Passord", exact=True).fill(password)
    page.get_by_role("button", name="Logg inn").click()


# --- what the browser reports ---------------------------------------------------------------

#: Runs in every document before the page's own content: reports each violation it sees.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolation({
  url: document.URL, directive: e.violatedDirective, blocked: e.blockedURI,
  sample: e.sample, line: e.lineNumber,
}));
"""


class PolicyWatch:
    """Every Content-Security-Policy violation Chromium reports on a page, as event or console.

    Playwright injects the listener through the DevTools protocol, so the page's own CSP
    does not block it.
    """

    def __init__(self, page: Page):
        self.page = page
        self.violations: list[dict] = []
        page.expose_binding("__cspViolation", lambda _source, found: self.violations.append(found))
        page.add_init_script(_REPORT_VIOLATIONS)
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append({"url": self.page.url, "console": message.text})

    def seen(self) -> list[dict]:
        """The violations so far, once the page's pending events have been delivered."""
        self.page.wait_for_load_state("load")
        self.page.evaluate("() => new Promise((done) => setTimeout(done, 50))")
        return list(self.violations)


def computed_style(page: Page, selector: str, prop: str) -> str | None:
    """The value the browser computed for `prop` on the first `selector` (None: no such element)."""
    return page.evaluate(
        """([selector, prop]) => {
            const element = document.querySelector(selector);
            return element && getComputedStyle(element).getPropertyValue(prop);
        }""",
        [selector, prop],
    )
