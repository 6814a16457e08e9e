"""Recordings and material: the organiser's page, the public page, and the mail sent once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.support import deliver, form_token, html_part, outbox, text_part, within
from webinars import recordings, registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import outbox as mail_outbox
from webinars.models import Event, OutboxMessage, utcnow

ROUND = re.compile(r'name="round" type="hidden" value="([^"]*)"')
VIDEO = "https://video.example.org/akson-1"


def form_data(client, slug, **fields) -> dict:
    """What the browser posts: the page's CSRF token and round, plus the given fields."""
    page = client.get(f"/organiser/events/{slug}/recording")
    data = {
        "csrf_token": form_token(page.text),
        "round": ROUND.search(page.text).group(1),
        "recording_url": "",
    }
    data.update(fields)
    return data


def materials(*rows) -> dict:
    """Form fields for material rows: (title, url) or (title, url, position, remove)."""
    data = {}
    for i, row in enumerate(rows):
        title, url, *rest = row
        data[f"materials-{i}-title"] = title
        data[f"materials-{i}-url"] = url
        data[f"materials-{i}-position"] = str(rest[0]) if rest else str(i + 1)
        if len(rest) > 1 and rest[1]:
            data[f"materials-{i}-remove"] = "y"
    return data


def recording_mails(app) -> list[OutboxMessage]:
    """The queued "recording is available" mails, oldest first."""
    return [m for m in outbox(app) if m.kind == mail_outbox.RECORDING.name]


def delivered(app, smtp) -> dict[str, object]:
    """Deliver the outbox; the received messages by recipient."""
    deliver(app)
    return {envelope.rcpt_tos[0]: message for envelope, message in smtp.messages}


def saved_event(app, event_id: int) -> tuple[str, list[tuple[str, str, int]]]:
    """The event's recording link and its material rows (title, url, position) as stored."""
    with within(app):
        event = db.session.get(Event, event_id)
        return event.recording_url, [(m.title, m.url, m.position) for m in event.materials]


# --- saving and the public page ---------------------------------------------------------------


def test_recording_and_material_reach_the_page_and_each_registrant_once(
    mail_app, signed_in, past_event, smtp, client
):
    slug, join_url = past_event.slug, past_event.join_url
    data = form_data(signed_in, slug, recording_url=VIDEO) | materials(
        ("Presentasjon (PDF)", "https://www.ks.no/akson/presentasjon.pdf"),
        ("Intensjonserklæringen", "https://www.ks.no/akson/erklaering"),
    )

    saved = signed_in.post(f"/organiser/events/{slug}/recording", data=data)

    assert saved.status_code == 303
    assert "2 påmeldte" in signed_in.get(saved.location).text
    public = client.get(f"/events/{slug}").text
    assert f'href="{VIDEO}"' in public and "Se opptaket" in public
    assert public.index("Presentasjon (PDF)") < public.index("Intensjonserklæringen")

    inbox = delivered(mail_app, smtp)
    # The confirmed and the waitlisted registrant; not the one who cancelled.
    assert sorted(inbox) == ["kari@kommune.no", "ola@kommune.no"]
    message = inbox["kari@kommune.no"]
    assert message["Subject"] == "Opptaket er tilgjengelig: Webinar 1: Støttemateriellet"
    body = text_part(message)
    assert VIDEO in body
    assert "https://www.ks.no/akson/presentasjon.pdf" in body
    assert f"http://webinars.test/events/{slug}" in body
    assert join_url not in body and join_url not in html_part(message)
    assert f'href="{VIDEO}"' in html_part(message)

    # Saving again, even with a new link, sends nothing: each registrant is told once.
    again = form_data(signed_in, slug, recording_url=VIDEO + "-v2")
    assert signed_in.post(f"/organiser/events/{slug}/recording", data=again).status_code == 303
    assert signed_in.post(f"/organiser/events/{slug}/recording", data=again).status_code == 303
    assert len(recording_mails(mail_app)) == 2
    assert f'href="{VIDEO}-v2"' in client.get(f"/events/{slug}").text


def test_notify_again_mails_everyone_once_more_and_a_resubmit_does_not(
    mail_app, signed_in, past_event, smtp
):
    slug = past_event.slug
    url = f"/organiser/events/{slug}/recording"
    signed_in.post(url, data=form_data(signed_in, slug, recording_url=VIDEO))
    delivered(mail_app, smtp)
    smtp.messages.clear()

    data = form_data(signed_in, slug, recording_url=VIDEO + "-rettet", notify_again="y")
    first = signed_in.post(url, data=data)
    resubmitted = signed_in.post(url, data=data)  # a double click: the same round as seen

    assert first.status_code == resubmitted.status_code == 303
    assert "allerede varslet" in signed_in.get(url).text
    inbox = delivered(mail_app, smtp)
    assert sorted(inbox) == ["kari@kommune.no", "ola@kommune.no"]
    assert len(smtp.messages) == 2
    assert inbox["ola@kommune.no"]["Subject"].startswith("Oppdatert opptak og materiell")
    assert VIDEO + "-rettet" in text_part(inbox["ola@kommune.no"])
    assert len(recording_mails(mail_app)) == 4


def test_notify_again_needs_a_recording_link(app, signed_in, past_event):
    url = f"/organiser/events/{past_event.slug}/recording"
    signed_in.post(url, data=form_data(signed_in, past_event.slug, recording_url=VIDEO))

    page = signed_in.post(url, data=form_data(signed_in, past_event.slug, notify_again="y"))

    assert page.status_code == 422
    assert "Legg inn lenken til opptaket før du varsler." in page.text
    assert saved_event(app, past_event.id)[0] == VIDEO


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"recording_url": "javascript:alert(1)"}, "Lenken må begynne med http:// eller https://."),
        (
            {"recording_url": "www.youtube.com/watch"},
            "Lenken må begynne med http:// eller https://.",
        ),
        (
            {"recording_url": "ftp://video.example.org/a"},
            "Lenken må begynne med http:// eller https://.",
        ),
        (
            materials(("Lysark", "data:text/html,hei")),
            "Lenken må begynne med http:// eller https://.",
        ),
        (materials(("Lysark", "")), "Skriv lenken."),
        (materials(("Lysark", "https://www.ks.no/akson", "først")), "Skriv et helt tall."),
        (materials(("", "https://www.ks.no/akson")), "Skriv en tittel."),
        (materials(("Lysark", "https://www.ks.no/a b")), "Lenken kan ikke inneholde mellomrom."),
    ],
)
def test_bad_links_are_field_errors_and_nothing_is_saved(
    app, signed_in, past_event, fields, message
):
    data = form_data(signed_in, past_event.slug, recording_url=VIDEO) | fields

    page = signed_in.post(f"/organiser/events/{past_event.slug}/recording", data=data)

    assert page.status_code == 422
    assert '<p class="error" id="' in page.text and message in page.text
    assert "error-summary" in page.text
    assert saved_event(app, past_event.id) == ("", [])
    assert recording_mails(app) == []


def test_material_can_be_added_edited_reordered_and_removed(app, signed_in, create_event, client):
    event = create_event()  # before the event: support material goes up in advance
    url = f"/organiser/events/{event.slug}/recording"
    signed_in.post(
        url,
        data=form_data(signed_in, event.slug)
        | materials(
            ("Første", "https://a.example/1"),
            ("Andre", "https://a.example/2"),
            ("Tredje", "https://a.example/3"),
        ),
    )
    page = signed_in.get(url).text
    assert 'value="Første"' in page and 'value="Tredje"' in page
    assert 'name="materials-5-title"' in page  # three rows saved, three empty ones to add more

    # Rename the first, move the third to the top, remove the second, add a new one last.
    signed_in.post(
        url,
        data=form_data(signed_in, event.slug)
        | materials(
            ("Første (ny versjon)", "https://a.example/1b", 2),
            ("Andre", "https://a.example/2", 3, True),
            ("Tredje", "https://a.example/3", 1),
            ("Fjerde", "https://a.example/4", ""),
            ("", "", ""),
        ),
    )

    assert saved_event(app, event.id)[1] == [
        ("Tredje", "https://a.example/3", 0),
        ("Første (ny versjon)", "https://a.example/1b", 1),
        ("Fjerde", "https://a.example/4", 2),
    ]
    public = client.get(f"/events/{event.slug}").text
    assert public.index("Tredje") < public.index("Første (ny versjon)") < public.index("Fjerde")
    assert "Andre" not in public
    assert recording_mails(app) == []  # material alone, before the event, mails nobody


# --- before the end, later registrants, other states ------------------------------------------


def test_recording_saved_before_the_end_is_mailed_by_the_job_after_it(
    mail_app, signed_in, create_event, create_registration, smtp
):
    event = create_event()
    create_registration(event, "kari@kommune.no", name="Kari")
    url = f"/organiser/events/{event.slug}/recording"

    signed_in.post(url, data=form_data(signed_in, event.slug, recording_url=VIDEO))

    assert "når arrangementet er over" in signed_in.get(url).text
    with within(mail_app):
        recordings.mail_due_recordings(event.ends_at - timedelta(minutes=1))
    assert [m.kind for m in recording_mails(mail_app)] == []
    with within(mail_app):
        recordings.mail_due_recordings(event.ends_at + timedelta(minutes=1))
        recordings.mail_due_recordings(event.ends_at + timedelta(minutes=2))
    assert [m.recipient for m in recording_mails(mail_app)] == ["kari@kommune.no"]

    # Someone the organiser adds after the event gets the mail too, and only they do.
    with within(mail_app):
        registrations.add_by_organiser(
            db.session.get(Event, event.id),
            name="Nils",
            email="nils@kommune.no",
            role="ordforer",
            municipality="1804",
        )
        recordings.mail_due_recordings(event.ends_at + timedelta(hours=1))
    assert [m.recipient for m in recording_mails(mail_app)] == [
        "kari@kommune.no",
        "nils@kommune.no",
    ]
    assert sorted(delivered(mail_app, smtp)) == ["kari@kommune.no", "nils@kommune.no"]


@pytest.mark.parametrize("status", [Event.DRAFT, Event.CANCELLED])
def test_no_recording_mail_for_unpublished_or_cancelled_events(app, signed_in, past_event, status):
    with within(app), write_transaction():
        db.session.execute(update(Event).where(Event.id == past_event.id).values(status=status))

    signed_in.post(
        f"/organiser/events/{past_event.slug}/recording",
        data=form_data(signed_in, past_event.slug, recording_url=VIDEO),
    )
    with within(app):
        recordings.mail_due_recordings(utcnow())

    assert recording_mails(app) == []
    assert (
        "ingen får e-post om opptaket"
        in signed_in.get(f"/organiser/events/{past_event.slug}/recording").text
    )


def test_the_page_needs_a_login(client, past_event):
    page = client.get(f"/organiser/events/{past_event.slug}/recording")
    assert page.status_code == 302 and "/organiser/login" in page.location


def test_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/recording").status_code == 404
