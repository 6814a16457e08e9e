"""A series in one go: one submit registers for several events of a programme, and the
pages after registering offer the programme's other open events with one click."""

import re
import threading
from datetime import timedelta

import icalendar
import pytest
from sqlalchemy import func, select

from tests.support import calendar_parts, csrf_from_session, form_token, outbox, within
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import messages
from webinars.models import Event, OutboxMessage, Registration, utcnow

PERSON = {"name": "Kari Nordmann", "role": "ordforer", "municipality": "0301"}


def count(app, model, *where) -> int:
    with within(app):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def nothing_stored(app) -> bool:
    return count(app, Registration) == 0 and count(app, OutboxMessage) == 0


def registrations_of(app, email: str) -> dict[str, str]:
    """The address's registrations: status by event slug."""
    with within(app):
        rows = db.session.execute(
            select(Event.slug, Registration.status)
            .join(Registration.event)
            .where(Registration.email == email)
        )
        return dict(rows.all())


def composed(app, row: OutboxMessage):
    with within(app):
        return messages.compose(db.session.get(OutboxMessage, row.id))


def change(app, event, **fields):
    with within(app), write_transaction():
        row = db.session.get(Event, event.id)
        for name, value in fields.items():
            setattr(row, name, value)


@pytest.fixture
def series(create_event, create_programme):
    """Akson: the meeting and three webinars, a week apart, in one programme."""
    start = (utcnow() + timedelta(days=14)).replace(minute=0, second=0, microsecond=0)
    events = [
        create_event(
            slug=slug,
            title=title,
            starts_at=start + timedelta(days=7 * n),
            ends_at=start + timedelta(days=7 * n, hours=1),
        )
        for n, (slug, title) in enumerate(
            [
                ("stormote", "Nasjonalt stormøte"),
                ("webinar-1", "Webinar 1: Støttemateriellet"),
                ("webinar-2", "Webinar 2: Intensjonserklæringen"),
                ("webinar-3", "Webinar 3: Styringsdokumentet"),
            ]
        )
    ]
    create_programme(events)
    return events


def post(client, slug: str, events=(), **fields):
    """The form as a browser posts it, with the ticked events."""
    page = client.get(f"/events/{slug}")
    data = {**PERSON, "email": "kari@kommune.no", "organisation": "", **fields}
    data["csrf_token"] = form_token(page.text)
    data["events"] = list(events)
    return client.post(f"/events/{slug}/register", data=data)


# --- the form -------------------------------------------------------------------------------


def test_the_form_offers_the_programmes_other_open_events(app, client, series, create_event):
    start = series[0].starts_at
    full = create_event(slug="full", title="Fullt webinar", capacity=1, seats_taken=1)
    queue = create_event(
        slug="queue", title="Med venteliste", capacity=1, seats_taken=1, waitlist=True
    )
    closed = create_event(
        slug="closed",
        title="Stengt",
        deadline_days_before=None,
        deadline_at=utcnow() - timedelta(hours=1),
    )
    draft = create_event(slug="draft", title="Utkast", status=Event.DRAFT)
    cancelled = create_event(slug="cancelled", title="Avlyst webinar", status=Event.CANCELLED)
    with within(app), write_transaction():
        for extra in (full, queue, closed, draft, cancelled):
            db.session.get(Event, extra.id).programme_id = db.session.get(
                Event, series[0].id
            ).programme_id
    create_event(slug="elsewhere", title="Annet program", starts_at=start)

    page = client.get("/events/stormote").text

    offered = re.findall(r'name="events" value="([^"]+)"', page)
    assert offered == ["queue", "webinar-1", "webinar-2", "webinar-3"]  # by start
    assert "Nasjonalt stormøte (dette arrangementet)" in page
    assert "Med venteliste (fullt: du kommer på ventelisten)" in page
    for absent in ("Fullt webinar", "Stengt", "Utkast", "Avlyst webinar", "Annet program"):
        assert absent not in page


def test_an_event_outside_a_programme_has_no_series_field(client, create_event):
    create_event(slug="alone")
    assert 'name="events"' not in client.get("/events/alone").text


# --- one submit, four registrations ------------------------------------------------------------


def test_one_submit_registers_for_each_ticked_event(app, client, series):
    response = post(client, "stormote", events=["webinar-1", "webinar-2", "webinar-3"])

    assert response.status_code == 303
    assert registrations_of(app, "kari@kommune.no") == {
        "stormote": "confirmed",
        "webinar-1": "confirmed",
        "webinar-2": "confirmed",
        "webinar-3": "confirmed",
    }
    mails = outbox(app)
    assert [m.kind for m in mails] == ["confirmation"] * 4
    by_event = {}
    tokens = set()
    for row in mails:
        message = composed(app, row)
        [part] = calendar_parts(message)
        assert part.get_content_type() == "text/calendar"
        assert part.get_param("method") == "REQUEST"
        calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
        assert calendar["METHOD"] == "REQUEST"
        [vevent] = calendar.walk("VEVENT")  # one event per invitation, as Outlook expects
        by_event[str(vevent["UID"])] = str(vevent["SUMMARY"])
        assert str(vevent["ATTENDEE"]) == "mailto:kari@kommune.no"
        assert str(vevent["SUMMARY"]) in message["Subject"]
        tokens.add(re.search(r"/r/([A-Za-z0-9_-]+)", message.get_body(("plain",)).get_content())[1])
    assert sorted(by_event) == sorted(e.ical_uid for e in series)
    assert len(tokens) == 4  # each registration its own manage link

    page = client.get(response.headers["Location"]).text
    assert "Du er meldt på Nasjonalt stormøte" in page
    for title in ("Webinar 1", "Webinar 2", "Webinar 3"):
        assert title in page
    assert "register/as-before" not in page  # nothing left to offer


def test_ticking_nothing_registers_for_the_one_event(app, client, series):
    assert post(client, "stormote").status_code == 303
    assert registrations_of(app, "kari@kommune.no") == {"stormote": "confirmed"}
    assert count(app, OutboxMessage) == 1


def test_a_full_ticked_event_with_a_waiting_list_puts_you_on_it(app, client, series):
    change(app, series[2], capacity=1, seats_taken=1, waitlist=True)
    assert post(client, "stormote", events=["webinar-2"]).status_code == 303
    assert registrations_of(app, "kari@kommune.no") == {
        "stormote": "confirmed",
        "webinar-2": "waitlisted",
    }


def test_the_same_series_twice_stores_nothing_twice(app, client, series):
    first = post(client, "stormote", events=["webinar-1", "webinar-2"])
    second = post(client, "stormote", events=["webinar-1", "webinar-2"])
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(app, Registration) == 3
    # Within the re-send limit, the repeat queues no mail.
    assert count(app, OutboxMessage) == 3


# --- refused: nothing stored -------------------------------------------------------------------


@pytest.mark.parametrize(
    "ticked",
    [
        "elsewhere",  # another programme's event
        "draft",
        "cancelled",
        "finnes-ikke",
        "stormote",  # the event itself, typed in
        "<script>",
    ],
)
def test_events_that_were_not_offered_are_refused(app, client, series, create_event, ticked):
    programme = series[0]
    create_event(slug="elsewhere")
    for slug, status in (("draft", Event.DRAFT), ("cancelled", Event.CANCELLED)):
        event = create_event(slug=slug, status=status)
        with within(app), write_transaction():
            db.session.get(Event, event.id).programme_id = db.session.get(
                Event, programme.id
            ).programme_id

    response = post(client, "stormote", events=["webinar-1", ticked])

    assert response.status_code == 422
    assert '<p class="error" id="events-error">' in response.text
    assert "Velg bare blant arrangementene i listen." in response.text
    assert 'value="webinar-1" id="events-1" checked' in response.text  # kept as ticked
    assert nothing_stored(app)


def test_a_ticked_event_that_closed_meanwhile_is_named(app, client, series):
    page = client.get("/events/stormote")
    change(app, series[2], deadline_days_before=None, deadline_at=utcnow() - timedelta(minutes=1))
    data = {**PERSON, "email": "kari@kommune.no", "csrf_token": form_token(page.text)}
    data["events"] = ["webinar-1", "webinar-2"]

    response = client.post("/events/stormote/register", data=data)

    assert response.status_code == 422
    error = re.search(r'<p class="error" id="events-error">([^<]+)</p>', response.text)[1]
    assert "«Webinar 2: Intensjonserklæringen» tar ikke imot påmeldinger lenger" in error
    assert "Påmeldingsfristen har gått ut." in error
    assert 'value="webinar-2"' not in response.text  # taken off the list
    assert nothing_stored(app)


def test_the_series_error_in_english(app, client, series):
    change(app, series[3], eligible_regions="Nord")
    client.get("/?lang=en")
    response = post(client, "stormote", events=["webinar-3"])
    assert response.status_code == 422
    assert "You cannot register for “Webinar 3: Styringsdokumentet”" in response.text
    assert "This event is not open to municipalities in this region." in response.text
    assert nothing_stored(app)


def test_not_eligible_for_one_ticked_event_stores_nothing(app, client, series):
    change(app, series[3], eligible_regions="Nord")  # Oslo is in Sør-Øst

    response = post(client, "stormote", events=["webinar-1", "webinar-3"])

    assert response.status_code == 422
    error = re.search(r'<p class="error" id="events-error">([^<]+)</p>', response.text)[1]
    assert "«Webinar 3: Styringsdokumentet»" in error
    assert "ikke for kommuner i denne regionen" in error
    assert nothing_stored(app)
    # From Tromsø (Nord) the same ticks go through.
    tromso = post(client, "stormote", events=["webinar-1", "webinar-3"], municipality="5401")
    assert tromso.status_code == 303
    assert set(registrations_of(app, "kari@kommune.no")) == {"stormote", "webinar-1", "webinar-3"}


def test_a_seat_taken_meanwhile_rolls_back_the_whole_submit(app, client, series):
    # The form offered webinar 3 with its last seat; it went before the POST's transaction.
    change(app, series[3], capacity=1)
    page = client.get("/events/stormote")
    change(app, series[3], seats_taken=1)
    data = {**PERSON, "email": "kari@kommune.no", "csrf_token": form_token(page.text)}
    data["events"] = ["webinar-1", "webinar-3"]

    response = client.post("/events/stormote/register", data=data)

    assert response.status_code == 422
    assert "Arrangementet er fullt, og det er ingen venteliste." in response.text
    assert nothing_stored(app)


# --- one click from the page after registering ------------------------------------------------


def test_the_registered_page_registers_the_same_person_with_one_click(app, client, series):
    done = post(client, "stormote", organisation="Oslo kommune")
    page = client.get(done.headers["Location"]).text
    offered = re.findall(r'action="/events/([^/]+)/register/as-before"', page)
    assert offered == ["webinar-1", "webinar-2", "webinar-3"]

    response = client.post(
        "/events/webinar-2/register/as-before", data={"csrf_token": form_token(page)}
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/events/webinar-2/registered")
    with within(app):
        row = db.session.scalars(
            select(Registration).join(Registration.event).where(Event.slug == "webinar-2")
        ).one()
        assert (row.name, row.email, row.role, row.municipality_number, row.organisation) == (
            "Kari Nordmann",
            "kari@kommune.no",
            "ordforer",
            "0301",
            "Oslo kommune",
        )
    assert [m.kind for m in outbox(app)] == ["confirmation", "confirmation"]
    assert calendar_parts(composed(app, outbox(app)[-1]))
    # The next page offers what is left, not what was just done.
    page = client.get(response.headers["Location"]).text
    assert "Du er meldt på Webinar 2" in page
    assert re.findall(r'action="/events/([^/]+)/register/as-before"', page) == [
        "webinar-1",
        "webinar-3",
    ]


def test_one_click_needs_this_browsers_registration_and_a_csrf_token(app, client, series):
    token = csrf_from_session(client)
    response = client.post("/events/webinar-1/register/as-before", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/events/webinar-1#pamelding"
    )
    assert nothing_stored(app)

    post(client, "stormote")
    assert client.post("/events/webinar-1/register/as-before").status_code == 400
    assert count(app, Registration) == 1


def test_one_click_stays_within_the_programme(app, client, series, create_event):
    create_event(slug="elsewhere")
    done = post(client, "stormote")
    token = form_token(client.get(done.headers["Location"]).text)
    response = client.post("/events/elsewhere/register/as-before", data={"csrf_token": token})
    assert response.status_code == 404
    assert count(app, Registration) == 1


# --- one click from the registrant's page ----------------------------------------------------


def manage_path(app, row: OutboxMessage) -> str:
    text = composed(app, row).get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/r/[A-Za-z0-9_-]+)", text)[1]


def test_the_registrants_page_registers_for_another_event_with_one_click(app, client, series):
    post(client, "stormote", events=["webinar-1"])
    path = manage_path(app, outbox(app)[0])
    page = client.get(path).text
    assert "Flere i samme serie" in page
    assert "Du er påmeldt" in page  # webinar 1, from the same submit
    actions = re.findall(rf'action="{path}/register/([^"]+)"', page)
    assert actions == ["webinar-2", "webinar-3"]

    response = client.post(f"{path}/register/webinar-3", data={"csrf_token": form_token(page)})

    assert response.status_code == 303 and response.headers["Location"].endswith(path)
    assert registrations_of(app, "kari@kommune.no") == {
        "stormote": "confirmed",
        "webinar-1": "confirmed",
        "webinar-3": "confirmed",
    }
    assert len(outbox(app)) == 3
    assert outbox(app)[-1].subject.endswith("Webinar 3: Styringsdokumentet")
    page = client.get(path)
    assert page.headers["Cache-Control"] == "no-store"
    assert "Du er meldt på Webinar 3: Styringsdokumentet." in page.text
    assert re.findall(rf'action="{path}/register/([^"]+)"', page.text) == ["webinar-2"]


def test_one_click_from_the_registrants_page_is_guarded(app, client, series, create_event):
    create_event(slug="elsewhere")
    post(client, "stormote")
    path = manage_path(app, outbox(app)[0])
    token = form_token(client.get(path).text)

    assert client.post(f"{path}/register/webinar-1").status_code == 400  # no CSRF token
    assert (
        client.post("/r/not-a-token/register/webinar-1", data={"csrf_token": token}).status_code
        == 404
    )
    assert client.post(f"{path}/register/elsewhere", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{path}/register/stormote", data={"csrf_token": token}).status_code == 404
    change(app, series[1], deadline_days_before=None, deadline_at=utcnow() - timedelta(minutes=1))
    closed = client.post(f"{path}/register/webinar-1", data={"csrf_token": token})
    assert closed.status_code == 403 and "Påmeldingsfristen har gått ut." in closed.text
    assert closed.headers["Cache-Control"] == "no-store"
    assert count(app, Registration) == 1


# --- many browsers at once -------------------------------------------------------------------


def series_at_once(app, posts: list[tuple[str, str, list[str]]]) -> list[int]:
    """Each thread is one browser: GET its form, wait for the others, POST its series."""
    barrier = threading.Barrier(len(posts))
    statuses, errors = [], []

    def browser(slug, address, ticked):
        try:
            client = app.test_client()
            token = form_token(client.get(f"/events/{slug}").text)
            barrier.wait(timeout=60)
            data = {**PERSON, "email": address, "csrf_token": token, "events": ticked}
            statuses.append(client.post(f"/events/{slug}/register", data=data).status_code)
        except Exception as exc:  # collected and reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=browser, args=post) for post in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return statuses


def test_series_registrations_at_once_neither_deadlock_nor_oversell(app, series):
    change(app, series[2], capacity=5, waitlist=True)
    # Half start from the meeting, half from the last webinar: the same four events, named
    # in opposite orders. They are locked in one order, so none waits for another forever.
    forward = ("stormote", ["webinar-1", "webinar-2", "webinar-3"])
    backward = ("webinar-3", ["webinar-2", "webinar-1", "stormote"])
    posts = [
        (slug, f"p{n}@kommune.no", ticked)
        for n, (slug, ticked) in enumerate([forward, backward] * 6)
    ]

    statuses = series_at_once(app, posts)

    assert statuses == [303] * 12
    assert count(app, Registration) == 48 and count(app, OutboxMessage) == 48
    with within(app):
        webinar = db.session.get(Event, series[2].id)
        assert webinar.seats_taken == 5
    confirmed = count(
        app,
        Registration,
        Registration.event_id == series[2].id,
        Registration.status == Registration.CONFIRMED,
    )
    assert confirmed == 5


def test_the_same_series_at_once_makes_one_registration_per_event(app, series):
    ticked = ["webinar-1", "webinar-2", "webinar-3"]
    statuses = series_at_once(app, [("stormote", "Kari@kommune.no", ticked)] * 6)
    assert statuses == [303] * 6
    assert set(registrations_of(app, "kari@kommune.no")) == {e.slug for e in series}
    assert count(app, Registration) == 4
    assert count(app, OutboxMessage) == 4  # the repeats within 10 minutes re-send nothing
