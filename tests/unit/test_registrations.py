"""Registering, cancelling and the waiting list: the services and their guarantees."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, inspect, select

from webinars import municipalities, registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import messages
from webinars.models import (
    Event,
    Municipality,
    OutboxMessage,
    Registration,
    RegistrationToken,
    utcnow,
)

PERSON = {"name": "Kari Nordmann", "role": "ordforer", "municipality": "0301"}
#: Bindal: Nord, county 18 (Nordland), so every rule below would let it in were it active.
BINDAL = "1811"


def register(event, address="kari@kommune.no", **fields):
    return registrations.register(event, **{**PERSON, "email": address, **fields})


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def queued(kind=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return db.session.scalars(query).all()


def calendar(message: OutboxMessage) -> tuple[str, int] | None:
    """(METHOD, SEQUENCE) of the invite a message carries, or None."""
    for part in messages.compose(message).walk():
        if part.get_content_type() == "text/calendar":
            text = part.get_content()
            method = re.search(r"^METHOD:(\w+)", text, re.M).group(1)
            return method, int(re.search(r"^SEQUENCE:(\d+)", text, re.M).group(1))
    return None


def plain(message: OutboxMessage) -> str:
    return messages.compose(message).get_body(("plain",)).get_content()


def manage_token(message: OutboxMessage) -> str:
    return re.search(r"/r/([A-Za-z0-9_-]+)", plain(message)).group(1)


# --- register, cancel, register again ------------------------------------------------------


def test_register_stores_registration_and_confirmation_together(ctx, create_event):
    event = create_event()
    registration, new = register(event, "  Kari@Kommune.NO ", name="  Kari \t Nordmann ")
    assert new and registration.status == Registration.CONFIRMED
    assert (registration.email, registration.name) == ("kari@kommune.no", "Kari Nordmann")
    assert event.seats_taken == 1
    (message,) = queued()
    assert (message.kind, message.recipient, message.registration_id) == (
        "confirmation",
        "kari@kommune.no",
        registration.id,
    )
    assert calendar(message) == ("REQUEST", 0)
    assert registrations.find_by_token(manage_token(message)) == registration
    stored = [token.token_hash for token in registration.tokens]
    assert stored == [registrations.hash_token(manage_token(message))]  # only the hash is kept


@pytest.mark.parametrize("waitlisted", [False, True], ids=["seat", "waiting list"])
def test_the_registration_handed_back_is_the_row_as_stored(ctx, create_event, waitlisted):
    event = create_event(capacity=0 if waitlisted else None, waitlist=waitlisted)
    table = Registration.__table__
    # In an outer block, so nothing is committed (and expired) before the comparison.
    with write_transaction():
        registration, _new = register(event, organisation=" KS ", locale="en")
        # The object's own values, as the service made them: none is left to load.
        held = inspect(registration).dict
        seen = {column.key: held[column.key] for column in table.c}
        row = db.session.execute(select(table).where(table.c.id == registration.id)).one()
    assert seen == dict(row._mapping)
    assert seen["status"] == (Registration.WAITLISTED if waitlisted else Registration.CONFIRMED)
    assert (seen["organisation"], seen["locale"]) == ("KS", "en")
    assert registration.event is event and registration in db.session


def test_cancel_then_register_again_gets_a_higher_sequence(ctx, create_event):
    event = create_event()
    first, _ = register(event)
    assert registrations.cancel(first) == []
    assert first.status == Registration.CANCELLED and first.cancelled_at is not None
    assert event.seats_taken == 0
    assert calendar(queued("cancellation")[0]) == ("CANCEL", 1)

    second, new = register(event, "KARI@kommune.no")
    assert new and second.id != first.id and second.status == Registration.CONFIRMED
    method, sequence = calendar(queued("confirmation")[-1])
    assert method == "REQUEST" and sequence > 1
    assert count(Registration) == 2


def test_cancelling_twice_sends_one_cancellation(ctx, create_event):
    registration, _ = register(create_event())
    registrations.cancel(registration)
    assert registrations.cancel(registration) == []
    assert len(queued("cancellation")) == 1


def test_same_email_in_other_case_is_mailed_again_with_a_new_link(ctx, create_event):
    event = create_event()
    start = utcnow()
    registration, _ = register(event, "Kari@Kommune.no", now=start)
    old_token = manage_token(queued()[0])

    later = start + registrations.RESEND_AFTER
    again, new = register(event, "kari@KOMMUNE.NO", name="Someone Else", now=later)
    assert not new and again.id == registration.id
    assert count(Registration) == 1 and event.seats_taken == 1
    assert again.name == "Kari Nordmann"  # the repeat does not overwrite the registration
    first, second = queued("confirmation")
    assert second.recipient == "kari@kommune.no"
    new_token = manage_token(second)
    assert new_token != old_token
    # Both links work: a repeat registration never cuts the registrant off.
    assert registrations.find_by_token(old_token) == registration
    assert registrations.find_by_token(new_token) == registration


def test_mail_bombing_by_repeat_registration_sends_one_mail_per_10_minutes(ctx, create_event):
    """30 posts of someone's address within minutes: one more confirmation, not 30."""
    event = create_event()
    start = utcnow()
    register(event, "offer@kommune.no", now=start)
    for n in range(30):
        register(event, "offer@kommune.no", now=start + timedelta(seconds=10 * n))
    assert len(queued("confirmation")) == 1, "nothing re-sent within 10 minutes of the first"
    register(event, "offer@kommune.no", now=start + timedelta(minutes=10))
    register(event, "offer@kommune.no", now=start + timedelta(minutes=15))
    assert len(queued("confirmation")) == 2, "then one, and again only 10 minutes after it"
    register(event, "offer@kommune.no", now=start + timedelta(minutes=20))
    assert len(queued("confirmation")) == 3


def test_confirmation_is_not_stored_without_its_registration(ctx, create_event, monkeypatch):
    # Queuing the mail fails after the registration row went in: neither may stay.
    def broken(*args, **kwargs):
        raise RuntimeError("the outbox is unavailable")

    monkeypatch.setattr(messages, "render_subject", broken)
    event = create_event()
    with pytest.raises(RuntimeError):
        register(event)
    assert count(Registration) == 0 and count(OutboxMessage) == 0
    db.session.expire_all()
    assert db.session.get(Event, event.id).seats_taken == 0


# --- refusals --------------------------------------------------------------------------------


def test_deadline_is_checked_with_the_time_of_the_request(ctx, create_event):
    event = create_event()
    with pytest.raises(registrations.DeadlinePassed) as caught:
        register(event, now=event.deadline + timedelta(seconds=1))
    assert caught.value.status == 403
    register(event, now=event.deadline)  # the last second still counts
    assert count(Registration) == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"status": Event.DRAFT}, registrations.EventNotFound),
        ({"status": Event.CANCELLED}, registrations.EventCancelled),
    ],
)
def test_draft_and_cancelled_events_refuse(ctx, create_event, overrides, error):
    with pytest.raises(error):
        register(create_event(**overrides))
    assert count(Registration) == 0


def test_registration_not_open_yet(ctx, create_event):
    event = create_event(registration_opens_at=utcnow() + timedelta(days=1))
    with pytest.raises(registrations.NotOpenYet):
        register(event)


@pytest.mark.parametrize("number", ["5001", "9999"])
def test_municipality_not_eligible_is_refused(ctx, create_event, number):
    event = create_event(eligible_regions="Nord,Vest,Sør-Øst")
    with pytest.raises(registrations.NotEligible) as caught:
        register(event, municipality=number)
    assert caught.value.status == 422
    assert count(Registration) == 0 and count(OutboxMessage) == 0


def test_retired_municipality_is_refused(ctx, create_event, restore_register):
    event = create_event()
    with write_transaction():
        db.session.get(Municipality, BINDAL).active = False
    with pytest.raises(registrations.NotEligible):
        register(event, municipality=BINDAL)


# --- capacity and the waiting list -----------------------------------------------------------


def test_the_duplicate_check_seeks_the_address_among_the_event_s_registrations(ctx, create_event):
    """Every registration asks whether its address registered for the event before, under
    the write lock: by an index on both, not by reading each registration of the event (the
    cost would grow with every registration made)."""
    event = create_event()
    statements = []
    listener = lambda _conn, _cursor, sql, params, *_rest: statements.append((sql, params))  # noqa: E731
    sa_event.listen(db.engine, "before_cursor_execute", listener)
    try:
        register(event, "kari@kommune.no")
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", listener)
    (sql, params), *_others = [
        (sql, params)
        for sql, params in statements
        if sql.lstrip().startswith("SELECT") and "FROM registrations" in sql and "email" in sql
    ]
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # an empty table is read whole
            plan = conn.exec_driver_sql("EXPLAIN " + sql, params).scalars().all()
        else:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    assert any("ix_registrations_event_email" in step for step in plan), plan


def test_full_event_without_waitlist_refuses_and_stores_nothing(ctx, create_event):
    event = create_event(capacity=1)
    register(event, "a@kommune.no")
    with pytest.raises(registrations.EventFull) as caught:
        register(event, "b@kommune.no")
    assert caught.value.status == 409
    assert count(Registration) == 1 and count(OutboxMessage) == 1
    assert db.session.get(Event, event.id).seats_taken == 1


def test_a_repeat_keeps_its_seat_and_takes_no_other_full_or_not(ctx, create_event):
    """Someone already registered who posts the form again, with seats left or with the
    event full, is answered as a repeat: no new seat, no refusal, the one place kept."""
    event = create_event(capacity=2)
    first, _ = register(event, "a@kommune.no")
    later = utcnow() + registrations.RESEND_AFTER
    again, new = register(event, "a@kommune.no", now=later)
    assert (again.id, new) == (first.id, False)
    assert db.session.get(Event, event.id).seats_taken == 1
    register(event, "b@kommune.no")
    again, new = register(event, "a@kommune.no", now=later + registrations.RESEND_AFTER)
    assert (again.id, new, again.status) == (first.id, False, Registration.CONFIRMED)
    assert db.session.get(Event, event.id).seats_taken == 2
    assert count(Registration) == 2
    assert [m.recipient for m in queued("confirmation")].count("a@kommune.no") == 3


def test_full_event_with_waitlist_queues_without_an_invite(ctx, create_event):
    event = create_event(capacity=1, waitlist=True)
    register(event, "a@kommune.no")
    waiting, _ = register(event, "b@kommune.no")
    assert waiting.status == Registration.WAITLISTED
    message = queued()[-1]
    assert calendar(message) is None
    assert "venteliste" in message.subject.lower()
    assert event.seats_taken == 1


def test_cancel_gives_the_seat_to_the_first_in_line(ctx, create_event):
    event = create_event(capacity=1, waitlist=True)
    seated, _ = register(event, "a@kommune.no")
    first, _ = register(event, "b@kommune.no")
    second, _ = register(event, "c@kommune.no")

    assert registrations.cancel(seated) == [first]
    assert (first.status, second.status) == (Registration.CONFIRMED, Registration.WAITLISTED)
    assert db.session.get(Event, event.id).seats_taken == 1
    (promoted,) = queued("promoted")
    assert promoted.recipient == "b@kommune.no"
    assert calendar(promoted)[0] == "REQUEST"
    assert event.join_url in plain(promoted)
    assert registrations.find_by_token(manage_token(promoted)) == first


def test_cancel_from_the_waitlist_frees_no_seat(ctx, create_event):
    event = create_event(capacity=1, waitlist=True)
    register(event, "a@kommune.no")
    waiting, _ = register(event, "b@kommune.no")
    assert registrations.cancel(waiting) == []
    assert calendar(queued("cancellation")[0]) is None
    assert db.session.get(Event, event.id).seats_taken == 1
    assert queued("promoted") == []


# --- who may register: one rule, in Python and in SQL ----------------------------------------


@pytest.mark.parametrize(
    ("regions", "counties", "how_many", "inside", "outside"),
    [
        pytest.param("", "", 355, ["0301", "1804", "5001", "5401"], [], id="no rule"),
        pytest.param(
            "Nord,Midt-Norge", "", 143, ["1804", "5001", "5401"], ["0301", "4601"], id="region"
        ),
        pytest.param("", "18,46", 83, ["1804", "4601"], ["0301", "5001", "5401"], id="county"),
        pytest.param(
            "Nord,Vest", "18,50", 40, ["1804"], ["0301", "4601", "5001", "5401"], id="both"
        ),
    ],
)
def test_eligible_and_its_sql_condition_agree_on_every_municipality(
    ctx, create_event, restore_register, regions, counties, how_many, inside, outside
):
    with write_transaction():
        db.session.get(Municipality, BINDAL).active = False
    event = create_event(eligible_regions=regions, eligible_counties=counties)
    register_ = db.session.scalars(select(Municipality)).all()
    by_python = {m.number for m in register_ if municipalities.eligible(event, m)}
    by_sql = set(
        db.session.scalars(
            select(Municipality.number).where(municipalities.eligible_condition(event))
        )
    )
    assert len(register_) == 356
    assert by_python == by_sql
    assert len(by_sql) == how_many == registrations.eligible_count(event)
    assert set(inside) <= by_sql
    assert not set(outside) & by_sql
    assert BINDAL not in by_sql  # inactive: never eligible, whatever the rule


# --- counting --------------------------------------------------------------------------------


def test_status_counts_report_every_status_zeros_included(ctx, create_event):
    event = create_event(capacity=1, waitlist=True)
    assert registrations.status_counts(event) == {"confirmed": 0, "waitlisted": 0, "cancelled": 0}
    seated, _ = register(event, "a@kommune.no")
    register(event, "b@kommune.no")
    assert registrations.status_counts(event) == {"confirmed": 1, "waitlisted": 1, "cancelled": 0}
    register(event, "c@kommune.no")
    registrations.cancel(seated)  # b gets the seat, c keeps waiting
    counts = registrations.status_counts(event)
    assert counts == {"confirmed": 1, "waitlisted": 1, "cancelled": 1}
    assert list(counts) == list(registrations.STATUS_LABELS)  # in the order pages show them


def test_status_counts_by_event_report_every_status_of_each_event(ctx, create_event):
    first, second, quiet = create_event(), create_event(), create_event()
    register(first, "a@kommune.no")
    register(first, "b@kommune.no")
    gone, _ = register(second, "a@kommune.no")
    registrations.cancel(gone)

    assert registrations.status_counts_by_event() == {
        first.id: {"confirmed": 2, "waitlisted": 0, "cancelled": 0},
        second.id: {"confirmed": 0, "waitlisted": 0, "cancelled": 1},
    }
    assert registrations.status_counts_by_event([second.id]) == {
        second.id: {"confirmed": 0, "waitlisted": 0, "cancelled": 1}
    }
    assert registrations.status_counts(quiet) == {"confirmed": 0, "waitlisted": 0, "cancelled": 0}


# --- anonymising ------------------------------------------------------------------------------


def test_anonymising_kills_every_manage_link_of_a_registration(ctx, create_event):
    start = utcnow() - timedelta(days=400)
    event = create_event(
        starts_at=start + timedelta(days=14), ends_at=start + timedelta(days=14, hours=1)
    )
    registration, _ = register(event, now=start)
    register(event, now=start + registrations.RESEND_AFTER)  # a second link, mailed again
    tokens = [manage_token(message) for message in queued("confirmation")]
    assert len(tokens) == 2
    assert all(registrations.find_by_token(token) == registration for token in tokens)

    assert registrations.anonymise_old_registrations(utcnow()) == 1
    assert [registrations.find_by_token(token) for token in tokens] == [None, None]
    assert count(RegistrationToken) == 0


# --- the waiting list's numbers and "send me my link again" ---------------------------------


def test_waitlist_numbers_follow_the_order_seats_are_given_in(ctx, create_event):
    event = create_event(capacity=1, waitlist=True)
    seated, _ = register(event, "a@kommune.no")
    b, _ = register(event, "b@kommune.no")
    c, _ = register(event, "c@kommune.no")
    d, _ = register(event, "d@kommune.no")
    assert registrations.waitlist_position(seated) is None
    assert [registrations.waitlist_position(r) for r in (b, c, d)] == [1, 2, 3]
    assert registrations.newcomer_position(event) == 4
    assert '"position": 3' in queued("confirmation")[-1].context

    registrations.cancel(c)  # from the list: the ones behind move up
    assert registrations.waitlist_position(d) == 2
    registrations.cancel(seated)  # the seat goes to number 1, who then has none
    db.session.refresh(b)
    assert b.status == Registration.CONFIRMED
    assert registrations.waitlist_position(b) is None
    assert registrations.waitlist_position(d) == 1


def test_a_repeat_is_answered_with_the_number_a_new_registration_would_get(ctx, create_event):
    event = create_event(capacity=1, waitlist=True)
    seated, _ = register(event, "a@kommune.no")
    again, new = register(event, "A@kommune.no")
    assert not new and again.id == seated.id
    # Not "you have a seat": the number the next new registration gets.
    assert registrations.answered_position(event, again, new) == 1
    waiting, new = register(event, "b@kommune.no")
    assert new and registrations.answered_position(event, waiting, new) == 1


def test_full_without_waitlist_is_not_offered_a_form(ctx, create_event):
    event = create_event(capacity=1, waitlist=False)
    assert registrations.form_open(event)
    register(event, "a@kommune.no")
    assert registrations.full_without_waitlist(event) and not registrations.form_open(event)


def test_send_link_queues_one_mail_per_interval_and_none_for_strangers(ctx, create_event):
    event = create_event()
    earlier = utcnow() - timedelta(hours=1)
    kari, _ = register(event, "kari@kommune.no", now=earlier)
    registrations.send_link(event, "nobody@kommune.no")
    registrations.send_link(event, " KARI@kommune.no ")
    registrations.send_link(event, "kari@kommune.no")
    links = queued("manage_link")
    assert [(row.recipient, row.registration_id, row.token) for row in links] == [
        ("kari@kommune.no", kari.id, None)  # the link is made at delivery
    ]
    assert links[0].subject == f"Lenken til påmeldingen din: {event.title}"
    later = utcnow() + registrations.RESEND_AFTER
    registrations.send_link(event, "kari@kommune.no", now=later)
    assert len(queued("manage_link")) == 2


def test_send_link_is_refused_once_the_event_is_over(ctx, create_event):
    start = utcnow() - timedelta(days=1)
    event = create_event(starts_at=start, ends_at=start + timedelta(hours=1))
    with pytest.raises(registrations.LinksClosed):
        registrations.send_link(event, "kari@kommune.no")


# --- a series in one go -------------------------------------------------------------------


@pytest.fixture
def series(ctx, create_event, create_programme):
    """A meeting and three webinars in one programme, as session objects."""
    start = (utcnow() + timedelta(days=14)).replace(minute=0, second=0, microsecond=0)
    events = [
        create_event(
            slug=f"s{n}",
            starts_at=start + timedelta(days=n),
            ends_at=start + timedelta(days=n, hours=1),
        )
        for n in range(4)
    ]
    create_programme(events)
    return [db.session.get(Event, e.id) for e in events]


def test_a_series_is_one_registration_and_one_confirmation_per_event(series):
    meeting, *webinars = series
    registration, new = register(meeting, also=webinars)
    assert new and registration.event_id == meeting.id
    rows = db.session.scalars(select(Registration).order_by(Registration.event_id)).all()
    assert [(r.event_id, r.status) for r in rows] == [(e.id, "confirmed") for e in series]
    assert [(m.event_id, m.kind, m.invite_method) for m in queued()] == [
        (e.id, "confirmation", "REQUEST") for e in series
    ]
    assert [e.seats_taken for e in series] == [1, 1, 1, 1]


def test_series_choices_are_the_open_events_of_the_programme_in_one_query(series, create_event):
    meeting, first, second, third = series
    create_event(slug="elsewhere")
    with write_transaction():
        second.deadline_days_before, second.deadline_at = None, utcnow() - timedelta(minutes=1)
    statements = []

    def note(*args):
        if args[2].startswith("SELECT"):
            statements.append(args[2])

    assert meeting.programme_id  # (loaded again after the commit above, before counting)
    sa_event.listen(db.engine, "before_cursor_execute", note)
    try:
        choices = registrations.series_choices(meeting)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", note)
    assert [e.slug for e in choices] == [first.slug, third.slug]
    assert len(statements) == 1


@pytest.mark.parametrize("why", ["other programme", "full", "not eligible", "closed", "draft"])
def test_one_event_of_a_series_that_cannot_take_it_stores_nothing(series, create_event, why):
    meeting, first, second, third = series
    if why == "other programme":
        third = db.session.get(Event, create_event(slug="elsewhere").id)
    with write_transaction():
        if why == "full":  # found only inside the transaction, after the others were written
            third.capacity = 0
        elif why == "not eligible":
            third.eligible_regions = "Nord"  # Oslo is in Sør-Øst
        elif why == "closed":
            third.deadline_days_before, third.deadline_at = None, utcnow() - timedelta(minutes=1)
        elif why == "draft":
            third.status = Event.DRAFT
    with pytest.raises(registrations.SeriesEventError) as caught:
        register(meeting, also=[first, second, third])
    assert caught.value.event.id == third.id
    assert f"«{third.title}»" in caught.value.message
    assert count(Registration) == 0 and count(OutboxMessage) == 0
    assert [db.session.get(Event, e.id).seats_taken for e in (meeting, first, second)] == [0, 0, 0]
