"""Helpers for the browser tests: Chromium, a live HTTP server, reading the mail that arrived.

Kept apart from test_browser.py so the tests read as what a person does and sees.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import date
from email.message import EmailMessage

import pytest
from werkzeug.serving import make_server

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


def english_date(day: date) -> str:
    """'Tuesday 5 May 2020'."""
    return f"{WEEKDAYS_EN[day.weekday()]} {day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def launch_chromium(playwright):
    """Debian's Chromium, headless; missing Chromium fails under CI and skips elsewhere."""
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need it"
        if CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class LiveServer:
    """The Flask app behind werkzeug's threaded HTTP server on a free loopback port."""

    def __init__(self, app):
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


# --- mail ---------------------------------------------------------------------------------


def mails_to(smtp, address: str) -> list[EmailMessage]:
    """Messages the SMTP server accepted for this address, oldest first."""
    return [msg for envelope, msg in smtp.messages if address in envelope.rcpt_tos]


def text_part(message: EmailMessage) -> str:
    """The plain-text body, decoded."""
    return message.get_body(preferencelist=("plain",)).get_content()


def calendar_parts(message: EmailMessage) -> list[EmailMessage]:
    """The inline text/calendar parts (the meeting request a mail client acts on)."""
    return [part for part in message.walk() if part.get_content_type() == "text/calendar"]


def manage_link(message: EmailMessage, base_url: str) -> str:
    """The personal /r/<token> link in the text part of a confirmation."""
    found = re.findall(re.escape(base_url) + r"/r/[A-Za-z0-9_\-]+", text_part(message))
    assert found, f"no manage link to {base_url} in:\n{text_part(message)}"
    return found[0]
