"""Inviting on the organiser pages: the count first, then the mails, once per contact."""

from __future__ import annotations

import re

from tests.support import form_token, outbox


def test_the_page_counts_before_sending_and_sending_twice_mails_nobody_twice(
    app, signed_in, create_event, create_programme, create_contact
):
    event = create_event(slug="akson-stormote", eligible_regions="Nord,Vest,Sør-Øst")
    create_programme([event])
    create_contact("0301")
    create_contact("4601")
    create_contact("4601", role="kommunedirektor")

    page = signed_in.get("/organiser/events/akson-stormote/invitations?county=46").text
    assert "Dette sender 2 invitasjoner og 0 påminnelser til kontakter i 1 kommuner." in page
    assert outbox(app) == []

    token = form_token(page)
    sent = signed_in.post(
        "/organiser/events/akson-stormote/invitations", data={"csrf_token": token, "county": "46"}
    )
    assert sent.status_code == 303
    after = signed_in.get(sent.headers["Location"]).text
    assert "2 invitasjoner og 0 påminnelser er lagt i utboksen (1 kommuner)." in after
    assert re.search(r"<dt>Invitert</dt><dd>2</dd>", after)

    again = signed_in.post(
        "/organiser/events/akson-stormote/invitations", data={"csrf_token": token}
    )
    assert "1 invitasjoner og 0 påminnelser" in signed_in.get(again.headers["Location"]).text
    assert len(outbox(app)) == 3
    assert {row.kind for row in outbox(app)} == {"invitation"}


def test_a_draft_cannot_be_invited_to(signed_in, create_event, create_contact):
    create_event(slug="utkast", status="draft")
    create_contact()

    page = signed_in.get("/organiser/events/utkast/invitations").text
    assert "det kan ikke sendes invitasjoner" in page
    response = signed_in.post(
        "/organiser/events/utkast/invitations", data={"csrf_token": form_token(page)}
    )
    assert response.status_code == 409 and "Publiser det" in response.text
