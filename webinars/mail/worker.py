"""The delivery loop and the schedule of periodic jobs it runs.

The loop delivers due mail whenever this process queues some (the outbox wakes it) and at
least every MAIL_POLL_SECONDS, for mail queued by other processes. Periodic jobs (reminders,
the recording mail, anonymisation) run on their own intervals, not on every wake: a
registration wakes delivery only. Every job is safe to run as often as it likes and in
several processes at once, so each process keeps its own schedule.

It runs as a thread in each web process (the default) or as `flask mail worker`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app

from .. import recordings, registrations, reminders
from ..extensions import db
from ..models import utcnow
from . import outbox, transport
from .messages import compose
from .transport import PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)


# --- delivery -------------------------------------------------------------------------------


def worker_name() -> str:
    """Who holds a claim: host, process, thread and a random tag (fits the 64-char column)."""
    host = socket.gethostname()[:30]
    return f"{host}:{os.getpid()}:{threading.get_ident() % 100000}:{uuid.uuid4().hex[:6]}"


def deliver_due(limit: int = 100, worker: str | None = None) -> int:
    """Deliver what is due now over one connection; returns how many went out."""
    worker = worker or worker_name()
    ids = outbox.claim(limit, worker)
    if not ids:
        return 0
    batch = []
    for row in outbox.claimed(ids, worker):
        try:
            batch.append((row.id, row.recipient, row.attempts, compose(row), None))
        except Exception as exc:  # a message that cannot be rendered will never be sent
            log.exception("outbox message %s could not be rendered", row.id)
            batch.append((row.id, row.recipient, row.attempts, None, exc))
    # No transaction stays open across SMTP: each message is settled in its own.
    db.session.rollback()
    connection = transport.current().open()
    max_attempts = current_app.config["MAIL_MAX_ATTEMPTS"]
    sent = 0
    try:
        for message_id, recipient, attempts, message, error in batch:
            attempts += 1
            try:
                if error is not None:
                    raise PermanentFailure(f"could not be rendered: {error!r}")
                connection.send(recipient, message)
            except PermanentFailure as exc:
                values = outbox.failed_values(attempts, str(exc))
            except TemporaryFailure as exc:
                if attempts >= max_attempts:
                    values = outbox.failed_values(attempts, str(exc))
                else:
                    values = outbox.retry_values(attempts, str(exc), utcnow())
            else:
                sent += 1
                values = outbox.sent_values(attempts, utcnow())
            outbox.settle(message_id, worker, **values)
    finally:
        connection.close()
        db.session.remove()
    return sent


def deliver_all() -> int:
    """Deliver batch after batch until nothing is due; returns how many went out."""
    total = 0
    while sent := deliver_due():
        total += sent
    return total


# --- the schedule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A periodic job: a function of `now` that is safe to run as often as it likes."""

    name: str
    every: timedelta
    run: Callable[[datetime], int]


#: What the loop runs, and how often. Reminders are due within a minute of their moment.
JOBS: tuple[Job, ...] = (
    Job("reminders", timedelta(minutes=1), reminders.send_reminders),
    Job("recording mail", timedelta(minutes=5), recordings.mail_due_recordings),
    Job("anonymisation", timedelta(hours=1), registrations.anonymise_old_registrations),
)


class Schedule:
    """When each job is next due in this process; every job is due at the start."""

    def __init__(self, jobs: Sequence[Job] = JOBS, now: datetime | None = None):
        start = now or utcnow()
        self.jobs = tuple(jobs)
        self.next_at = {job.name: start for job in self.jobs}

    def due(self, now: datetime) -> list[Job]:
        """The jobs whose time has come."""
        return [job for job in self.jobs if self.next_at[job.name] <= now]

    def ran(self, job: Job, now: datetime) -> None:
        """Record a run (successful or not): the job is next due one interval later."""
        self.next_at[job.name] = now + job.every

    def seconds_to_next(self, now: datetime) -> float:
        """How long until the next job is due (0 when one is due now)."""
        if not self.jobs:
            return float("inf")
        return max(0.0, (min(self.next_at.values()) - now).total_seconds())

    def run_due(self, now: datetime | None = None) -> None:
        """Run every job that is due; a failing job is logged and tried again next interval."""
        now = now or utcnow()
        for job in self.due(now):
            try:
                job.run(now)
            except Exception:
                log.exception("periodic job %r failed", job.name)
                db.session.rollback()
            self.ran(job, now)


# --- the loop -------------------------------------------------------------------------------


def run(app: Flask, stop: threading.Event | None = None, schedule: Schedule | None = None) -> None:
    """Deliver mail and run due jobs until `stop` is set."""
    stop = stop or threading.Event()
    schedule = schedule or Schedule()
    poll = app.config["MAIL_POLL_SECONDS"]
    while not stop.is_set():
        try:
            with app.app_context():
                schedule.run_due()
                deliver_all()
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("mail delivery pass failed")
        outbox.wait_for_mail(min(poll, schedule.seconds_to_next(utcnow())))


_started: set[int] = set()
_start_lock = threading.Lock()


def start_thread(app: Flask) -> None:
    """Start the in-process delivery thread once per process (each gunicorn worker has one)."""
    with _start_lock:
        if os.getpid() in _started:
            return
        _started.add(os.getpid())
    threading.Thread(target=run, args=(app,), name="mail-delivery", daemon=True).start()


def init_app(app: Flask) -> None:
    """Start delivering in the background on the first request, unless configured off."""
    if not app.config["MAIL_DELIVERY_THREAD"] or app.config.get("TESTING"):
        return

    @app.before_request
    def _ensure_delivery_thread():
        start_thread(app)
