"""Organiser accounts: the create command, login and logout, lock-out, and the login guard."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from webinars.extensions import db
from webinars.models import Organiser, utcnow
from webinars.organiser.auth import LOCK_DURATION, MAX_FAILED_LOGINS, create_organiser

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "korrekt hest batteri"


def csrf(client, path: str = "/organiser/login") -> str:
    return TOKEN.search(client.get(path).text).group(1)


def log_in(client, email: str = "ola@ks.no", password: str = PASSWORD, next_url=None):
    path = "/organiser/login" + (f"?next={next_url}" if next_url else "")
    token = csrf(client)
    return client.post(path, data={"email": email, "password": password, "csrf_token": token})


def organiser(email: str = "ola@ks.no") -> Organiser:
    db.session.expire_all()
    return db.session.scalar(select(Organiser).where(Organiser.email == email))


@pytest.fixture
def account(app):
    account = create_organiser("ola@ks.no", PASSWORD)
    db.session.commit()
    return account


def login_path(response) -> str:
    return urlsplit(response.headers["Location"]).path


# --- the command ----------------------------------------------------------------------------


def test_create_asks_for_the_password_twice_and_stores_a_scrypt_hash(runner):
    result = runner.invoke(
        args=["organiser", "create", "Kari@KS.no"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "kari@ks.no" in result.output
    stored = organiser("kari@ks.no")
    assert stored.password_hash.startswith("scrypt:")
    assert PASSWORD not in stored.password_hash
    assert check_password_hash(stored.password_hash, PASSWORD)


def test_create_refuses_when_the_confirmation_differs(runner):
    result = runner.invoke(
        args=["organiser", "create", "kari@ks.no"], input=f"{PASSWORD}\nnoe helt annet\n"
    )
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert organiser("kari@ks.no") is None


def test_create_reads_one_line_from_stdin(runner, client):
    result = runner.invoke(
        args=["organiser", "create", "kari@ks.no", "--password-stdin"],
        input=f"{PASSWORD}\nignored second line\n",
    )
    assert result.exit_code == 0, result.output
    assert log_in(client, "kari@ks.no").status_code == 303


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("ola@ks.no", PASSWORD, "already exists"),
        ("kari@ks.no", "kort", "at least 10"),
        ("ikke-en-adresse", PASSWORD, "EMAIL"),
    ],
)
def test_create_refuses_duplicates_short_passwords_and_bad_addresses(
    runner, account, email, password, message
):
    result = runner.invoke(
        args=["organiser", "create", email, "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.query(Organiser).count() == 1


def test_password_command_ends_old_sessions_and_unlocks(runner, client, account):
    assert log_in(client).status_code == 303
    account.locked_until = utcnow() + timedelta(minutes=5)
    db.session.commit()
    result = runner.invoke(
        args=["organiser", "password", "ola@ks.no", "--password-stdin"],
        input="et nytt langt passord\n",
    )
    assert result.exit_code == 0, result.output
    assert login_path(client.get("/organiser/events")) == "/organiser/login"
    assert organiser().locked_until is None
    assert log_in(client, password="et nytt langt passord").status_code == 303


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
    error = re.compile(r'id="password-error">([^<]+)<')
    assert error.search(wrong.text).group(1) == error.search(unknown.text).group(1)
    assert "Feil e-postadresse eller passord" in wrong.text
    assert login_path(client.get("/organiser/events")) == "/organiser/login"


def test_repeated_failures_lock_the_account_without_revealing_it(client, account):
    for _ in range(MAX_FAILED_LOGINS):
        assert log_in(client, password="feil passord her").status_code == 422
    locked = organiser()
    assert locked.locked_until is not None
    assert locked.locked_until - utcnow() > LOCK_DURATION - timedelta(minutes=1)

    # The right password is refused now, and says so (only its owner can see this) ...
    right = log_in(client)
    assert right.status_code == 429
    assert "sperret" in right.text
    assert login_path(client.get("/organiser/events")) == "/organiser/login"
    # ... while a guess looks exactly like a guess at an address that has no account.
    guess = log_in(client, password="enda et feil passord")
    nobody = log_in(client, email="finnes.ikke@ks.no", password="enda et feil passord")
    assert guess.status_code == nobody.status_code == 422
    error = re.compile(r'id="password-error">([^<]+)<')
    assert error.search(guess.text).group(1) == error.search(nobody.text).group(1)
    assert "sperret" not in error.search(guess.text).group(1).split(".")[0]


def test_the_lock_expires(client, account):
    for _ in range(MAX_FAILED_LOGINS):
        log_in(client, password="feil passord her")
    locked = organiser()
    locked.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert log_in(client).status_code == 303
    assert organiser().failed_logins == 0


def test_a_success_resets_the_failure_count(client, account):
    for _ in range(MAX_FAILED_LOGINS - 1):
        log_in(client, password="feil passord her")
    assert log_in(client).status_code == 303
    assert organiser().failed_logins == 0
    assert organiser().locked_until is None


def test_logout_ends_the_session_and_a_replayed_cookie(app, client, account):
    log_in(client)
    stolen = client.get_cookie("session").value
    # Another browser with a copy of the cookie is let in while the session lives ...
    other = app.test_client()
    other.set_cookie("session", stolen)
    assert other.get("/organiser/events").status_code == 200

    response = client.post(
        "/organiser/logout", data={"csrf_token": csrf(client, "/organiser/events")}
    )
    assert response.status_code == 303
    assert login_path(response) == "/organiser/login"
    assert login_path(client.get("/organiser/events")) == "/organiser/login"
    # ... and refused after logout, although the cookie itself is still correctly signed.
    replay = other.get("/organiser/events")
    assert replay.status_code == 302
    assert login_path(replay) == "/organiser/login"


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
        values[name] = 1 if kind in ("IntegerConverter", "NumberConverter") else slug
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
    db.session.expire_all()
    assert event.status == "published"
