"""Organisers' participant pages: counts, search and filters, cancel, add by hand, capacity."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from conftest import sign_in
from sqlalchemy import func, select

from webinars import mail, services
from webinars import participants as roster
from webinars.extensions import db
from webinars.models import Event, OutboxMessage, Registration, utcnow

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def add(event, **fields) -> Registration:
    """A registration through the public service, as if made on the form."""
    values = {
        "name": "Kari Nordmann",
        "email": "kari@kommune.no",
        "role": "ordforer",
        "municipality": "0301",
        "organisation": "",
    }
    values.update(fields)
    return services.register(event, **values)[0]


def csrf(client, path: str) -> str:
    return TOKEN.search(client.get(path).text).group(1)


def statuses(event_id: int) -> dict[str, str]:
    """Each e-mail's status, read afresh (a new transaction sees other sessions' commits)."""
    db.session.commit()
    return dict(
        db.session.execute(
            select(Registration.email, Registration.status)
            .where(Registration.event_id == event_id)
            .order_by(Registration.id)
        ).all()
    )


def delivered(smtp) -> list[tuple[str, object]]:
    """Deliver the outbox to the test SMTP server; (recipient, message) pairs."""
    while mail.deliver_due():
        pass
    return [(envelope.rcpt_tos[0], message) for envelope, message in smtp.messages]


def calendar_method(message) -> str | None:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_param("method")
    return None


def names_listed(response) -> list[str]:
    """The names in the table's first column, in order."""
    body = response.text.split("<tbody>", 1)[-1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>\s*<td>([^<]*)</td>", body)


# --- counts, search and filters ---------------------------------------------------------------


def test_counts_by_status_and_seats_left(signed_in, create_event):
    event = create_event(capacity=3, waitlist=True)
    people = [add(event, name=f"Person {n}", email=f"p{n}@kommune.no") for n in range(5)]
    services.cancel(people[0])  # the first on the waiting list (Person 3) gets the seat

    page = signed_in.get(f"/organiser/events/{event.slug}/participants")

    assert page.status_code == 200
    assert "<dt>Påmeldt</dt><dd>3</dd>" in page.text
    assert "<dt>Venteliste</dt><dd>1</dd>" in page.text
    assert "<dt>Avbestilt</dt><dd>1</dd>" in page.text
    assert "<dt>Ledige plasser</dt>" in page.text and "0 av 3" in page.text
    assert names_listed(page) == [f"Person {n}" for n in range(5)]


def test_unlimited_event_says_so(signed_in, create_event):
    event = create_event()
    add(event)

    page = signed_in.get(f"/organiser/events/{event.slug}/participants")

    assert "<dt>Påmeldt</dt><dd>1</dd>" in page.text
    assert "Ubegrenset" in page.text


@pytest.fixture
def crowd(create_event):
    """An event with people from Oslo, Bergen and Bodø in different roles and states."""
    event = create_event(slug="akson-stormote")
    add(event, name="Kari Ærlig", email="kari@oslo.kommune.no", municipality="0301")
    add(
        event,
        name="Ola Berg",
        email="ola@bergen.kommune.no",
        municipality="4601",
        role="kommunalsjef",
        organisation="Helse Vest",
    )
    add(
        event,
        name="Åse Øyen",
        email="ase@bodo.kommune.no",
        municipality="1804",
        organisation="ØRSTA RÅD 100%",
    )
    gone = add(event, name="Per Vik", email="per@bergen.kommune.no", municipality="4601")
    services.cancel(gone)
    return event


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["Kari Ærlig", "Ola Berg", "Åse Øyen", "Per Vik"]),
        ("q=ærlig", ["Kari Ærlig"]),  # Æ folded to æ on SQLite too
        ("q=ÅSE", ["Åse Øyen"]),
        ("q=bergen.kommune", ["Ola Berg", "Per Vik"]),  # e-mail
        ("q=BERG", ["Ola Berg", "Per Vik"]),  # name or e-mail, any case
        ("q=øyen", ["Åse Øyen"]),
        ("q=helse+vest", ["Ola Berg"]),  # organisation, every word must match
        ("q=ørsta+råd", ["Åse Øyen"]),
        ("q=100%25", ["Åse Øyen"]),  # % is a character, not a wildcard
        ("q=%25", ["Åse Øyen"]),
        ("q=_", []),
        ("municipality=4601", ["Ola Berg", "Per Vik"]),
        ("county=18", ["Åse Øyen"]),
        ("role=kommunalsjef", ["Ola Berg"]),
        ("status=cancelled", ["Per Vik"]),
        ("county=46&status=confirmed", ["Ola Berg"]),
        ("status=nonsense", ["Kari Ærlig", "Ola Berg", "Åse Øyen", "Per Vik"]),
    ],
)
def test_search_and_filters(signed_in, crowd, query, expected):
    page = signed_in.get(f"/organiser/events/akson-stormote/participants?{query}")

    assert page.status_code == 200
    assert names_listed(page) == expected


def test_filtered_view_is_a_shareable_url_and_exports_follow_it(signed_in, crowd):
    base = "/organiser/events/akson-stormote/participants"

    page = signed_in.get(f"{base}?county=46&role=kommunalsjef")

    assert '<option value="46" selected>Vestland</option>' in page.text
    assert '<option value="kommunalsjef" selected>' in page.text
    assert "1 treff." in page.text
    assert f'href="{base}.csv?county=46&amp;role=kommunalsjef"' in page.text
    assert f'href="{base}.csv?sep=semicolon&amp;county=46&amp;role=kommunalsjef"' in page.text
    assert f'href="{base}.xlsx?county=46&amp;role=kommunalsjef"' in page.text
    # Only municipalities and counties that occur are offered as filters.
    assert '<option value="1804">Bodø (1804)</option>' in page.text
    assert 'value="5001"' not in page.text


def test_pages(signed_in, create_event, monkeypatch):
    monkeypatch.setattr(roster, "PAGE_SIZE", 2)
    event = create_event()
    for n in range(5):
        add(event, name=f"Person {n}", email=f"p{n}@kommune.no")
    url = f"/organiser/events/{event.slug}/participants"

    first, last = signed_in.get(url), signed_in.get(f"{url}?page=3")

    assert names_listed(first) == ["Person 0", "Person 1"]
    assert "Side 1 av 3" in first.text and 'rel="next"' in first.text
    assert names_listed(last) == ["Person 4"]
    assert 'rel="prev"' in last.text and 'rel="next"' not in last.text
    beyond = signed_in.get(f"{url}?page=9")
    assert "Siden finnes ikke" in beyond.text
    assert "Ingen har meldt seg på" not in beyond.text


def test_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/participants").status_code == 404


# --- cancelling -------------------------------------------------------------------------------


def test_organiser_cancel_asks_first_then_mails_and_moves_the_waitlist(
    mail_app, signed_in, create_event, smtp
):
    event = create_event(capacity=1, waitlist=True, title="Akson stormøte")
    kari = add(event, name="Kari", email="kari@kommune.no")
    add(event, name="Ola", email="ola@kommune.no")
    add(event, name="Per", email="per@kommune.no")
    slug, event_id = event.slug, event.id
    url = f"/organiser/events/{slug}/participants/{kari.id}/cancel"
    delivered(smtp)  # the confirmations
    smtp.messages.clear()

    confirm = signed_in.get(f"{url}?status=confirmed")

    assert confirm.status_code == 200
    assert "Kari (kari@kommune.no)" in confirm.text
    assert '<input type="hidden" name="status" value="confirmed">' in confirm.text
    assert statuses(event_id) == {
        "kari@kommune.no": "confirmed",
        "ola@kommune.no": "waitlisted",
        "per@kommune.no": "waitlisted",
    }

    token = TOKEN.search(confirm.text).group(1)
    response = signed_in.post(url, data={"csrf_token": token, "status": "confirmed"})

    assert response.status_code == 303
    assert response.headers["Location"] == (
        f"/organiser/events/{slug}/participants?status=confirmed"
    )
    # The first in line gets the seat; the next one keeps waiting.
    assert statuses(event_id) == {
        "kari@kommune.no": "cancelled",
        "ola@kommune.no": "confirmed",
        "per@kommune.no": "waitlisted",
    }
    assert db.session.get(Event, event_id).seats_taken == 1
    after = signed_in.get(response.headers["Location"])
    assert "Påmeldingen til Kari er avbestilt" in after.text
    assert "Ola fikk plassen fra ventelisten" in after.text

    mails = dict(delivered(smtp))
    assert set(mails) == {"kari@kommune.no", "ola@kommune.no"}
    assert calendar_method(mails["kari@kommune.no"]) == "CANCEL"
    assert "Arrangøren har avbestilt" in mails["kari@kommune.no"].get_body(("plain",)).get_content()
    assert calendar_method(mails["ola@kommune.no"]) == "REQUEST"
    assert "http://webinars.test/r/" in mails["ola@kommune.no"].get_body(("plain",)).get_content()


def test_cancel_twice_changes_nothing(signed_in, create_event):
    event = create_event()
    kari = add(event)
    url = f"/organiser/events/{event.slug}/participants/{kari.id}/cancel"
    token = csrf(signed_in, url)
    signed_in.post(url, data={"csrf_token": token})
    outbox_before = db.session.scalar(select(func.count()).select_from(OutboxMessage))

    again = signed_in.post(url, data={"csrf_token": token}, follow_redirects=True)

    assert "allerede avbestilt" in again.text
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before


def test_cancel_needs_the_registration_to_belong_to_the_event(signed_in, create_event):
    one, other = create_event(), create_event()
    kari = add(one)

    response = signed_in.get(f"/organiser/events/{other.slug}/participants/{kari.id}/cancel")

    assert response.status_code == 404


# --- adding by hand ---------------------------------------------------------------------------

FORM = {
    "name": "Ola Nordmann",
    "email": "Ola@Bergen.Kommune.no",
    "role": "kommunedirektor",
    "municipality": "4601",
    "organisation": "Bergen kommune",
}


def post_add(client, event, **fields):
    url = f"/organiser/events/{event.slug}/participants/add"
    data = dict(FORM, csrf_token=csrf(client, url))
    data.update(fields)
    return client.post(url, data=data)


def test_add_by_hand_sends_the_confirmation_with_a_manage_link(
    mail_app, signed_in, create_event, smtp
):
    event = create_event(title="Akson webinar 1")

    response = post_add(signed_in, event)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/organiser/events/{event.slug}/participants"
    assert statuses(event.id) == {"ola@bergen.kommune.no": "confirmed"}
    page = signed_in.get(response.headers["Location"])
    assert "Ola Nordmann er påmeldt" in page.text
    [(recipient, message)] = delivered(smtp)
    assert recipient == "ola@bergen.kommune.no"
    assert calendar_method(message) == "REQUEST"
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"http://webinars\.test(/r/[A-Za-z0-9_-]+)", text).group(1)
    # The link in the mail is the registrant's own page.
    assert "Akson webinar 1" in signed_in.get(link).text


@pytest.mark.parametrize(
    "window",
    [
        {"deadline_days_before": None, "deadline_at": utcnow() - timedelta(hours=1)},
        {"registration_opens_at": utcnow() + timedelta(days=3)},
    ],
    ids=["after-deadline", "before-opening"],
)
def test_organisers_may_add_outside_the_registration_window(signed_in, create_event, window):
    event = create_event(**window)
    with pytest.raises((services.DeadlinePassed, services.NotOpenYet)):
        add(event)  # the public way is closed

    response = post_add(signed_in, event)

    assert response.status_code == 303
    assert statuses(event.id) == {"ola@bergen.kommune.no": "confirmed"}


def test_add_by_hand_validates_like_the_public_form(signed_in, create_event):
    event = create_event(eligible_regions="Nord,Vest,Sør-Øst")

    response = post_add(signed_in, event, name="", email="ikke-en-adresse", municipality="5001")

    assert response.status_code == 422
    assert 'id="name-error">Skriv navnet ditt.' in response.text
    assert 'id="email-error">Skriv en gyldig e-postadresse' in response.text
    assert 'id="municipality-error">Velg en kommune fra listen' in response.text
    assert statuses(event.id) == {}


def test_add_by_hand_keeps_capacity_and_duplicate_rules(signed_in, create_event):
    event = create_event(capacity=1, waitlist=False)
    assert post_add(signed_in, event).status_code == 303

    full = post_add(signed_in, event, email="kari@kommune.no")
    again = post_add(signed_in, event, email="OLA@bergen.kommune.no")

    assert full.status_code == 409
    assert "Arrangementet er fullt" in full.text
    assert again.status_code == 303
    assert "var allerede påmeldt" in signed_in.get(again.headers["Location"]).text
    assert statuses(event.id) == {"ola@bergen.kommune.no": "confirmed"}
    assert db.session.get(Event, event.id).seats_taken == 1


def test_add_by_hand_goes_to_the_waiting_list_when_full(signed_in, create_event):
    event = create_event(capacity=1, waitlist=True)
    add(event)

    response = post_add(signed_in, event)

    assert response.status_code == 303
    assert "satt på ventelisten" in signed_in.get(response.headers["Location"]).text
    assert statuses(event.id)["ola@bergen.kommune.no"] == "waitlisted"


@pytest.mark.parametrize(
    "status, code, words",
    [("draft", 409, "ikke publisert"), ("cancelled", 410, "avlyst")],
)
def test_add_by_hand_refused_for_drafts_and_cancelled_events(
    signed_in, create_event, status, code, words
):
    event = create_event(status=status)

    response = post_add(signed_in, event)

    assert response.status_code == code
    assert words in response.text
    assert statuses(event.id) == {}


# --- capacity under concurrency ---------------------------------------------------------------


@pytest.mark.parametrize("waitlist", [False, True], ids=["no-waitlist", "waitlist"])
def test_seats_are_never_oversold_under_concurrent_adds_and_registrations(
    app, create_event, waitlist
):
    event = create_event(capacity=5, waitlist=waitlist)
    slug, event_id = event.slug, event.id
    add_url = f"/organiser/events/{slug}/participants/add"
    requests = []
    for n in range(8):
        # A fresh app context per client: Flask-WTF caches the CSRF token in `g`.
        with app.app_context():
            organiser = sign_in(app.test_client(), email=f"arr{n}@ks.test")
            token = csrf(organiser, add_url)
        requests.append(
            (organiser, add_url, dict(FORM, email=f"org{n}@kommune.no", csrf_token=token))
        )
        with app.app_context():
            public = app.test_client()
            token = csrf(public, f"/events/{slug}")
        requests.append(
            (
                public,
                f"/events/{slug}/register",
                dict(FORM, email=f"pub{n}@kommune.no", csrf_token=token),
            )
        )
    start = threading.Barrier(len(requests))
    codes: list[int] = []

    def post(client, url, data):
        with app.app_context():
            start.wait()
            codes.append(client.post(url, data=data).status_code)

    threads = [threading.Thread(target=post, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    found = statuses(event_id)
    assert len(codes) == 16
    assert list(found.values()).count("confirmed") == 5
    assert db.session.get(Event, event_id).seats_taken == 5
    if waitlist:
        assert sorted(codes) == [303] * 16
        assert list(found.values()).count("waitlisted") == 11
    else:
        assert sorted(codes) == [303] * 5 + [409] * 11
        assert len(found) == 5


# --- anonymous visitors -------------------------------------------------------------------------


def test_participant_pages_require_login(client, create_event):
    event = create_event()
    kari = add(event)
    base = f"/organiser/events/{event.slug}/participants"
    # A CSRF token from a public page, so the POSTs are refused for the login, not the token.
    token = TOKEN.search(client.get(f"/events/{event.slug}").text).group(1)

    responses = [
        client.get(base),
        client.get(f"{base}?q=kari"),
        client.get(f"{base}/add"),
        client.get(f"{base}/{kari.id}/cancel"),
        client.post(f"{base}/{kari.id}/cancel", data={"csrf_token": token}),
        client.post(f"{base}/add", data=dict(FORM, csrf_token=token)),
    ]

    for response in responses:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/organiser/login")
        assert "kari@kommune.no" not in response.text
    assert statuses(event.id) == {"kari@kommune.no": "confirmed"}
