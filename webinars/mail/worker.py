"""The delivery loop and the schedule of periodic jobs it runs.

The loop delivers due mail whenever this process queues some (the outbox wakes it) and at
least every MAIL_POLL_SECONDS, for mail queued by other processes. Periodic jobs (reminders,
the recording mail, anonymisation) run on their own intervals, not on every wake: a
registration wakes delivery only. Every job is safe to run as often as it likes and in
several processes at once, so each process keeps its own schedule.

It runs as a thread in each web process (the default) or as `flask mail worker`, which
stops on SIGTERM or SIGINT after the message in hand.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app

from .. import recordings, registrations, reminders
from ..db import write_transaction
from ..extensions import db
from ..models import OutboxMessage, utcnow
from . import outbox, transport
from .messages import compose_bytes
from .transport import ConnectionFailure, PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)
#: Messages claimed at a time; each is still renewed right before it is sent.
BATCH = 100


# --- delivery -------------------------------------------------------------------------------


def worker_name() -> str:
    """Who holds a claim: host, process, thread and a random tag (fits the 64-char column)."""
    host = socket.gethostname()[:30]
    return f"{host}:{os.getpid()}:{threading.get_ident() % 100000}:{uuid.uuid4().hex[:6]}"


def deliver_due(
    limit: int = BATCH, worker: str | None = None, stop: threading.Event | None = None
) -> int:
    """Deliver what is due now (one batch, one connection); returns how many went out.

    Each message on its own: the claim is renewed before it is sent (a message whose claim
    was lost to another deliverer is skipped), and its outcome is settled in a short
    transaction of its own, so no transaction stays open across SMTP and an error in one
    message (any exception) fails or retries that message alone. A connection failure
    (refused, timed out, not trusted) costs one try: the batch stops and the rest wait as
    long as the failed message. With `stop` set, the message in hand is finished and the
    rest released.
    """
    return _deliver_batch(limit, worker or worker_name(), stop)[1]


def deliver_all(stop: threading.Event | None = None) -> int:
    """Deliver batch after batch until nothing is due (or `stop` is set); returns how many
    went out."""
    worker = worker_name()
    total = 0
    while not (stop is not None and stop.is_set()):
        claimed, sent = _deliver_batch(BATCH, worker, stop)
        total += sent
        if not claimed:
            break
    return total


Prepared = tuple[int, str, int, "bytes | Exception"]


def _deliver_batch(limit: int, worker: str, stop: threading.Event | None) -> tuple[int, int]:
    """(claimed, sent) for one batch."""
    ids = outbox.claim(limit, worker)
    if not ids:
        return 0, 0
    prepared = _prepare(ids, worker)
    db.session.remove()  # no transaction stays open across SMTP
    try:
        return len(ids), _send_batch(prepared, worker, stop)
    finally:
        db.session.remove()


def _send_batch(prepared: list[Prepared], worker: str, stop: threading.Event | None) -> int:
    """Send a rendered batch over one connection; returns how many went out.

    While the server takes in one message (after its data is sent, before its answer is
    read), the outcome of the one before is written and the claim on the next renewed: that
    transaction costs no time of its own.
    """
    waiting = deque(prepared)
    done: list[tuple[int, dict]] = []  # outcomes not yet written

    def advance() -> Prepared | None:
        """Write the outcomes so far and renew the claim on the next message to send."""
        while waiting and not (stop is not None and stop.is_set()):
            message_id, recipient, attempts, data = item = waiting.popleft()
            if isinstance(data, Exception):
                error = f"could not be rendered: {data!r}"
                done.append((message_id, outbox.failed_values(attempts, error)))
                continue
            renewed = outbox.settle_and_renew(worker, done, message_id)
            done.clear()
            if renewed:
                return item
            # Lost: another deliverer holds it (our lease ran out behind a slow relay).
        if done:
            outbox.settle_and_renew(worker, done, None)
            done.clear()
        return None

    connection = transport.current().open()
    sent = 0
    try:
        current = advance()
        while current is not None:
            message_id, recipient, attempts, data = current
            following = None
            try:
                connection.start(recipient, data)
            except Exception as exc:
                values, retry_at = _failure(exc, message_id, attempts)
            else:
                # While the server takes the message in: write, renew the next. (Outside
                # the try: a database error here is not this message's failure.)
                following = advance()
                try:
                    connection.finish()
                except Exception as exc:
                    values, retry_at = _failure(exc, message_id, attempts)
                else:
                    values = outbox.sent_values(attempts, utcnow(), connection.delivered)
                    retry_at = None
                    sent += 1
            done.append((message_id, values))
            if retry_at is not None:  # the connection failed: the rest waits as long
                rest = ([following[0]] if following else []) + [item[0] for item in waiting]
                waiting.clear()
                advance()
                outbox.release(rest, worker, retry_at)
                break
            current = following if following is not None else advance()
        advance()
        if waiting:  # stopped: the rest is due again at once, for any deliverer
            outbox.release([item[0] for item in waiting], worker, utcnow())
    finally:
        connection.close()
    return sent


def _prepare(ids: list[int], worker: str) -> list[Prepared]:
    """Render a batch up front (one query, no writes between): (id, recipient, attempts
    counting this one, the bytes to send or why they could not be made)."""
    rows = outbox.held(ids, worker)
    relink = [row for row in rows if _needs_link(row)]
    if relink:
        with write_transaction():
            for row in relink:
                row.token = registrations.issue_token(row.registration)
    prepared: list[Prepared] = []
    for row in rows:
        try:
            data: bytes | Exception = compose_bytes(row)
        except Exception as exc:  # a message that cannot be rendered will never be sent
            log.exception("outbox message %s could not be rendered", row.id)
            data = exc
        prepared.append((row.id, row.recipient, row.attempts + 1, data))
    return prepared


def _failure(exc: Exception, message_id: int, attempts: int) -> tuple[dict, datetime | None]:
    """What a failed send makes of the message, and when the rest of the batch is due again
    if the connection itself failed."""
    if isinstance(exc, ConnectionFailure):
        log.warning("mail server unusable, this batch stops: %s", exc)
        values = _temporary(attempts, str(exc))
        return values, values.get("next_attempt_at") or utcnow() + outbox.backoff(attempts)
    if isinstance(exc, PermanentFailure):
        return outbox.failed_values(attempts, str(exc)), None
    if isinstance(exc, TemporaryFailure):
        return _temporary(attempts, str(exc)), None
    # Anything else fails this message alone.
    log.error("outbox message %s could not be sent", message_id, exc_info=exc)
    return outbox.failed_values(attempts, f"could not be sent: {exc!r}"), None


def _temporary(attempts: int, error: str) -> dict:
    """Retry later, unless this was the last attempt MAIL_MAX_ATTEMPTS allows."""
    if attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        return outbox.failed_values(attempts, error)
    return outbox.retry_values(attempts, error, utcnow())


def _needs_link(row: OutboxMessage) -> bool:
    """A message that carries a manage link but has no token: queued without one (mail to
    every registrant of an event), or it failed and was retried."""
    kind = outbox.KINDS.get(row.kind)
    registration = row.registration
    return bool(
        kind
        and kind.link
        and row.token is None
        and registration is not None
        and registration.anonymised_at is None
    )


def _give_link(row: OutboxMessage) -> None:
    """A fresh manage link for a retried message (the links mailed before still work)."""
    with write_transaction():
        row.token = registrations.issue_token(row.registration)


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
    """Deliver mail and run due jobs until `stop` is set (the message in hand is finished)."""
    stop = stop or threading.Event()
    schedule = schedule or Schedule()
    poll = app.config["MAIL_POLL_SECONDS"]
    while not stop.is_set():
        try:
            with app.app_context():
                schedule.run_due()
                if not stop.is_set():
                    deliver_all(stop)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("mail delivery pass failed")
        if not stop.is_set():
            outbox.wait_for_mail(min(poll, schedule.seconds_to_next(utcnow())))


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM (systemd, docker) and SIGINT (Ctrl-C) set `stop` and wake the loop."""

    def handler(signum, _frame):
        log.info("signal %s: finishing the message in hand, then stopping", signum)
        stop.set()
        outbox.wake()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


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
