"""The event page on a 390 px phone: nothing wider than the screen, a full event's waiting-list
button, and "send me my link again", in headless Chromium."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.support import fill_form, submit
from tests.support import deliver, manage_link
from webinars.models import utcnow

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
LONG_TITLE = "Kommunedirektørsamlingsforberedelsesmøte om Akson"

#: Every element whose box reaches past the right edge of the viewport, and the page's width.
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width && box.right > width + 0.5) {
      wide.push(`${element.tagName.toLowerCase()}${element.id ? "#" + element.id : ""}` +
                `.${element.className} right=${Math.round(box.right)}`);
    }
  }
  return {width, scroll: document.documentElement.scrollWidth, wide};
}"""


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_nothing_overflows_a_390px_phone_with_long_words(
    lang, new_page, live_server, create_event, shots
):
    event = create_event(
        title=LONG_TITLE,
        location="Digitalt: https://meet.example.org/kommunedirektorsamlingsforberedelsesmote-2020",
        description=(
            "Helse- og omsorgsdepartementet inviterer til et "
            "kommunedirektørsamlingsforberedelsesmøte.\r\n\r\n"
            "Materiell: https://www.ks.no/fagomrader/helse-og-omsorg/e-helse/akson-felles-kommunal-journal"
        ),
        organiser_name="Helse- og omsorgsdepartementet",
    )
    page = new_page(**PHONE)
    page.goto(f"/events/{event.slug}?lang={lang}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kommunedirektør")
    page.screenshot(path=shots / f"phone-event-{lang}.png", full_page=True)

    found = page.evaluate(_OVERFLOW)

    assert found["width"] == 390
    assert found["scroll"] <= found["width"], found
    assert found["wide"] == [], found["wide"]
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).hyphens") == "auto"


def test_a_full_event_offers_the_waiting_list_and_gives_the_number(
    new_page, live_server, create_event, create_registration, app, smtp, shots
):
    event = create_event(capacity=1, waitlist=True, title="Webinar om Akson")
    create_registration(event, "kari@kommune.no")
    page = new_page(**PHONE)
    page.goto(f"/events/{event.slug}")

    button = page.get_by_role("button", name="Meld meg på ventelisten")
    expect(button).to_be_visible()
    expect(page.get_by_text("kommer du på ventelisten")).to_be_visible()
    fill_form(
        page,
        name="Ola Nordmann",
        email="ola@kommune.no",
        role="Ordfører",
        municipality="Oslo (Oslo)",
    )
    assert submit(page) == 303
    expect(page.get_by_text("på ventelisten, nummer 1")).to_be_visible()
    page.screenshot(path=shots / "phone-waitlisted.png", full_page=True)

    deliver(app)
    page.goto(manage_link(smtp.to("ola@kommune.no")[-1], live_server.url))
    expect(page.get_by_text("På ventelisten, nummer 1")).to_be_visible()


def test_send_me_my_link_again_from_the_event_page(
    new_page, live_server, create_event, create_registration, app, smtp
):
    event = create_event(title="Webinar om Akson")
    create_registration(event, "kari@kommune.no", now=utcnow() - timedelta(hours=1))
    page = new_page(**PHONE)
    page.goto(f"/events/{event.slug}")
    page.get_by_label("E-postadressen du meldte deg på med").fill("kari@kommune.no")
    page.get_by_role("button", name="Send meg lenken min på nytt").click()
    expect(page.locator(".flash[role=status]")).to_contain_text("Er kari@kommune.no påmeldt")
    assert re.search(r"#lenke$", page.url)
    deliver(app)
    mail = smtp.to("kari@kommune.no")[-1]
    assert mail["Subject"] == "Lenken til påmeldingen din: Webinar om Akson"
    page.goto(manage_link(mail, live_server.url))
    expect(page.get_by_role("heading", name="Din påmelding")).to_be_visible()
