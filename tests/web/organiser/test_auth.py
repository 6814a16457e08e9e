"""Organiser login and logout pages, the lock-out as the login page shows it, and the guard
that keeps every organiser page behind a login.

No app context stays pushed across requests: each request loads its organiser and CSRF
token from its own cookie, so logging out and in again, or as someone else, in one test
behaves as it does in a browser.
"""

from __future__ import annotations

import ast
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner
from sqlalchemy import select

from tests.support import detach, form_token, within
from webinars import accounts
from webinars.accounts import MAX_FAILED_LOGINS
from webinars.extensions import db
from webinars.models import Event, Organiser

PASSWORD = "korrekt hest batteri"
ERROR = re.compile(r'id="password-error">([^<]+)<')


def csrf(client, path: str = "/organiser/login") -> str:
    return form_token(client.get(path).text)


def log_in(client, email: str = "ola@ks.no", password: str = PASSWORD, next_url=None):
    path = "/organiser/login" + (f"?next={next_url}" if next_url else "")
    token = csrf(client)
    return client.post(path, data={"email": email, "password": password, "csrf_token": token})


def log_out(client):
    return client.post("/organiser/logout", data={"csrf_token": csrf(client, "/organiser/events")})


def stored(app, email: str = "ola@ks.no") -> Organiser | None:
    """The organiser as stored now (detached)."""
    with within(app):
        organiser = db.session.scalar(select(Organiser).where(Organiser.email == email))
        return detach(organiser) if organiser is not None else None


def new_account(app, email: str) -> Organiser:
    with within(app):
        return detach(accounts.create_organiser(email, PASSWORD))


@pytest.fixture
def account(app):
    return new_account(app, "ola@ks.no")


def login_path(response) -> str:
    return urlsplit(response.headers["Location"]).path


# --- login and logout -----------------------------------------------------------------------


def test_login_sets_an_httponly_samesite_cookie_and_opens_the_pages(client, account):
    response = log_in(client)
    assert response.status_code == 303
    assert login_path(response) == "/organiser/events"
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].strip().lower() == "samesite=lax"
    page = client.get("/organiser/events")
    assert page.status_code == 200
    assert "Logg ut" in page.text


def test_login_without_csrf_token_is_refused(client, account):
    response = client.post("/organiser/login", data={"email": "ola@ks.no", "password": PASSWORD})
    assert response.status_code == 400
    assert login_path(client.get("/organiser/events")) == "/organiser/login"


def test_wrong_password_and_unknown_address_get_the_same_answer(client, account):
    wrong = log_in(client, password="feil passord her")
    unknown = log_in(client, email="finnes.ikke@ks.no")
    assert wrong.status_code == unknown.status_code == 422
    assert ERROR.search(wrong.text).group(1) == ERROR.search(unknown.text).group(1)
    assert "Feil e-postadresse eller passord" in wrong.text
    assert login_path(client.get("/organiser/events")) == "/organiser/login"


def _page(response) -> tuple[int, str]:
    """Status and body, without the CSRF token (it is re-signed on every page)."""
    return response.status_code, re.sub(
        r'value="[^"]*"(?=[^>]*name="csrf_token"|)', "", response.text
    )


def test_password_oracle_the_lock_out_answer_for_the_right_password_equals_the_wrong_one(
    app, client, account
):
    for _ in range(MAX_FAILED_LOGINS):
        assert log_in(client, password="feil passord her").status_code == 422
    with within(app):
        assert accounts.failures(stored(app))[0].locked_until is not None

    right = log_in(client)
    wrong = log_in(client, password="enda et feil passord")
    nobody = log_in(client, email="finnes.ikke@ks.no", password="enda et feil passord")
    assert right.status_code == wrong.status_code == nobody.status_code == 422
    assert _page(right) == _page(wrong)
    assert ERROR.search(right.text).group(1) == ERROR.search(nobody.text).group(1)
    assert "sperret" not in ERROR.search(right.text).group(1).split(".")[0]
    assert login_path(client.get("/organiser/events")) == "/organiser/login"
    with within(app):
        assert accounts.failures(stored(app))[0].failures == 2, "both attempts were counted"


def test_logout_ends_the_session_and_a_replayed_cookie(app, client, account):
    log_in(client)
    stolen = client.get_cookie("session").value
    # Another browser with a copy of the cookie is let in while the session lives ...
    other = app.test_client()
    other.set_cookie("session", stolen)
    assert other.get("/organiser/events").status_code == 200

    response = log_out(client)
    assert response.status_code == 303
    assert login_path(response) == "/organiser/login"
    assert login_path(client.get("/organiser/events")) == "/organiser/login"
    # ... and refused after logout, although the cookie itself is still correctly signed.
    replay = other.get("/organiser/events")
    assert replay.status_code == 302
    assert login_path(replay) == "/organiser/login"


def test_one_browser_logs_out_and_in_as_someone_else(app, client, account):
    """The second login is Kari's own: nothing of Ola's session or token carries over."""
    kari = new_account(app, "kari@ks.no")
    assert log_in(client).status_code == 303
    olas = client.get_cookie("session").value
    assert log_out(client).status_code == 303

    assert log_in(client, "kari@ks.no").status_code == 303
    with client.session_transaction() as session:
        assert session["_user_id"] == kari.get_id()
    assert client.get("/organiser/events").status_code == 200
    # Ola's old cookie stays worthless, in this browser or another.
    other = app.test_client()
    other.set_cookie("session", olas)
    assert login_path(other.get("/organiser/events")) == "/organiser/login"
    # And Kari can log out in turn: her session ends, Ola's account is untouched.
    assert log_out(client).status_code == 303
    assert login_path(client.get("/organiser/events")) == "/organiser/login"
    assert stored(app, "kari@ks.no").session_version == kari.session_version + 1
    assert stored(app).session_version == account.session_version + 1


def test_login_returns_to_the_page_asked_for(client, account):
    response = client.get("/organiser/events/new")
    assert login_path(response) == "/organiser/login"
    assert log_in(client, next_url="/organiser/events/new").headers["Location"] == (
        "/organiser/events/new"
    )


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.test/organiser/", "//evil.test/organiser/events", "/organiser/logout", "/"],
)
def test_login_never_redirects_off_the_organiser_pages(client, account, next_url):
    response = log_in(client, next_url=next_url)
    assert response.headers["Location"] == "/organiser/events"


# --- every organiser page refuses anonymous users ------------------------------------------


def _url(rule, slug: str) -> str:
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        values[name] = 1 if kind in ("BoundedInt", "IntegerConverter", "NumberConverter") else slug
    return rule.build(values, append_unknown=False)[1]


def test_every_organiser_route_redirects_anonymous_users_to_login(app, client, create_event):
    """Walks the URL map, so a route added later cannot slip through unprotected."""
    event = create_event(slug="kartlegging")
    token = csrf(client)  # a valid CSRF token, so only the login guard can refuse a POST
    checked = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("organiser.") or rule.endpoint == "organiser.login":
            continue
        url = _url(rule, event.slug)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method != "GET" else None
            response = client.open(url, method=method, data=data)
            assert response.status_code in (302, 303), (method, url, response.status_code)
            assert login_path(response) == "/organiser/login", (method, url)
            checked.add((rule.endpoint, method))
    assert {
        ("organiser.events", "GET"),
        ("organiser.new_event", "POST"),
        ("organiser.edit_event", "POST"),
        ("organiser.publish_event", "POST"),
        ("organiser.unpublish_event", "POST"),
        ("organiser.cancel_event", "POST"),
        ("organiser.logout", "POST"),
    } <= checked
    # Nothing happened to the event on the way.
    with within(app):
        assert db.session.get(Event, event.id).status == Event.PUBLISHED


# --- forged and old sessions ----------------------------------------------------------------


def _string_constants() -> set[str]:
    """Every string literal in the project's Python files (where a key could hide)."""
    root = Path(__file__).resolve().parents[3]
    found = set()
    for path in [root / "config.py", root / "wsgi.py", *root.glob("webinars/**/*.py"),
                 *root.glob("tests/**/*.py"), *root.glob("bench/*.py")]:  # fmt: skip
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
                found.add(node.value)
    return found


def _forged_cookie(app, key: str, user_id: str) -> str:
    signer = SecureCookieSessionInterface().get_signing_serializer(
        type("Forger", (), {"secret_key": key, "config": app.config})()
    )
    return signer.dumps({"_user_id": user_id, "_fresh": True})


@pytest.fixture
def app_config():
    # The key an operator sets: random, and so in no file.
    return {"SECRET_KEY": secrets.token_hex(32)}


def test_forged_session_with_any_key_found_in_the_source_fails(app, account, create_event):
    event = create_event()
    export = f"/organiser/events/{event.slug}/participants.csv"
    keys = _string_constants()
    assert "test-secret" in keys and len(keys) > 500  # the search looks where it should
    for key in keys:
        client = app.test_client()
        client.set_cookie("session", _forged_cookie(app, key, account.get_id()))
        response = client.get(export)
        assert response.status_code == 302, f"a session signed with {key!r} was accepted"
    # The same cookie signed with the real key is let in: the forgery itself is right.
    client = app.test_client()
    client.set_cookie("session", _forged_cookie(app, app.secret_key, account.get_id()))
    assert client.get(export).status_code == 200


def test_a_session_ends_after_8_hours_without_activity(app, client, account, monkeypatch):
    assert app.permanent_session_lifetime == timedelta(hours=8)
    real = TimestampSigner.get_timestamp

    def signed(hours_ago: float):
        monkeypatch.setattr(
            TimestampSigner, "get_timestamp", lambda self: real(self) - int(hours_ago * 3600)
        )
        response = log_in(client)
        monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
        return response

    assert signed(7.9).status_code == 303
    assert client.get("/organiser/events").status_code == 200, "active within 8 hours: in"
    log_out(client)
    assert signed(8.1).status_code == 303
    assert login_path(client.get("/organiser/events")) == "/organiser/login"
