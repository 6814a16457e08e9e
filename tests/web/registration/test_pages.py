"""The programme, event and registrant pages, rendered once per version of what they show.

A page served from this worker's copy must be the page a fresh rendering would give this
visitor: their own CSRF token (which registers them), their own messages, and whatever any
worker changed since the copy was made. Each change below is made by another worker after
this one has rendered (and kept) the page.
"""

import re
from datetime import timedelta

import pytest
from flask import render_template
from sqlalchemy import update

from tests.support import form_token, set_row
from webinars import recordings, registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import (
    Event,
    Municipality,
    Programme,
    Registration,
    RegistrationToken,
    utcnow,
)
from webinars.registration.pages import StandIn, marker

#: When the rows were last saved.
SAVED = utcnow().replace(microsecond=0) - timedelta(minutes=5)


@pytest.fixture
def event(app, create_event, create_programme):
    """The meeting and a webinar, each one seat and a waiting list, in one programme."""
    meeting = create_event(slug="stormote", title="Stormøte om Akson", capacity=1, waitlist=True)
    webinar = create_event(
        slug="webinar", title="Webinar om erklæringen", capacity=1, waitlist=True
    )
    programme = create_programme([meeting, webinar])
    for row in (meeting, webinar):
        set_row(app, row, updated_at=SAVED)
    set_row(app, programme, Programme, updated_at=SAVED)
    return meeting


def set_quietly(app, slug: str, **fields) -> None:
    """Change an event's row in `app` leaving its `updated_at`, as taking a seat does."""
    with app.app_context():
        with write_transaction():
            db.session.execute(
                update(Event).filter_by(slug=slug).values(**fields, updated_at=Event.updated_at)
            )
        db.engine.dispose()


def _without_token(html: str) -> str:
    """The page with its CSRF tokens (if it has a form) taken out."""
    return re.sub(r'(csrf_token"[^>]*value=")[^"]+"', r'\1"', html)


def test_every_visitor_gets_the_kept_page_with_their_own_token(app, event):
    first, second = app.test_client(), app.test_client()
    rendered = first.get("/events/stormote").text
    kept = second.get("/events/stormote").text

    assert form_token(kept) != form_token(rendered)
    assert _without_token(kept) == _without_token(rendered)
    # Both forms on the page (registration, send-link) carry the visitor's token.
    assert kept.count(form_token(kept)) == 2
    for client, page in ((first, rendered), (second, kept)):
        answer = client.post(
            "/events/stormote/register",
            data={
                "csrf_token": form_token(page),
                "name": "Kari Nordmann",
                "email": f"kari{id(client)}@kommune.no",
                "role": "ordforer",
                "municipality": "4601",
            },
        )
        assert answer.status_code == 303, answer.text


def _change_title(other, event):
    set_row(other, event, title="Stormøte, ny tittel")
    return "Stormøte, ny tittel"


def _add_material(other, event):
    with other.test_request_context():
        recordings.save_recording(
            db.session.get(Event, event.id),
            recording_url="",
            materials=[recordings.MaterialLink("Lysark", "https://ks.test/l.pdf")],
        )
        db.engine.dispose()
    return "https://ks.test/l.pdf"


def _take_the_seat(other, event):
    # A registration moves the seat count, not the row's `updated_at`.
    set_quietly(other, "stormote", seats_taken=1)
    return "Alle plassene er tatt"


def _rename_the_programme(other, event):
    set_row(other, _programme(other), Programme, title="Akson 2020")
    return "Alle arrangementene i Akson 2020"


def _programme(other):
    with other.app_context():
        return db.session.scalar(db.select(Programme))


def _fill_the_webinar(other, event):
    set_quietly(other, "webinar", seats_taken=1)
    return "fullt: du kommer på ventelisten"


@pytest.mark.parametrize(
    "change",
    [_change_title, _add_material, _take_the_seat, _rename_the_programme, _fill_the_webinar],
    ids=["title", "material", "seats", "programme", "another event's seats"],
)
def test_a_change_by_another_worker_shows_on_the_next_visit(client, other_worker, event, change):
    before = client.get("/events/stormote").text
    shown = change(other_worker, event)
    assert shown not in before
    assert shown in client.get("/events/stormote").text
    assert shown in client.get("/events/stormote").text  # and in the page kept for it


def test_a_municipality_leaving_the_register_leaves_the_kept_form(
    client, other_worker, event, restore_register
):
    assert ">Bergen (Vestland)</option>" in client.get("/events/stormote").text
    with other_worker.app_context():
        with write_transaction():
            db.session.get(Municipality, "4601").active = False
        db.engine.dispose()
    assert "Bergen (Vestland)" not in client.get("/events/stormote").text


def test_the_deadline_passing_closes_the_kept_form(client, other_worker, event):
    assert 'name="csrf_token"' in client.get("/events/stormote").text
    # The clock, not the row: the deadline is now behind us though `updated_at` is unchanged.
    past = utcnow() - timedelta(minutes=1)
    set_quietly(other_worker, "stormote", deadline_days_before=None, deadline_at=past)
    page = client.get("/events/stormote").text
    assert "Påmeldingsfristen har gått ut." in page
    assert "Meld meg på" not in page


def test_the_front_page_follows_seats_the_clock_and_new_events(
    client, other_worker, event, create_event
):
    before = client.get("/").text
    full = "fullt, men du kan stå på ventelisten"
    assert "Webinar om erklæringen" in before and full not in before
    _fill_the_webinar(other_worker, event)
    assert full in client.get("/").text

    past = utcnow() - timedelta(minutes=1)
    set_quietly(other_worker, "webinar", deadline_days_before=None, deadline_at=past)
    assert "Påmeldingen er stengt." in client.get("/").text

    later = create_event(slug="webinar-2", title="Webinar to", status=Event.DRAFT)
    set_row(other_worker, later, status=Event.PUBLISHED)
    assert "Webinar to" in client.get("/").text


def test_a_message_for_one_visitor_is_never_kept_for_another(app, event):
    first, second = app.test_client(), app.test_client()
    first.get("/events/stormote")  # the page is kept
    with first.session_transaction() as session:
        session["_flashes"] = [("message", "Bare til deg")]
    assert "Bare til deg" in first.get("/events/stormote").text
    assert "Bare til deg" not in second.get("/events/stormote").text
    assert "Bare til deg" not in first.get("/events/stormote").text  # shown once


def test_the_link_sent_note_is_only_on_its_own_visitors_page(app, event):
    first, second = app.test_client(), app.test_client()
    page = first.get("/events/stormote").text
    answer = first.post(
        "/events/stormote/link",
        data={"csrf_token": form_token(page), "link-email": "kari@kommune.no"},
    )
    assert answer.status_code == 303
    assert "kari@kommune.no" in first.get("/events/stormote").text
    assert "kari@kommune.no" not in second.get("/events/stormote").text
    assert "kari@kommune.no" not in first.get("/events/stormote").text


def test_a_page_with_a_query_gets_its_own_language_links(client, event):
    client.get("/events/stormote")  # the page is kept
    tagged = client.get("/events/stormote?utm_source=nyhetsbrev").text
    assert "?utm_source=nyhetsbrev&amp;lang=nn" in tagged
    plain = client.get("/events/stormote").text
    assert "utm_source" not in plain and 'href="?lang=nn"' in plain


def test_each_language_has_its_own_copy(client, event):
    assert 'lang="nb"' in client.get("/events/stormote").text
    english = client.get("/events/stormote?lang=en").text
    assert '<html lang="en">' in english and "Register" in english
    # The session keeps English: the bokmål copy is not served to it.
    assert '<html lang="en">' in client.get("/events/stormote").text


# --- the registrant's own page ----------------------------------------------------------------


def _registrant(app, event, token: str, name: str, email: str, municipality: str, **fields):
    """A registration straight in the database, reachable at /r/<token>."""
    with app.app_context():
        with write_transaction():
            db.session.add(
                Registration(
                    event_id=event.id,
                    name=name,
                    email=email,
                    role="ordforer",
                    municipality_number=municipality,
                    tokens=[RegistrationToken(token_hash=registrations.hash_token(token))],
                    **fields,
                )
            )
        db.engine.dispose()
    return f"/r/{token}"


def _rendered_afresh(app, path: str) -> str:
    """The registrant's page rendered from the real row, as the page was before any copy."""
    token = path.rsplit("/", 1)[1]
    with app.test_request_context(path):
        registration = registrations.find_by_token(token)
        event = registration.event
        series = registrations.series_choices(event)
        return render_template(
            "registration/manage.html",
            registration=registration,
            event=event,
            token=token,
            now=utcnow(),
            position=registrations.waitlist_position(registration),
            just_cancelled=False,
            just_registered=None,
            series=series,
            mine=registrations.statuses_of(registration.email, [e.id for e in series]),
        )


PEOPLE = [
    ("tok-kari", "Kari O'Brien & <Søn>", 'kari+"akson"@kommune.no', "4601"),
    ("tok-ola", "Ola «Nordmann»", "ola@kommune.no", "0301"),
]


def test_each_registrant_gets_their_own_page_from_the_copy(app, event):
    paths = [_registrant(app, event, *person) for person in PEOPLE]
    for path in paths * 2:  # the second round is served from the copy
        page = app.test_client().get(path)
        assert page.headers["Cache-Control"] == "no-store"
        assert _without_token(page.text) == _without_token(_rendered_afresh(app, path))
    kari, ola = (app.test_client().get(path).text for path in paths)
    assert "Kari O&#39;Brien &amp; &lt;Søn&gt;" in kari and "Ola" not in kari
    assert "ola@kommune.no" in ola and "Kari" not in ola and "Bergen" not in ola
    assert "/r/tok-ola/cancel" in ola and "tok-kari" not in ola


def test_each_status_place_in_line_and_series_has_its_own_page(app, event):
    waiting = Registration.WAITLISTED
    confirmed = _registrant(app, event, "tok-a", "Anne", "anne@kommune.no", "0301")
    first = _registrant(app, event, "tok-b", "Bjørn", "bjorn@kommune.no", "0301", status=waiting)
    second = _registrant(app, event, "tok-c", "Cato", "cato@kommune.no", "0301", status=waiting)
    cancelled = _registrant(
        app, event, "tok-d", "Dina", "dina@kommune.no", "0301", status="cancelled"
    )
    with app.app_context():
        webinar = db.session.scalar(db.select(Event).filter_by(slug="webinar"))
    _registrant(app, webinar, "tok-e", "Anne", "anne@kommune.no", "0301")
    also = _registrant(app, event, "tok-f", "Frida", "frida@kommune.no", "0301")
    client = app.test_client()
    paths = (confirmed, first, second, cancelled, also)
    pages = {path: client.get(path).text for path in paths}
    assert "https://meet.example.org/secret-" in pages[confirmed]
    assert "nummer 1" in pages[first] and "secret-" not in pages[first]
    assert "nummer 2" in pages[second]
    assert "Avbestilt" in pages[cancelled] and "secret-" not in pages[cancelled]
    assert "Du er påmeldt" in pages[confirmed] and "Du er påmeldt" not in pages[also]
    for path in paths:
        assert _without_token(client.get(path).text) == _without_token(_rendered_afresh(app, path))


def test_a_new_join_link_shows_on_every_registrants_next_visit(client, other_worker, event):
    path = _registrant(client.application, event, "tok-a", "Anne", "anne@kommune.no", "0301")
    assert "https://meet.example.org/secret-" in client.get(path).text
    set_row(other_worker, event, join_url="https://meet.example.org/ny-lenke")
    page = client.get(path).text
    assert "https://meet.example.org/ny-lenke" in page and "secret-" not in page


def test_a_template_asking_a_stand_in_for_more_fails_loudly():
    stand_in = StandIn("registration", name=marker("name"))
    assert stand_in.name == marker("name")
    with pytest.raises(LookupError, match="registration.organisation"):
        stand_in.organisation  # noqa: B018 (the attribute access is the test)
    assert not hasattr(stand_in, "__html__")  # escaping it is not asking for a field


def test_another_event_filling_up_shows_on_the_registrants_next_visit(client, other_worker, event):
    path = _registrant(client.application, event, "tok-a", "Anne", "anne@kommune.no", "0301")
    assert "Sett meg på ventelisten" not in client.get(path).text
    _fill_the_webinar(other_worker, event)
    assert "Sett meg på ventelisten" in client.get(path).text


def test_a_registrants_page_with_a_query_or_a_message_is_rendered_for_them(app, event):
    path = _registrant(app, event, "tok-a", "Anne Ås", "anne@kommune.no", "0301")
    client = app.test_client()
    client.get(path)  # the copy is kept
    tagged = client.get(f"{path}?utm_source=epost")
    assert tagged.status_code == 200 and "Anne Ås" in tagged.text
    assert "?utm_source=epost&amp;lang=nn" in tagged.text
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "Bare til Anne")]
    page = client.get(path).text
    assert "Bare til Anne" in page and "Anne Ås" in page and "/r/tok-a/cancel" in page
