"""The language choice on every page, public and organiser pages and error pages alike, in
every language: "Bokmål · Nynorsk · English", each link in its own language, the current one
marked; it keeps the page and its query, needs no JavaScript, and the choice follows the
registrant into their mails."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from tests.support import form_token, outbox, text_part, within
from webinars import i18n, links, registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import messages
from webinars.models import OutboxMessage, Registration

LANGS = list(i18n.LANGUAGES)


class Chooser(HTMLParser):
    """The <html lang> and the links of <nav class="languages">."""

    def __init__(self):
        super().__init__()
        self.html_lang = None
        self.links: list[dict] = []
        self.text: list[str] = []
        self._in_nav = self._in_link = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.html_lang = attrs.get("lang")
        elif tag == "nav" and attrs.get("class") == "languages":
            self._in_nav = True
        elif tag == "a" and self._in_nav:
            self._in_link = True
            self.links.append({**attrs, "text": ""})

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        elif tag == "a":
            self._in_link = False

    def handle_data(self, data):
        if self._in_link:
            self.links[-1]["text"] += data.strip()


def chooser(html: str) -> Chooser:
    parsed = Chooser()
    parsed.feed(html)
    return parsed


def assert_chooser(html: str, lang: str, where: str) -> Chooser:
    found = chooser(html)
    assert found.html_lang == lang, where
    assert [(a["lang"], a["hreflang"], a["text"]) for a in found.links] == [
        ("nb", "nb", "Bokmål"),
        ("nn", "nn", "Nynorsk"),
        ("en", "en", "English"),
    ], where
    assert [a["lang"] for a in found.links if a.get("aria-current") == "true"] == [lang], where
    for a in found.links:
        assert a["href"].endswith(f"lang={a['lang']}"), where
    return found


@pytest.fixture
def site(app, create_event, create_programme, create_contact, create_registration):
    """An event in a programme, a registration with its manage token, a contact's links."""
    event = create_event(slug="akson-stormote", title="Stormøte")
    programme = create_programme([event])
    contact = create_contact("0301", email="raymond@oslo.kommune.no")
    registration = create_registration(event)
    with within(app):
        with write_transaction():
            token = registrations.issue_token(db.session.get(Registration, registration.id))
        return {
            "slug": event.slug,
            "programme": programme.slug,
            "registration_id": registration.id,
            "token": token,
            "i": links.token(links.INVITATION, contact.id, event.id),
            "u": links.token(links.UNSUBSCRIBE, contact.id),
            "d": links.token(links.SUBMISSION, contact.id, programme.id),
        }


def html_pages(app, site) -> list[str]:
    """Every page the app answers GET with, its placeholders filled in."""
    values = {
        "slug": site["slug"],
        "registration_id": str(site["registration_id"]),
    }
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "healthz"):
            continue
        if rule.rule.endswith((".ics", ".csv", ".xlsx", ".svg", ".pdf")):
            continue
        path = rule.rule
        if path.startswith(("/programmes/", "/organiser/programmes/<")):
            path = path.replace("<slug>", site["programme"])
        for kind in ("r", "i", "u", "d"):
            if path.startswith(f"/{kind}/"):
                path = path.replace("<token>", site["token"] if kind == "r" else site[kind])
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: values.get(m.group(1), m.group(0)), path)
        paths.append(path)
    return sorted(paths)


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_has_the_language_choice(app, client, signed_in, site, register, lang):
    client.get(f"/?lang={lang}")
    register(site["slug"], email="ny@kommune.no")  # so /events/<slug>/registered shows
    pages = html_pages(app, site)
    assert len(pages) > 25
    seen = 0
    for path in pages:
        response = client.get(path, follow_redirects=True)
        if response.mimetype != "text/html":
            continue
        assert_chooser(response.text, lang, path)
        seen += 1
    assert seen >= 25
    # Error pages: not found, method not allowed, an expired form.
    for response, where in [
        (client.get("/events/finnes-ikke"), "404"),
        (client.get("/organiser/logout"), "405"),
        (client.post(f"/events/{site['slug']}/register", data={}), "csrf"),
    ]:
        assert response.status_code in (400, 404, 405), where
        assert_chooser(response.text, lang, where)


def test_the_choice_keeps_the_page_and_its_query(signed_in):
    page = signed_in.get("/organiser/contacts?county=46").text
    nynorsk = next(a for a in chooser(page).links if a["lang"] == "nn")
    assert nynorsk["href"] == "?county=46&lang=nn"

    # The link is relative to the page it is on: the same page, in nynorsk.
    response = signed_in.get("/organiser/contacts" + nynorsk["href"])
    found = assert_chooser(response.text, "nn", "contacts in nynorsk")
    assert '<option value="46" selected>' in response.text
    assert "<h1>Kontaktar</h1>" in response.text
    # Remembered for the next page of the visit.
    assert chooser(signed_in.get("/organiser/events").text).html_lang == "nn"
    assert found.links[0]["href"] == "?county=46&lang=nb"


def test_a_form_shown_again_offers_its_own_page(client, site, register):
    response = register(site["slug"], email="ikke-en-adresse")
    assert response.status_code == 422
    hrefs = [a["href"] for a in chooser(response.text).links]
    assert hrefs == [f"/events/{site['slug']}?lang={lang}" for lang in LANGS]


def test_nothing_the_visitor_types_reaches_the_page_unescaped(client):
    page = client.get('/?x="><script>alert(1)</script>').text
    assert "<script>alert" not in page
    assert all(a["href"].startswith("?x=%22%3E%3Cscript") for a in chooser(page).links)


def test_registering_in_nynorsk_keeps_nynorsk_for_the_mails(app, client, site, register):
    client.get(f"/events/{site['slug']}?lang=nn")
    response = register(site["slug"], email="nynorsk@kommune.no")
    assert response.status_code == 303
    assert chooser(client.get(response.headers["Location"]).text).html_lang == "nn"

    with within(app):
        registration = db.session.scalars(
            select(Registration).where(Registration.email == "nynorsk@kommune.no")
        ).one()
        assert registration.locale == "nn"
    [row] = [r.id for r in outbox(app) if r.recipient == "nynorsk@kommune.no"]
    with within(app):
        mail = messages.compose(db.session.get(OutboxMessage, row))
    assert mail["Subject"] == "Påmeldinga er stadfesta: Stormøte"
    assert "Sjå eller avbestill påmeldinga di:" in text_part(mail)

    # The personal page opens in nynorsk too, also on another device (a new session).
    manage = re.search(r"http://webinars\.test(/r/[\w-]+\?lang=nn)\b", text_part(mail))
    page = app.test_client().get(manage.group(1)).text
    assert_chooser(page, "nn", "the registrant's page")


def test_the_invitation_link_opens_the_form_in_the_mails_language(app, client, site):
    page = client.get(f"/i/{site['i']}?lang=nn").text
    assert_chooser(page, "nn", "the invitation")
    assert "Skjemaet er fylt ut med det vi veit om deg" in page
    assert form_token(page)
