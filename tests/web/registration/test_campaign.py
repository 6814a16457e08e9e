"""A contact's personal links: the invitation opens the form filled in, one-click unsubscribe
(RFC 8058) works without a form, a municipality hands in its declaration; a changed link is
refused; the programme's public feed carries no private link."""

from __future__ import annotations

import io
import re
from datetime import date

import icalendar
import pytest
from sqlalchemy import select

from tests.support import deliver, form_token, outbox, text_part, within
from webinars import declarations, invitations, links
from webinars.extensions import db
from webinars.models import Contact, Declaration, Event, Programme

AKSON = "Nord,Vest,Sør-Øst"
PDF = b"%PDF-1.5\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
def invited(app, smtp, mail_app, create_event, create_programme, create_contact):
    """Raymond, Oslo's mayor, invited to the meeting; returns his mail."""
    event = create_event(slug="akson-stormote", eligible_regions=AKSON, title="Stormøte")
    create_programme([event])
    create_contact("0301", name="Raymond Johansen", email="raymond@oslo.kommune.no")
    with within(app):
        invitations.send(db.session.get(Event, event.id), invitations.Audience())
    assert deliver(app) == 1
    [mail] = smtp.to("raymond@oslo.kommune.no")
    return mail


def link(mail, kind: str) -> str:
    return re.search(rf"http://webinars\.test(/{kind}/[A-Za-z0-9_.\-]+)", text_part(mail)).group(1)


def test_the_invitation_link_opens_the_form_filled_in(client, invited):
    response = client.get(link(invited, "i"))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = response.text
    assert "Du er invitert." in page
    assert 'value="Raymond Johansen"' in page and 'value="raymond@oslo.kommune.no"' in page
    assert re.search(r'<option selected value="ordforer">|<option value="ordforer" selected>', page)
    assert re.search(
        r'<option[^>]* selected[^>]* value="0301"|<option[^>]* value="0301" selected', page
    )


def test_registering_from_the_invitation_is_one_click(app, client, invited):
    page = client.get(link(invited, "i")).text
    data = {
        "csrf_token": form_token(page),
        "name": "Raymond Johansen",
        "email": "raymond@oslo.kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "organisation": "",
    }

    response = client.post("/events/akson-stormote/register", data=data)

    assert response.status_code == 303
    assert [row.kind for row in outbox(app)] == ["invitation", "confirmation"]


def test_a_changed_invitation_link_is_refused(client, invited):
    good = link(invited, "i")
    assert client.get(good[:-3] + "abc").status_code == 404
    other_purpose = link(invited, "u").replace("/u/", "/i/")
    assert client.get(other_purpose).status_code == 404


def test_one_click_unsubscribe_is_a_post_without_a_form(app, client, invited):
    url = invited["List-Unsubscribe"].strip("<>").removeprefix("http://webinars.test")
    assert client.get(url).status_code == 200  # link scanners' GET changes nothing
    with within(app):
        assert db.session.scalar(select(Contact.unsubscribed_at)) is None

    # What a mail client sends (RFC 8058): no cookie, no CSRF token.
    response = app.test_client().post(
        url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert "raymond@oslo.kommune.no får ikke flere invitasjoner fra oss." in response.text
    with within(app):
        assert db.session.scalar(select(Contact.unsubscribed_at)) is not None
        again = invitations.plan(
            db.session.scalar(select(Event)), invitations.Audience(remind=True)
        )
        assert again.total == 0
    assert app.test_client().post(url[:-2] + "xx").status_code == 404


@pytest.fixture
def submission_url(app, create_programme, create_contact):
    akson = create_programme()
    contact = create_contact("4601", name="Ola", email="ola@bergen.no")
    with within(app):
        return links.submission_url(contact.id, akson.id).removeprefix("http://webinars.test")


def test_a_municipality_hands_in_its_declaration_and_it_waits_for_an_organiser(
    app, client, submission_url
):
    page = client.get(submission_url)
    assert page.status_code == 200 and "Bergen" in page.text
    assert page.headers["Cache-Control"] == "no-store"

    response = client.post(
        submission_url,
        data={
            "csrf_token": form_token(page.text),
            "signed_by_name": "Marte Mjøs Persen",
            "signed_by_role": "Byrådsleder",
            "signed_on": "2020-06-12",
            "document": (io.BytesIO(PDF), "erklaering.pdf"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 303
    assert "Den signerte erklæringen er mottatt" in client.get(response.headers["Location"]).text
    with within(app):
        [declaration] = db.session.scalars(select(Declaration)).all()
        assert (declaration.status, declaration.recorded_by) == ("submitted", "ola@bergen.no")
        assert (
            declarations.accepted_of(db.session.get(Programme, declaration.programme_id), "4601")
            is None
        )


def test_a_handed_in_file_that_is_not_a_pdf_is_refused(app, client, submission_url):
    page = client.get(submission_url).text

    response = client.post(
        submission_url,
        data={
            "csrf_token": form_token(page),
            "signed_by_name": "Marte",
            "signed_by_role": "Byrådsleder",
            "signed_on": "2020-06-12",
            "document": (io.BytesIO(b"GIF89a"), "erklaering.pdf"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 422 and "Filen er ikke en PDF." in response.text
    with within(app):
        assert db.session.scalars(select(Declaration)).all() == []


def test_a_tampered_submission_link_is_refused(client, submission_url):
    response = client.get(submission_url[:-4] + "abcd")

    assert response.status_code == 404
    assert "Lenken kan være feil" in response.text
    assert client.post(submission_url[:-4] + "abcd", data={}).status_code in (400, 404)


def test_the_programme_feed_is_public_and_has_no_private_links(
    client, create_event, create_programme
):
    meeting = create_event(slug="akson-stormote", title="Stormøte")
    create_event(slug="utkast", status="draft")
    create_event(slug="annet")  # not in the programme
    create_programme([meeting])

    response = client.get("/programmes/akson/calendar.ics")

    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    assert calendar["METHOD"] == "PUBLISH" and calendar["X-WR-CALNAME"] == "Akson"
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["Stormøte"]
    assert b"meet.example.org" not in response.data
    assert b"/r/" not in response.data and b"/i/" not in response.data
    assert client.get("/programmes/finnes-ikke/calendar.ics").status_code == 404


def test_public_pages_never_show_personal_links(client, invited, create_event):
    for path in ("/", "/events/akson-stormote", "/calendar.ics"):
        body = client.get(path).get_data(as_text=True)
        assert "/i/" not in body and "/u/" not in body and "/d/" not in body
    assert date.today()  # (the invited fixture ran)
