"""The headers every response carries, request sizes, bounded numbers and proxies
(webinars/security.py, config.py)."""

from pathlib import Path

import pytest
from flask import request
from sqlalchemy import func, select

from tests.support import form_token, within
from webinars import create_app
from webinars.extensions import db
from webinars.models import Registration
from webinars.security import CONTENT_SECURITY_POLICY, MAX_PAGE, page_number


@pytest.mark.parametrize("path", ["/", "/healthz", "/organiser/login", "/no-such-page"])
def test_every_response_forbids_sniffing_framing_and_foreign_content(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_policy_allows_no_inline_code_or_style():
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in CONTENT_SECURITY_POLICY.split("; ")
    )
    assert directives["default-src"] == ["'self'"]
    assert "style-src" not in directives and "script-src" not in directives
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]


def test_no_page_template_carries_an_inline_style():
    """What keeps the policy strict: styles come only from style.css (e-mails are apart)."""
    templates = Path(__file__).resolve().parents[2] / "templates"
    offenders = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if "email" not in path.parts
        and ("style=" in path.read_text() or "<style" in path.read_text())
    ]
    assert offenders == []


def test_organiser_pages_are_never_cached(client):
    assert client.get("/organiser/login").headers["Cache-Control"] == "no-store"


def test_public_pages_may_be_cached_by_the_browser(client, create_event):
    event = create_event()
    assert "no-store" not in client.get(f"/events/{event.slug}").headers.get("Cache-Control", "")


# --- HSTS and proxies -------------------------------------------------------------------------


def test_hsts_for_a_year_when_the_public_url_is_https(app, client):
    assert "Strict-Transport-Security" not in client.get("/").headers  # http://webinars.test
    app.config["PUBLIC_URL"] = "https://webinarer.example.no"
    secure = create_app({**app.config, "SECRET_KEY": "k" * 32})
    response = secure.test_client().get("/healthz")
    with secure.app_context():
        db.engine.dispose()
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_behind_a_trusted_proxy_the_client_address_and_https_are_right(app):
    seen = {}

    @app.get("/_whoami")
    def whoami():
        seen.update(addr=request.remote_addr, scheme=request.scheme)
        return "ok"

    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    app.test_client().get("/_whoami", headers=headers)
    assert seen == {"addr": "127.0.0.1", "scheme": "http"}, "no proxy trusted by default"

    behind = create_app({**app.config, "TRUSTED_PROXIES": 1})
    behind.add_url_rule("/_whoami", view_func=whoami)
    behind.test_client().get("/_whoami", headers=headers)
    with behind.app_context():
        db.engine.dispose()
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}


# --- sizes and numbers ----------------------------------------------------------------------


def test_size_limit_a_40_mb_form_body_gets_413_and_stores_nothing(app, client, create_event):
    event = create_event()
    body = b"name=" + b"x" * (40 * 1024 * 1024)
    response = client.post(
        f"/events/{event.slug}/register",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert "større enn vi tar imot" in response.text
    assert _registrations(app) == 0


def test_size_limit_a_30_mb_multipart_body_gets_413_and_stores_nothing(app, client, create_event):
    event = create_event()
    token = form_token(client.get(f"/events/{event.slug}").text)
    fields = {
        "name": "Kari Nordmann",
        "email": "kari@kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "csrf_token": token,
        "question": "x" * (30 * 1024 * 1024),
    }
    body = b"".join(
        f'--B\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    response = client.post(
        f"/events/{event.slug}/register",
        data=body + b"--B--\r\n",
        content_type="multipart/form-data; boundary=B",
    )
    assert response.status_code == 413
    assert _registrations(app) == 0


@pytest.mark.parametrize("page", ["99999999999999999999", "-1", "0", "1e9", "x", "٣", "2" * 5000])
def test_page_bounds_any_page_number_gives_a_page_not_a_500(signed_in, create_event, page):
    event = create_event()
    for path in (f"/organiser/events/{event.slug}/participants", "/organiser/mail"):
        assert signed_in.get(f"{path}?page={page}").status_code == 200, path


@pytest.mark.parametrize("number", ["99999999999999999999", "2147483648"])
def test_page_bounds_an_id_no_column_can_hold_is_a_404(signed_in, number):
    token = form_token(signed_in.get("/organiser/mail").text)
    response = signed_in.post(f"/organiser/mail/{number}/retry", data={"csrf_token": token})
    assert response.status_code == 404


def test_page_number_is_bounded_on_both_sides():
    assert [page_number({"page": v}) for v in ("1", "7", "0", "", "abc", "10" * 9)] == [
        1,
        7,
        1,
        1,
        1,
        MAX_PAGE,
    ]


def _registrations(app) -> int:
    with within(app):
        return db.session.scalar(select(func.count()).select_from(Registration))
