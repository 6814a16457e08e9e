"""Limits per client address (Flask-Limiter): login attempts and registration POSTs, in one
process and shared by several gunicorn workers through Redis."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from config import Config
from tests.conftest import PERSON
from tests.support import form_token, free_port, within
from webinars import accounts, create_app
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Registration
from webinars.registrations import issue_token

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}


def registrations(app) -> int:
    with within(app):
        return db.session.scalar(select(func.count()).select_from(Registration))


def post_login(client, address: str, email: str = "ola@ks.no", password: str = "feil passord"):
    token = form_token(client.get("/organiser/login").text)
    return client.post(
        "/organiser/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_limits_are_on_by_default():
    assert Config.RATELIMIT_ENABLED is True
    assert Config.RATELIMIT_STORAGE_URI == "memory://"
    assert Config.RATELIMIT_REGISTER == "10 per minute; 60 per hour"


def test_password_spraying_from_one_address_is_limited(app, client):
    with within(app):
        accounts.create_organiser("ola@ks.no", "korrekt hest batteri")
        accounts.create_organiser("kari@ks.no", "korrekt hest batteri")
    # Ten tries a minute, spread over accounts or not ...
    for n in range(10):
        email = "ola@ks.no" if n % 2 else "kari@ks.no"
        assert post_login(client, "203.0.113.7", email).status_code == 422
    over = post_login(client, "203.0.113.7", "ola@ks.no", "korrekt hest batteri")
    assert over.status_code == 429
    assert "For mange forsøk" in over.text and "Vent noen minutter" in over.text
    assert "Retry-After" in over.headers
    # ... while the owner, from another address, logs in.
    assert (
        post_login(client, "198.51.100.20", "ola@ks.no", "korrekt hest batteri").status_code == 303
    )


def test_guessing_one_account_from_many_addresses_meets_a_per_account_bound(app):
    app.config["RATELIMIT_LOGIN_ACCOUNT"] = "6 per hour"
    with within(app):
        accounts.create_organiser("ola@ks.no", "korrekt hest batteri")
        accounts.create_organiser("kari@ks.no", "korrekt hest batteri")
    # The owner's own logins do not count towards the bound ...
    owner = post_login(app.test_client(), "192.0.2.1", "Ola@KS.no", "korrekt hest batteri")
    assert owner.status_code == 303
    # ... wrong passwords from six addresses, any spelling of the address, do.
    for n in range(6):
        email = " OLA@ks.no " if n % 2 else "ola@ks.no"
        assert post_login(app.test_client(), f"203.0.113.{n}", email).status_code == 422
    over = post_login(app.test_client(), "203.0.113.99", "ola@ks.no", "korrekt hest batteri")
    assert over.status_code == 429, "a bound for the account, whatever the password"
    assert "For mange forsøk" in over.text
    # Other accounts are not touched.
    kari = post_login(app.test_client(), "203.0.113.99", "kari@ks.no", "korrekt hest batteri")
    assert kari.status_code == 303


def test_registration_flood_from_one_address_gets_429_and_stores_nothing(
    app, register, create_event
):
    event = create_event()
    for n in range(10):
        assert register(event.slug, email=f"bot{n}@kommune.no").status_code == 303
    over = register(event.slug, email="bot10@kommune.no")
    assert over.status_code == 429
    assert "For mange forsøk" in over.text
    assert registrations(app) == 10


def test_the_limits_can_be_turned_off(app, create_event):
    off = create_app({**app.config, "RATELIMIT_ENABLED": False})
    event = create_event()
    client = off.test_client()
    token = form_token(client.get(f"/events/{event.slug}").text)
    statuses = {
        client.post(
            f"/events/{event.slug}/register",
            data={**PERSON, "email": f"p{n}@kommune.no", "csrf_token": token},
        ).status_code
        for n in range(12)
    }
    with off.app_context():
        db.engine.dispose()
    assert statuses == {303}


# --- several gunicorn workers share counts through Redis ---------------------------------------


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS, socket_timeout=2).ping()
    except redis.RedisError as exc:
        if CI:
            pytest.fail(f"CI=true but Redis on 127.0.0.1:6379 does not answer: {exc}")
        pytest.skip(f"Redis on 127.0.0.1:6379 does not answer: {exc}")


def _request(port: int, method: str, path: str, headers: dict, body: bytes = b""):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("Set-Cookie"), response.read()
    finally:
        conn.close()


def test_registration_limit_holds_across_gunicorn_workers_with_redis(
    app, db_url, create_event, tmp_path
):
    _redis_or_skip()
    event = create_event()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": "a-key-for-this-test-only",
        "MAIL_DELIVERY_THREAD": "0",
        "RATELIMIT_STORAGE_URI": REDIS,
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "RATELIMIT_REGISTER": "6 per minute",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _request(port, "GET", "/healthz", {})[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        status, cookie, page = _request(port, "GET", f"/events/{event.slug}", {})
        token = form_token(page.decode())
        headers = {
            "Cookie": cookie.split(";", 1)[0],
            "Content-Type": "application/x-www-form-urlencoded",
        }

        def post(n: int) -> int:
            body = (
                f"name=Kari+{n}&email=p{n}%40kommune.no&role=ordforer&municipality=0301"
                f"&csrf_token={token}"
            ).encode()
            return _request(port, "POST", f"/events/{event.slug}/register", headers, body)[0]

        # At once, so that every worker takes some: each alone would allow six.
        with ThreadPoolExecutor(max_workers=9) as pool:
            statuses = sorted(pool.map(post, range(18)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    served_by = set(
        re.findall(r"Booting worker with pid: (\d+)", (tmp_path / "gunicorn.log").read_text())
    )
    assert len(served_by) == 3
    assert statuses == [303] * 6 + [429] * 12
    assert registrations(app) == 6


def test_one_click_registration_is_limited_like_the_form(
    app, client, create_event, create_programme, create_registration
):
    app.config["RATELIMIT_REGISTER"] = "2 per minute"
    events = [create_event(slug=f"s{n}") for n in range(4)]
    create_programme(events)
    registration = create_registration(events[0])
    with within(app), write_transaction():
        token = issue_token(db.session.get(Registration, registration.id))
    csrf = form_token(client.get(f"/r/{token}").text)

    answers = [
        client.post(f"/r/{token}/register/s{n}", data={"csrf_token": csrf}).status_code
        for n in (1, 2, 3)
    ]

    assert answers == [303, 303, 429]
    assert registrations(app) == 3
