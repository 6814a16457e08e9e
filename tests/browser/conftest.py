"""Fixtures of the browser tests: SQLite only, the app on a live server, one Chromium per module.

The app runs under werkzeug's threaded server on a free loopback port, on a SQLite copy of the
session's migrated template, and sends mail to the real aiosmtpd server of the `smtp` fixture.
A fresh browser context (cookies, cache) per test.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.support import (
    ORGANISER,
    ORGANISER_PASSWORD,
    OSLO,
    LiveServer,
    launch_chromium,
)


@pytest.fixture
def db_url(sqlite_template, tmp_path):
    """SQLite only: overrides the parametrised fixture of tests/conftest.py, so each runs once."""
    path = tmp_path / "browser.sqlite"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(smtp):
    """Mail goes to the real SMTP server; the tests deliver it themselves."""
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
    calling asyncio.run() would fail. Closing it after each module keeps other files clean.
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


@pytest.fixture
def organiser(runner):
    """An organiser account, made as operators do: `flask organiser create --password-stdin`."""
    result = runner.invoke(
        args=["organiser", "create", ORGANISER, "--password-stdin"],
        input=f"{ORGANISER_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    return ORGANISER
