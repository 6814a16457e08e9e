"""The outbox: claiming, settling, retries, and each message sent once by any deliverers."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import create_engine, select, text, update

from tests.support import outbox as rows_of
from webinars import registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import messages, outbox, worker
from webinars.models import OutboxMessage, Registration, utcnow

# --- claiming and settling ------------------------------------------------------------------


def test_concurrent_deliverers_send_each_message_once(
    ctx, mail_app, smtp, create_event, create_registration
):
    event = create_event()
    for n in range(40):
        create_registration(event, f"p{n}@kommune.no")
    errors = []

    def deliverer():
        try:
            with mail_app.app_context():
                while worker.deliver_due(limit=3):
                    pass
        except Exception as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliverer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    received = [msg["Message-ID"] for _, msg in smtp.messages]
    assert len(received) == 40 and len(set(received)) == 40
    assert {m.status for m in rows_of(ctx)} == {"sent"}
    assert sorted(received) == sorted(m.message_id for m in rows_of(ctx))


def test_a_crashed_claim_is_picked_up_again(ctx, mail_app, smtp, create_event, create_registration):
    create_registration(create_event())
    create_registration(create_event(), "ola@kommune.no")
    stale, live = (row.id for row in rows_of(ctx))
    with write_transaction():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == stale)
            .values(
                status="sending",
                claimed_by="crashed",
                claimed_until=utcnow() - timedelta(seconds=1),
            )
        )
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == live)
            .values(
                status="sending", claimed_by="busy", claimed_until=utcnow() + timedelta(minutes=5)
            )
        )

    assert worker.deliver_due() == 1
    assert [env.rcpt_tos for env, _ in smtp.messages] == [["kari@kommune.no"]]
    stale, live = rows_of(ctx)
    assert stale.status == "sent" and stale.claimed_by is None
    assert (live.status, live.claimed_by) == ("sending", "busy")


def test_manage_token_is_cleared_once_sent(ctx, mail_app, smtp, create_event, create_registration):
    create_registration(create_event())
    (message,) = rows_of(ctx)
    assert message.token and f"/r/{message.token}" in messages.compose(message).as_string()
    worker.deliver_due()
    (message,) = rows_of(ctx)
    assert message.status == "sent" and message.token is None
    assert message.sent_at is not None and message.subject and message.recipient


# --- the registry of kinds ------------------------------------------------------------------

TEMPLATES = Path(__file__).resolve().parents[3] / "templates" / "email"


@pytest.mark.parametrize("kind", list(outbox.KINDS.values()), ids=lambda kind: kind.name)
def test_every_kind_has_a_label_and_a_template_triplet(kind):
    assert str(kind.label) and str(kind.label) != kind.name
    for part in ("subject.txt", "body.txt", "body.html"):
        assert (TEMPLATES / kind.template / part).is_file(), f"{kind.template}/{part}"


def test_every_label_is_translated(ctx):
    for kind in outbox.KINDS.values():
        with force_locale("en"):
            english = str(kind.label)
        with force_locale("nb"):
            bokmal = str(kind.label)
        assert english != bokmal, f"{kind.name} has no English label"


def test_a_kind_that_is_not_registered_cannot_be_queued(ctx, create_event):
    event = create_event()
    stray = outbox.Kind("newsletter", "confirmation", "Nyhetsbrev")
    with pytest.raises(ValueError, match="not a registered kind"), write_transaction():
        outbox.queue(
            stray,
            subject="Nyhetsbrev",
            recipient="kari@kommune.no",
            recipient_name="Kari",
            message_id="<x@webinars.test>",
            event=event,
        )
    with pytest.raises(ValueError), write_transaction():
        outbox.queue(
            "confirmation",
            subject="Bekreftelse",
            recipient="kari@kommune.no",
            recipient_name="Kari",
            message_id="<y@webinars.test>",
        )
    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_the_label_of_a_kind_no_longer_registered_is_its_name():
    assert outbox.label("confirmation") is outbox.CONFIRMATION.label
    assert outbox.label("retired_kind") == "retired_kind"


def test_every_message_function_queues_a_registered_kind(
    ctx, create_event, create_registration, create_programme, create_contact
):
    """The kinds the messages module queues are exactly the registered ones."""
    event = create_event(capacity=1, waitlist=True)
    first = create_registration(event, "first@kommune.no")
    second = create_registration(event, "second@kommune.no")
    programme = create_programme([event])
    contact = create_contact()
    with write_transaction():
        messages.queue_invitation(contact, event)
        messages.queue_invitation(contact, event, reminder=True)
        messages.queue_submission_link(contact, programme)
        messages.queue_event_updated(first, {"title": ("Før", "Etter")})
        messages.queue_reminder(first, hour=False)
        messages.queue_reminder(first, hour=True)
        messages.queue_recording(first)
        messages.queue_event_cancelled(second, "Avlyst")
        messages.queue_manage_link(
            event, select(Registration.id).where(Registration.id == second.id)
        )
    registrations.cancel(first)  # cancellation, and a promotion for the second
    kinds = {row.kind for row in db.session.scalars(select(OutboxMessage))}
    assert kinds == set(outbox.KINDS)


def test_a_claim_never_takes_what_another_deliverer_is_claiming(
    ctx, db_url, create_event, create_registration
):
    """PostgreSQL: FOR UPDATE SKIP LOCKED, so a deliverer in the middle of claiming does not
    make the next one wait, and each takes different messages. SQLite: the write lock lets
    one claim at a time, and the second takes what the first left."""
    event = create_event()
    for n in range(3):
        create_registration(event, f"p{n}@kommune.no")
    first_id = min(row.id for row in rows_of(ctx))
    other = create_engine(db_url)
    try:
        with other.connect() as conn:
            if db_url.startswith("postgresql"):
                with conn.begin():
                    # Another deliverer holds the first message's row, mid-claim.
                    conn.execute(
                        text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": first_id}
                    )
                    db.session.execute(text("SET lock_timeout = '2s'"))  # waiting would fail
                    claimed = outbox.claim(10, "second-deliverer")
            else:
                raw = conn.connection.dbapi_connection
                raw.isolation_level = None
                raw.execute("BEGIN IMMEDIATE")
                raw.execute(
                    "UPDATE outbox SET status = 'sending', claimed_by = 'first-deliverer', "
                    "claimed_until = '2999-01-01 00:00:00' WHERE id = ?",
                    (first_id,),
                )
                threading.Timer(0.3, raw.execute, args=("COMMIT",)).start()
                claimed = outbox.claim(10, "second-deliverer")  # waits for the first
        assert first_id not in claimed and len(claimed) == 2
    finally:
        other.dispose()
