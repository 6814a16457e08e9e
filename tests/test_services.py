"""Registering, cancelling and the waiting list: the services and their guarantees."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webinars import mail, services
from webinars.extensions import db
from webinars.models import Event, Municipality, OutboxMessage, Registration

PERSON = {"name": "Kari Nordmann", "role": "ordforer", "municipality": "0301"}


def register(event, address="kari@kommune.no", **fields):
    return services.register(event, **{**PERSON, "email": address, **fields})


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def outbox(kind=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return db.session.scalars(query).all()


def parsed(message: OutboxMessage):
    return mail.compose(message)


def calendar(message: OutboxMessage) -> tuple[str, int] | None:
    """(METHOD, SEQUENCE) of the invite a message carries, or None."""
    for part in parsed(message).walk():
        if part.get_content_type() == "text/calendar":
            text = part.get_content()
            method = re.search(r"^METHOD:(\w+)", text, re.M).group(1)
            return method, int(re.search(r"^SEQUENCE:(\d+)", text, re.M).group(1))
    return None


def manage_token(message: OutboxMessage) -> str:
    body = parsed(message).get_body(("plain",)).get_content()
    return re.search(r"/r/([A-Za-z0-9_-]+)", body).group(1)


# --- register, cancel, register again ------------------------------------------------------


def test_register_stores_registration_and_confirmation_together(create_event):
    event = create_event()
    registration, new = register(event, "  Kari@Kommune.NO ", name="  Kari \t Nordmann ")
    assert new and registration.status == "confirmed"
    assert (registration.email, registration.name) == ("kari@kommune.no", "Kari Nordmann")
    assert event.seats_taken == 1
    (message,) = outbox()
    assert (message.kind, message.recipient, message.registration_id) == (
        "confirmation",
        "kari@kommune.no",
        registration.id,
    )
    assert calendar(message) == ("REQUEST", 0)
    assert services.find_by_token(manage_token(message)) == registration
    assert manage_token(message) not in registration.token_hash  # only the hash is stored


def test_cancel_then_register_again_gets_a_higher_sequence(create_event):
    event = create_event()
    first, _ = register(event)
    services.cancel(first)
    assert first.status == "cancelled" and first.cancelled_at is not None
    assert event.seats_taken == 0
    assert calendar(outbox("cancellation")[0]) == ("CANCEL", 1)

    second, new = register(event, "KARI@kommune.no")
    assert new and second.id != first.id and second.status == "confirmed"
    method, sequence = calendar(outbox("confirmation")[-1])
    assert method == "REQUEST" and sequence > 1
    assert count(Registration) == 2


def test_cancelling_twice_sends_one_cancellation(create_event):
    registration, _ = register(create_event())
    services.cancel(registration)
    services.cancel(registration)
    assert len(outbox("cancellation")) == 1


def test_same_email_in_other_case_is_mailed_again_with_a_new_link(create_event):
    event = create_event()
    registration, _ = register(event, "Kari@Kommune.no")
    old_token = manage_token(outbox()[0])

    again, new = register(event, "kari@KOMMUNE.NO", name="Someone Else")
    assert not new and again.id == registration.id
    assert count(Registration) == 1 and event.seats_taken == 1
    assert again.name == "Kari Nordmann"  # the repeat does not overwrite the registration
    first, second = outbox("confirmation")
    assert second.recipient == "kari@kommune.no"
    new_token = manage_token(second)
    assert new_token != old_token
    assert services.find_by_token(old_token) is None
    assert services.find_by_token(new_token) == registration


def test_confirmation_is_not_stored_without_its_registration(create_event, monkeypatch):
    # Queuing the mail fails after the registration row went in: neither may stay.
    def broken(*args, **kwargs):
        raise RuntimeError("the outbox is unavailable")

    monkeypatch.setattr(mail, "render_subject", broken)
    event = create_event()
    with pytest.raises(RuntimeError):
        register(event)
    db.session.rollback()
    assert count(Registration) == 0 and count(OutboxMessage) == 0
    db.session.expire_all()
    assert db.session.get(Event, event.id).seats_taken == 0


# --- refusals --------------------------------------------------------------------------------


def test_deadline_is_checked_with_the_time_of_the_request(create_event):
    event = create_event()
    with pytest.raises(services.DeadlinePassed) as caught:
        register(event, now=event.deadline + timedelta(seconds=1))
    assert caught.value.status == 403
    register(event, now=event.deadline)  # the last second still counts
    assert count(Registration) == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"status": "draft"}, services.EventNotFound),
        ({"status": "cancelled"}, services.EventCancelled),
    ],
)
def test_draft_and_cancelled_events_refuse(create_event, overrides, error):
    with pytest.raises(error):
        register(create_event(**overrides))
    assert count(Registration) == 0


def test_registration_not_open_yet(create_event, app):
    from webinars.models import utcnow

    event = create_event(registration_opens_at=utcnow() + timedelta(days=1))
    with pytest.raises(services.NotOpenYet):
        register(event)


@pytest.mark.parametrize("number", ["5001", "9999"])
def test_municipality_not_eligible_is_refused(create_event, number):
    event = create_event(eligible_regions="Nord,Vest,Sør-Øst")
    with pytest.raises(services.NotEligible) as caught:
        register(event, municipality=number)
    assert caught.value.status == 422
    assert count(Registration) == 0 and count(OutboxMessage) == 0


def test_retired_municipality_is_refused(create_event):
    event = create_event()
    bindal = db.session.get(Municipality, "1811")
    bindal.active = False
    db.session.commit()
    try:
        with pytest.raises(services.NotEligible):
            register(event, municipality="1811")
    finally:
        bindal.active = True  # PostgreSQL keeps the register between tests
        db.session.commit()


# --- capacity and the waiting list -----------------------------------------------------------


def test_full_event_without_waitlist_refuses_and_stores_nothing(create_event):
    event = create_event(capacity=1)
    register(event, "a@kommune.no")
    with pytest.raises(services.EventFull) as caught:
        register(event, "b@kommune.no")
    db.session.rollback()
    assert caught.value.status == 409
    assert count(Registration) == 1 and count(OutboxMessage) == 1
    assert db.session.get(Event, event.id).seats_taken == 1


def test_full_event_with_waitlist_queues_without_an_invite(create_event):
    event = create_event(capacity=1, waitlist=True)
    register(event, "a@kommune.no")
    waiting, _ = register(event, "b@kommune.no")
    assert waiting.status == "waitlisted"
    message = outbox()[-1]
    assert calendar(message) is None
    assert "venteliste" in message.subject.lower()
    assert event.seats_taken == 1


def test_cancel_gives_the_seat_to_the_first_in_line(create_event):
    event = create_event(capacity=1, waitlist=True)
    seated, _ = register(event, "a@kommune.no")
    first, _ = register(event, "b@kommune.no")
    second, _ = register(event, "c@kommune.no")

    services.cancel(seated)
    assert (first.status, second.status) == ("confirmed", "waitlisted")
    assert db.session.get(Event, event.id).seats_taken == 1
    (promoted,) = outbox("promoted")
    assert promoted.recipient == "b@kommune.no"
    assert calendar(promoted)[0] == "REQUEST"
    assert event.join_url in parsed(promoted).get_body(("plain",)).get_content()
    assert services.find_by_token(manage_token(promoted)) == first


def test_cancel_from_the_waitlist_frees_no_seat(create_event):
    event = create_event(capacity=1, waitlist=True)
    register(event, "a@kommune.no")
    waiting, _ = register(event, "b@kommune.no")
    services.cancel(waiting)
    assert calendar(outbox("cancellation")[0]) is None
    assert db.session.get(Event, event.id).seats_taken == 1
    assert outbox("promoted") == []


# --- concurrency -----------------------------------------------------------------------------


def post_at_once(app, slug: str, addresses: list[str]) -> list[int]:
    """Each thread is one browser: GET the form, wait for the others, POST together."""
    barrier = threading.Barrier(len(addresses))
    statuses, errors = [], []

    def browser(address):
        try:
            client = app.test_client()
            page = client.get(f"/events/{slug}")
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
            barrier.wait(timeout=60)
            response = client.post(
                f"/events/{slug}/register",
                data={**PERSON, "email": address, "csrf_token": token.group(1)},
            )
            statuses.append(response.status_code)
        except Exception as exc:  # collected and reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=browser, args=(a,)) for a in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    db.session.rollback()  # a fresh snapshot: SQLite's would predate the threads
    return statuses


@pytest.mark.parametrize("waitlist", [False, True])
def test_capacity_holds_under_concurrent_registrations(app, create_event, waitlist):
    event = create_event(capacity=5, waitlist=waitlist)
    statuses = post_at_once(app, event.slug, [f"p{n}@kommune.no" for n in range(30)])

    assert len(statuses) == 30
    confirmed = count(Registration, Registration.status == "confirmed")
    waitlisted = count(Registration, Registration.status == "waitlisted")
    assert confirmed == 5
    assert db.session.get(Event, event.id).seats_taken == 5
    if waitlist:
        assert sorted(statuses) == [303] * 30 and waitlisted == 25
    else:
        assert sorted(statuses) == [303] * 5 + [409] * 25 and waitlisted == 0
    assert count(OutboxMessage) == confirmed + waitlisted


def test_same_address_at_once_makes_one_registration(app, create_event):
    event = create_event(capacity=5)
    statuses = post_at_once(app, event.slug, ["Kari@kommune.no", "kari@KOMMUNE.no"] * 5)
    assert statuses == [303] * 10
    assert count(Registration) == 1
    assert db.session.get(Event, event.id).seats_taken == 1
    assert count(OutboxMessage) == 10  # the first confirmation and nine repeats
