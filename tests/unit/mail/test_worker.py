"""The worker: what deliver_due does with each claimed message, the schedule of periodic jobs,
and the loop that runs both."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from tests.support import Inbox, deliver, outbox, serve_smtp
from webinars import recordings, registrations, reminders
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import outbox as mail_outbox
from webinars.mail import transport, worker
from webinars.models import Event, OutboxMessage, utcnow

ROOT = Path(__file__).resolve().parents[3]

# --- delivering -----------------------------------------------------------------------------


def test_failures_stop_after_the_last_attempt(
    ctx, mail_app, smtp, create_event, create_registration
):
    mail_app.config["MAIL_MAX_ATTEMPTS"] = 2
    create_registration(create_event())
    smtp.reply = "421 4.3.2 Shutting down"
    worker.deliver_due()
    with write_transaction():
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    worker.deliver_due()
    (message,) = outbox(ctx)
    assert (message.status, message.attempts) == ("failed", 2)
    assert "421" in message.last_error


def test_a_message_that_cannot_be_rendered_fails_alone(
    ctx, mail_app, smtp, create_event, create_registration
):
    event = create_event()
    create_registration(event, "first@kommune.no")
    create_registration(event, "second@kommune.no")
    with write_transaction():
        # A template that no longer exists: this message can never be composed.
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.recipient == "first@kommune.no")
            .values(template="no_such_template")
        )
    assert worker.deliver_all() == 1
    assert [envelope.rcpt_tos for envelope, _ in smtp.messages] == [["second@kommune.no"]]
    first, second = outbox(ctx)
    assert first.status == "failed" and "could not be rendered" in first.last_error
    assert second.status == "sent"


def test_deliver_all_sends_batch_after_batch(ctx, mail_app, smtp, create_event, monkeypatch):
    event = create_event()
    for n in range(7):
        registrations.register(
            event, name="Kari", email=f"p{n}@kommune.no", role="ordforer", municipality="0301"
        )
    batches = []
    deliver_batch = worker._deliver_batch

    def recorded(limit, name, stop):
        claimed, sent = deliver_batch(limit, name, stop)
        batches.append(sent)
        return claimed, sent

    monkeypatch.setattr(worker, "BATCH", 3)
    monkeypatch.setattr(worker, "_deliver_batch", recorded)
    assert worker.deliver_all() == 7
    assert batches == [3, 3, 1, 0]
    assert len(smtp.messages) == 7


# --- the schedule and the loop --------------------------------------------------------------


class Recorder:
    """Fake jobs that note when they ran."""

    def __init__(self):
        self.runs: list[tuple[str, datetime]] = []

    def job(self, name: str, every: timedelta, fail: bool = False) -> worker.Job:
        def run(now: datetime) -> int:
            self.runs.append((name, now))
            if fail:
                raise RuntimeError(f"{name} failed")
            return 0

        return worker.Job(name, every, run)


def test_every_job_is_due_at_the_start_and_then_after_its_interval(ctx):
    recorder = Recorder()
    start = datetime(2020, 5, 5, 12, tzinfo=UTC)
    minute = recorder.job("reminders", timedelta(minutes=1))
    hour = recorder.job("anonymisation", timedelta(hours=1))
    schedule = worker.Schedule((minute, hour), now=start)

    schedule.run_due(start)
    assert [name for name, _ in recorder.runs] == ["reminders", "anonymisation"]
    schedule.run_due(start + timedelta(seconds=30))
    assert len(recorder.runs) == 2, "nothing is due again before its interval"
    schedule.run_due(start + timedelta(minutes=1))
    assert [name for name, _ in recorder.runs][2:] == ["reminders"]
    assert schedule.seconds_to_next(start + timedelta(minutes=1)) == 60
    schedule.run_due(start + timedelta(hours=1))
    assert [name for name, _ in recorder.runs][3:] == ["reminders", "anonymisation"]


def test_a_failing_job_does_not_stop_the_others_and_waits_its_interval(ctx, caplog):
    recorder = Recorder()
    start = datetime(2020, 5, 5, 12, tzinfo=UTC)
    broken = recorder.job("broken", timedelta(minutes=5), fail=True)
    fine = recorder.job("fine", timedelta(minutes=5))
    schedule = worker.Schedule((broken, fine), now=start)
    with caplog.at_level(logging.ERROR, logger="webinars.mail.worker"):
        schedule.run_due(start)
    assert [name for name, _ in recorder.runs] == ["broken", "fine"]
    assert "periodic job 'broken' failed" in caplog.text
    assert schedule.due(start + timedelta(minutes=1)) == []


def test_the_service_schedules_reminders_recordings_and_anonymisation():
    by_name = {job.name: job for job in worker.JOBS}
    assert by_name["reminders"].run is reminders.send_reminders
    assert by_name["reminders"].every <= timedelta(minutes=1), "reminders are due within a minute"
    assert by_name["recording mail"].run is recordings.mail_due_recordings
    assert by_name["anonymisation"].run is registrations.anonymise_old_registrations


def test_a_registration_wakes_delivery_at_once_and_runs_no_job(app, smtp, create_event):
    """The loop sleeps up to its poll interval; mail queued in this process wakes it, and a
    wake delivers without running the periodic jobs again."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_POLL_SECONDS=30)
    transport.init_app(app)
    event = create_event()
    recorder = Recorder()
    schedule = worker.Schedule((recorder.job("reminders", timedelta(hours=1)),))
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(app, stop, schedule), daemon=True)
    loop.start()
    try:
        _wait_for(lambda: recorder.runs, "the first pass runs the due jobs")
        with app.app_context():
            registrations.register(
                db.session.get(Event, event.id),
                name="Kari Nordmann",
                email="kari@kommune.no",
                role="ordforer",
                municipality="0301",
            )
        _wait_for(lambda: smtp.to("kari@kommune.no"), "the confirmation within seconds, not 30")
        assert len(recorder.runs) == 1, "a wake delivers; the hourly job does not run again"
    finally:
        stop.set()
        mail_outbox.wake()
        loop.join(timeout=10)
    assert not loop.is_alive(), "setting stop ends the loop"


def test_the_loop_survives_a_failing_pass(app, monkeypatch, caplog):
    passes = []

    def failing(stop=None):
        passes.append(1)
        raise RuntimeError("database is away")

    monkeypatch.setattr(worker, "deliver_all", failing)
    app.config["MAIL_POLL_SECONDS"] = 0.01
    stop = threading.Event()
    loop = threading.Thread(target=worker.run, args=(app, stop, worker.Schedule(())), daemon=True)
    with caplog.at_level(logging.ERROR, logger="webinars.mail.worker"):
        loop.start()
        _wait_for(lambda: len(passes) >= 3, "the loop keeps trying")
        stop.set()
        loop.join(timeout=10)
    assert "mail delivery pass failed" in caplog.text


def test_the_web_process_starts_no_thread_in_tests_or_when_turned_off(app):
    assert not [f for f in app.before_request_funcs.get(None, []) if "delivery" in f.__name__]


def _wait_for(condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# --- two deliverers behind a slow relay, and stopping --------------------------------------


def test_slow_relay_two_deliverers_outliving_the_lease_send_each_message_once(
    app, create_event, monkeypatch
):
    """A batch outlives its lease; the second deliverer takes what the first has not sent
    yet, and the first skips what it lost: 6 messages, 6 deliveries (it used to be 9)."""
    monkeypatch.setattr(mail_outbox, "CLAIM_LEASE", timedelta(seconds=1))
    event = create_event()
    with app.app_context():
        for n in range(6):
            registrations.register(
                db.session.get(Event, event.id),
                name="Kari", email=f"p{n}@kommune.no", role="ordforer", municipality="0301",
            )  # fmt: skip
    with serve_smtp(Inbox(delay=0.4)) as relay:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=relay.port)
        transport.init_app(app)

        def deliverer(wait: float):
            time.sleep(wait)
            with app.app_context():
                worker.deliver_all()

        first = threading.Thread(target=deliverer, args=(0,))
        second = threading.Thread(target=deliverer, args=(1.2,))  # after the first lease
        first.start()
        second.start()
        first.join(30)
        second.join(30)
        received = sorted(e.rcpt_tos[0] for e, _ in relay.messages)
    assert received == [f"p{n}@kommune.no" for n in range(6)], "each exactly once"
    assert {m.status for m in outbox(app)} == {"sent"}


def test_sigterm_during_a_batch_finishes_the_message_in_hand_and_exits(
    app, db_url, create_event, create_registration
):
    event = create_event()
    for n in range(5):
        create_registration(event, f"p{n}@kommune.no")
    with serve_smtp(Inbox(delay=0.5)) as relay:
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "SECRET_KEY": "a-key-for-this-test-only",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(relay.port),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "worker"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_for(lambda: relay.messages, "the worker's first delivery", timeout=30)
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, output.decode()
        assert b"Stopped." in output
        cut_short = len(relay.messages)
        assert 1 <= cut_short < 5, "stopped during the batch"
        rows = outbox(app)
        assert sorted(m.status for m in rows) == ["queued"] * (5 - cut_short) + ["sent"] * cut_short
        assert all(m.claimed_by is None for m in rows), "nothing left claimed"

        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=relay.port)
        transport.init_app(app)
        deliver(app)
        received = sorted(e.rcpt_tos[0] for e, _ in relay.messages)
    assert received == [f"p{n}@kommune.no" for n in range(5)], "every message exactly once"
