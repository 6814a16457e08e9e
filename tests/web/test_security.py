"""The headers every response carries (webinars/security.py)."""

from pathlib import Path

import pytest

from webinars.security import CONTENT_SECURITY_POLICY


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
