"""Every page as Chromium enforces our Content-Security-Policy (webinars/security.py).

The policy allows no inline code of any kind ('unsafe-inline' is gone): a `style=`
attribute, a `<style>` block or an inline script anywhere would be refused, and Chromium
reports each refusal as a `securitypolicyviolation` event and on the console. Each page
must also look the way style.css says, or its stylesheet did not apply.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.support import (
    MEETING,
    PolicyWatch,
    computed_style,
    fill_form,
    log_in,
    submit,
)
from tests.support import deliver, manage_link

pytestmark = pytest.mark.browser

#: What style.css makes of every page: its background, and the header as a flex row.
STYLED = {"background": "rgb(246, 248, 250)", "header": "flex"}
#: The campaign's progress bar's filled part, coloured by style.css (--accent), not by an attribute.
ACCENT = "rgb(0, 88, 122)"


def looks(page) -> dict[str, str | None]:
    """What the browser computed for the rules of style.css that every page uses."""
    found = {
        "background": computed_style(page, "body", "background-color"),
        "header": computed_style(page, "header.site", "display"),
    }
    if page.locator("svg.progress").count():
        # The progress bar is an inline SVG; its colour comes from the stylesheet too.
        found["bar"] = computed_style(page, "svg.progress .done", "fill")
    return found


def test_no_page_breaks_the_policy_and_every_page_is_styled(
    new_page, app, smtp, live_server, akson, organiser
):
    found: dict[str, tuple[list[dict], dict[str, str | None]]] = {}

    def check(name: str, page, watch: PolicyWatch, heading: str) -> None:
        """Note what the browser reported on the page it shows now, named `name`."""
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        found[name] = (watch.seen(), looks(page))
        watch.violations.clear()

    mayor = new_page()
    watch = PolicyWatch(mayor)
    mayor.goto("/")
    check("front page", mayor, watch, "Kommende møter og webinarer")
    mayor.get_by_role("link", name=MEETING).click()
    expect(mayor.get_by_role("button", name="Meld meg på")).to_be_visible()
    check("event page with the form", mayor, watch, MEETING)

    email = "kari.nordmann@oslo.kommune.no"
    fill_form(mayor, name="Kari Nordmann", email=email, role="Ordfører", municipality="Oslo (Oslo)")
    assert submit(mayor) == 303
    check("after registering", mayor, watch, "Takk for påmeldingen")

    assert deliver(app) == 1
    [confirmation] = smtp.to(email)
    mayor.goto(manage_link(confirmation, live_server.url))
    check("the registrant's page", mayor, watch, "Din påmelding")
    mayor.get_by_role("link", name="Avbestill påmeldingen").click()
    check("the cancel confirmation", mayor, watch, "Avbestille påmeldingen?")
    mayor.get_by_role("button", name="Ja, avbestill").click()
    expect(mayor.get_by_text("Påmeldingen er avbestilt.")).to_be_visible()
    check("the registrant's page, cancelled", mayor, watch, "Din påmelding")
    assert deliver(app) == 1  # the cancellation, so the outbox shows two kinds

    desk = new_page()
    watch = PolicyWatch(desk)
    desk.goto("/organiser/events")
    check("login", desk, watch, "Logg inn som arrangør")
    log_in(desk)
    check("events list", desk, watch, "Arrangementer")
    for name, path, heading in [
        ("one event", "/organiser/events/akson-stormote", MEETING),
        ("participants", "/organiser/events/akson-stormote/participants", f"Deltakere: {MEETING}"),
        ("campaign", "/organiser/programmes/akson", "Kampanjen: Akson"),
        ("contacts", "/organiser/contacts", "Kontakter"),
        (
            "declarations",
            "/organiser/programmes/akson/declarations",
            "Intensjonserklæringer: Akson",
        ),
        ("outbox", "/organiser/mail", "Utgående e-post"),
    ]:
        assert desk.goto(path).status == 200, path
        check(name, desk, watch, heading)
        if name == "outbox":
            expect(desk.locator("tbody tr")).to_have_count(2)

    assert list(found) == [
        "front page",
        "event page with the form",
        "after registering",
        "the registrant's page",
        "the cancel confirmation",
        "the registrant's page, cancelled",
        "login",
        "events list",
        "one event",
        "participants",
        "campaign",
        "contacts",
        "declarations",
        "outbox",
    ]
    expected = {name: ([], STYLED) for name in found}
    expected["campaign"] = ([], {**STYLED, "bar": ACCENT})
    wrong = {name: seen for name, seen in found.items() if seen != expected[name]}
    assert wrong == {}, f"CSP violations or no style.css on: {', '.join(wrong)}"
