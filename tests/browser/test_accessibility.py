"""axe-core on every public page, in every language of the site: no serious or critical
violation.

axe-core comes from npm (tests/browser/package.json, installed by `make install-dev`). It is
injected with `add_script_tag(path=...)`, which Playwright writes as an inline script; our
Content-Security-Policy refuses inline scripts, as it should. So these pages are opened in a
context of their own with `bypass_csp=True`, for axe only: the policy itself is checked by
test_security.py, and the pages' own scripts (static/form.js, static/picker.js) run here as
they do for everyone.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser.support import CI
from tests.support import deliver, manage_link
from webinars import i18n, links
from webinars.extensions import db
from webinars.models import Programme, utcnow

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
#: What fails a page; "moderate" and "minor" findings are printed, not failed.
FAILING = ("serious", "critical")


@pytest.fixture
def axe():
    """The path of axe.min.js; missing fails under CI and skips elsewhere, as Chromium does."""
    if not AXE.exists():
        reason = f"{AXE} is missing: run `make install-dev` (npm ci in tests/browser)"
        if CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return AXE


def audit(page, axe_path: Path) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.wait_for_load_state("load")
    page.add_script_tag(path=str(axe_path))
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
            }));
        }"""
    )
    for v in violations:
        if v["impact"] not in FAILING:
            print(f"axe-core, not failing: {page.url}: {v['impact']} {v['id']} ({v['help']})")
    return [v for v in violations if v["impact"] in FAILING]


def report(found: dict[str, list[dict]]) -> str:
    lines = []
    for where, violations in found.items():
        for v in violations:
            lines.append(f"{where}: {v['impact']} {v['id']} ({v['help']})")
            lines.extend(f"    {node}" for node in v["nodes"][:5])
    return "\n".join(lines)


@pytest.mark.parametrize("language", list(i18n.LANGUAGES))
def test_every_public_page_has_no_serious_accessibility_violation(
    browser, live_server, app, smtp, akson, create_event, create_contact, axe, language, shots
):
    past = create_event(
        slug="past-webinar",
        title="Et webinar som var",
        starts_at=utcnow() - timedelta(days=2),
        ends_at=utcnow() - timedelta(days=2) + timedelta(hours=1),
    )
    cancelled = create_event(slug="cancelled-webinar", status="cancelled")
    contact = create_contact(municipality="1804")
    with app.app_context():
        programme = db.session.scalar(select(Programme).where(Programme.slug == "akson"))
        submission = "/d/" + links.token(links.SUBMISSION, contact.id, programme.id)
        unsubscribe = "/u/" + links.token(links.UNSUBSCRIBE, contact.id)

    context = browser.new_context(
        base_url=live_server.url, locale="nb-NO", timezone_id="Europe/Oslo", bypass_csp=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    found: dict[str, list[dict]] = {}

    def check(name: str) -> None:
        found[name] = audit(page, axe)
        if os.environ.get("BROWSER_SCREENSHOTS"):
            page.screenshot(path=shots / f"axe-{language}-{name}.png", full_page=True)

    try:
        # The harness itself finds what it should: an image without a text alternative.
        page.goto("/static/style.css")
        page.set_content('<html lang="nb"><title>t</title><main><img src="x.png"></main></html>')
        assert [v["id"] for v in audit(page, axe)] == ["image-alt"]

        page.goto(f"/?lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        check("front page")

        page.goto("/events/akson-stormote")
        check("event page")

        # A failed submit: nothing filled in.
        page.locator("form[action*='/register'] button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator(".error-summary").is_visible()
        check("event page after a failed submit")

        # The picker, open with its matches.
        page.get_by_role("combobox").last.press_sequentially("Tana")
        assert page.get_by_role("listbox").is_visible()
        check("event page with the picker open")
        page.get_by_role("combobox").last.press("Enter")

        page.locator("input[name=name]").fill("Kari Nordmann")
        page.locator("input[name=email]").fill(f"kari.{language}@oslo.kommune.no")
        page.locator("select[name=role]").select_option("ordforer")
        page.locator("form[action*='/register'] button[type=submit]").click()
        page.wait_for_url("**/registered*")
        check("registered page")

        assert deliver(app) == 1
        manage = manage_link(smtp.to(f"kari.{language}@oslo.kommune.no")[-1], live_server.url)
        page.goto(manage)
        check("manage page")
        page.goto(manage + "/cancel")
        check("cancel page")

        page.goto(f"/events/{past.slug}")
        check("past event page")
        page.goto(f"/events/{cancelled.slug}")
        check("cancelled event page")
        # Posting the form to an event whose registration has closed: the closed page.
        page.goto("/events/akson-stormote")
        page.evaluate(
            """(slug) => {
                const form = document.querySelector("form[action*='/register']");
                form.action = "/events/" + slug + "/register";
                form.submit();
            }""",
            past.slug,
        )
        page.wait_for_url(f"**/events/{past.slug}/register")
        assert page.locator(".flash.error").is_visible()
        check("closed page")

        page.goto(submission)
        check("declaration submission page")
        page.goto(unsubscribe)
        check("unsubscribe page")

        assert page.goto("/events/no-such-event").status == 404
        check("404 page")
    finally:
        context.close()

    failing = {name: violations for name, violations in found.items() if violations}
    assert not failing, f"axe-core ({language}):\n{report(failing)}"
    assert len(found) == 13
