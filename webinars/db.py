"""The unit of work: every write happens inside `write_transaction()`, and nowhere else.

Reads need nothing: the session begins a plain (deferred) transaction on first use and the
request's end rolls it back. A write is a block:

    with write_transaction():
        registration.status = CANCELLED
        messages.queue_cancellation(registration)

which begins, commits on success and rolls back on an exception. Blocks nest: an inner one
joins the outer, so a caller can make several services one transaction. Whatever the
session read before the block is ended first (it wrote nothing) and its objects stay
loaded; what must be fresh is locked or refreshed inside the block.

On SQLite the block begins with BEGIN IMMEDIATE, taking the database's write lock at the
start: a deferred transaction that reads and then writes fails with "database is locked"
under concurrent writers (measured: 44 % of requests). Reads never take that lock, so they
never wait for it. A write outside a block is refused, so no code can forget this.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Executable, bindparam, event, inspect, select, text
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.attributes import set_committed_value

from .extensions import db
from .models import Event

#: How long a writer waits for SQLite's write lock before giving up, in seconds.
LOCK_WAIT = 10.0
#: Execution option that makes the "begin" hook emit BEGIN IMMEDIATE on SQLite.
_IMMEDIATE = "webinars_immediate"
#: Session.info key: how deep the session is in write_transaction() blocks.
_DEPTH = "webinars_write_depth"
#: Session.info key: the read transaction the memos belong to, and the memos.
_MEMOS = "webinars_read_memos"


class WriteOutsideTransaction(RuntimeError):
    """Something tried to write without `write_transaction()`."""


def in_write_transaction(session: Session | None = None) -> bool:
    """Whether the session is inside a write_transaction() block."""
    session = session or db.session()
    return session.info.get(_DEPTH, 0) > 0


@contextmanager
def write_transaction() -> Iterator[Session]:
    """Begin a write (BEGIN IMMEDIATE on SQLite), commit at the end, roll back on error."""
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    if depth:
        session.info[_DEPTH] = depth + 1
        try:
            yield session
        finally:
            session.info[_DEPTH] = depth
        return
    _end_read(session)
    session.info[_DEPTH] = 1
    try:
        # Begin now, with the write lock, rather than at the first statement.
        session.connection(execution_options={_IMMEDIATE: True})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info[_DEPTH] = 0


def _end_read(session: Session) -> None:
    """End a transaction that only read, keeping its objects loaded (nothing was written)."""
    if not session.in_transaction():
        return
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def execute(statement: Executable, params: dict | list[dict] | None = None) -> CursorResult:
    """Run a prebuilt Core statement (on tables, not ORM entities) on the session's own
    connection, in its transaction: the session's execution adds nothing to such a statement
    but a third of its cost, and a registration runs eight. Writes, as through the session,
    only inside write_transaction()."""
    if statement.is_dml and not in_write_transaction():
        raise WriteOutsideTransaction("an INSERT, UPDATE or DELETE ran outside write_transaction()")
    return db.session.connection().execute(statement, params)


def read_memo(name: str) -> dict | None:
    """A dict that lives as long as the session's current read transaction, for what it need
    not read twice (a registration names its municipality in the form and in the service).

    None when no transaction has begun yet, or inside write_transaction(), where the session
    itself may change what was read. A read transaction sees what it saw before (SQLite reads
    one snapshot; on PostgreSQL the memo makes the second read repeat the first), and the
    next one, after a write block or the request's end, starts with none.
    """
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None or in_write_transaction(session):
        return None
    held = session.info.get(_MEMOS)
    if held is None or held[0] is not transaction:
        held = session.info[_MEMOS] = (transaction, {})
    return held[1].setdefault(name, {})


def dialect() -> str:
    """The database's dialect name ("sqlite", "postgresql"), for statements built per dialect."""
    return db.session.connection().dialect.name


def no_disk_wait() -> None:
    """Let this write transaction's commit return before PostgreSQL has flushed it to disk.

    For a write the user can simply ask for again (a crash in the next fraction of a second
    loses it), whose answer must take as long whether or not it wrote anything: the flush
    is most of a small write's time. SQLite (WAL, synchronous=NORMAL) never waits for it.
    """
    session = db.session()
    if dialect() == "postgresql":
        session.execute(_NO_DISK_WAIT)


_NO_DISK_WAIT = text("SET LOCAL synchronous_commit TO OFF")


def lock_event(row: Event) -> Event:
    """Lock an event's row and reload it, so bulk work on one event's registrants runs in turn.

    Everything that changes an event's registrants in bulk takes this lock first (event,
    then registrations), so they cannot deadlock each other. FOR NO KEY UPDATE, not FOR
    UPDATE: new registrations and outbox rows take a key-share lock on the event for their
    foreign key, and must not wait for us. SQLite leaves the clause out; there the write
    transaction (BEGIN IMMEDIATE) already serialises writers.
    """
    # Every change of an event moves its updated_at, but for the seats taken (a count: its
    # files stay valid). So an object loaded with the row's updated_at is the row, but for
    # those, which the lock's own statement brings: no reload (a fifth of a registration's
    # reads). Loaded earlier than that, or not loaded at all, it is read again whole.
    if inspect(row).dict.get("updated_at") is None:
        return _reload_locked(row)
    return locked(row, execute(_LOCK_ROW, {"id": row.id}).first())


def locked(row: Event, current) -> Event:
    """An event whose row this transaction has just locked, brought up to date by what the
    locking statement returned (`current`: its updated_at, seats_taken and sequence, or
    None): the counts if the rest is as loaded, else the row read again whole."""
    loaded = inspect(row).dict.get("updated_at")
    if current is None or loaded is None or current.updated_at != loaded:
        return _reload_locked(row)
    set_committed_value(row, "seats_taken", current.seats_taken)
    set_committed_value(row, "sequence", current.sequence)
    return row


def _reload_locked(row: Event) -> Event:
    """The event's row locked and read again whole, into the same object."""
    return db.session.scalars(_LOCK_EVENT, {"id": row.id}).one()


# Built once: they run in every registration.
_EVENTS = Event.__table__
_LOCK_ROW = (
    select(_EVENTS.c.updated_at, _EVENTS.c.seats_taken, _EVENTS.c.sequence)
    .where(_EVENTS.c.id == bindparam("id"))
    .with_for_update(key_share=True)
)
_LOCK_EVENT = (
    select(Event)
    .where(Event.id == bindparam("id"))
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)


# --- the guard and SQLite's side ------------------------------------------------------------


def init_app(app) -> None:
    """Refuse writes outside write_transaction(); on SQLite, WAL and BEGIN IMMEDIATE."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)


@event.listens_for(db.session, "before_flush")
def _flush_only_in_write(session: Session, _context, _instances) -> None:
    if (session.new or session.dirty or session.deleted) and not in_write_transaction(session):
        raise WriteOutsideTransaction("a change was flushed outside write_transaction()")


@event.listens_for(db.session, "do_orm_execute")
def _execute_only_in_write(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and not in_write_transaction(
        state.session
    ):
        raise WriteOutsideTransaction("an INSERT, UPDATE or DELETE ran outside write_transaction()")


def _begin_immediate(dbapi_connection) -> None:
    """BEGIN IMMEDIATE, retried in short random steps while another process holds the lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15 … ms between tries, so a writer often
    sleeps well past the moment the lock (held ~1 ms by a registration) is free again, and
    the CPU idles: measured, two gunicorn workers used 1.1 of 2 cores. Waiting here in
    steps of 0.05–0.3 ms hands the lock over as soon as it is released (measured against
    steps of 0.2–1 ms in turn: 8–11 % more registrations a second; a try costs ~10 µs).
    """
    deadline = time.monotonic() + LOCK_WAIT
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.00005, 0.0003))
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT * 1000)}")


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys; BEGIN IMMEDIATE for write transactions only."""
    if getattr(engine, "_webinars_configured", False):
        return
    engine._webinars_configured = True

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        # Straight to the driver, as BEGIN IMMEDIATE: every request that reads begins.
        dbapi_connection = conn.connection.dbapi_connection
        if conn.get_execution_options().get(_IMMEDIATE):
            _begin_immediate(dbapi_connection)
        else:
            dbapi_connection.execute("BEGIN")
