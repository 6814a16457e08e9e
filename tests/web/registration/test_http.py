"""A registration through a real HTTP server on loopback, as a browser without JavaScript."""

import http.cookiejar
import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.support import form_token, within
from webinars.extensions import db
from webinars.models import OutboxMessage, Registration


class RecordRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects like a browser and remembers each status and target."""

    def __init__(self):
        self.seen = []

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.seen.append((code, newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@pytest.fixture
def server(app):
    """The app served by werkzeug in a thread on 127.0.0.1, on a free port."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)
    httpd.server_close()


@pytest.fixture
def browser():
    redirects = RecordRedirects()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), redirects
    )
    opener.redirects = redirects.seen
    return opener


def post(browser, url: str, fields: dict):
    data = urllib.parse.urlencode(fields).encode()
    return browser.open(urllib.request.Request(url, data=data, method="POST"), timeout=30)


def test_register_over_real_http(app, server, browser, create_event):
    event = create_event()
    with browser.open(f"{server}/events/{event.slug}", timeout=30) as page:
        assert page.status == 200
        html = page.read().decode()
    assert "Meld meg på" in html

    fields = {
        "name": "Kari Nordmann",
        "email": "Kari@Kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "organisation": "Oslo kommune",
        "csrf_token": form_token(html),
    }
    with post(browser, f"{server}/events/{event.slug}/register", fields) as answer:
        assert answer.status == 200
        assert answer.url == f"{server}/events/{event.slug}/registered"
        confirmation = answer.read().decode()
    assert browser.redirects == [(303, f"{server}/events/{event.slug}/registered")]
    assert "Vi har sendt en bekreftelse til kari@kommune.no." in confirmation
    assert event.join_url not in confirmation

    with within(app):  # a fresh session: the server wrote from its own connection
        (registration,) = db.session.scalars(select(Registration)).all()
        assert (registration.email, registration.status, registration.organisation) == (
            "kari@kommune.no",
            Registration.CONFIRMED,
            "Oslo kommune",
        )
        (message,) = db.session.scalars(select(OutboxMessage)).all()
        assert (message.kind, message.recipient, message.registration_id) == (
            "confirmation",
            "kari@kommune.no",
            registration.id,
        )


def test_invalid_form_over_real_http_is_422(app, server, browser, create_event):
    event = create_event()
    with browser.open(f"{server}/events/{event.slug}", timeout=30) as page:
        token = form_token(page.read().decode())
    fields = {
        "name": "",
        "email": "kari",
        "role": "ordforer",
        "municipality": "0301",
        "csrf_token": token,
    }
    with pytest.raises(urllib.error.HTTPError) as caught:
        post(browser, f"{server}/events/{event.slug}/register", fields)
    assert caught.value.code == 422
    body = caught.value.read().decode()
    assert "Skriv navnet ditt." in body and "Skriv en gyldig e-postadresse" in body
    with within(app):
        assert db.session.scalars(select(Registration)).all() == []


def test_healthz_over_real_http(server, browser):
    with browser.open(f"{server}/healthz", timeout=30) as answer:
        assert answer.status == 200
        assert json.loads(answer.read()) == {"status": "ok"}
