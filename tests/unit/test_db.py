"""The unit of work: write_transaction() commits, rolls back, nests, guards, and on SQLite takes
the write lock at BEGIN while reads never take it."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from webinars.db import (
    WriteOutsideTransaction,
    execute,
    in_write_transaction,
    lock_event,
    read_memo,
    write_transaction,
)
from webinars.extensions import db
from webinars.models import Event


def title_of(event_id: int) -> str:
    """The title as the database has it now, read outside this session."""
    with db.engine.connect() as conn:
        return conn.execute(select(Event.title).where(Event.id == event_id)).scalar_one()


def test_a_block_commits_what_it_wrote(ctx, create_event):
    event = create_event(title="Før")
    with write_transaction():
        event.title = "Etter"
    assert title_of(event.id) == "Etter"


def test_an_exception_rolls_the_whole_block_back(ctx, create_event):
    event = create_event(title="Før")
    with pytest.raises(RuntimeError), write_transaction():
        event.title = "Etter"
        db.session.flush()
        raise RuntimeError("the mail could not be queued")
    assert title_of(event.id) == "Før"
    assert not in_write_transaction()


def test_inner_blocks_join_the_outer_one(ctx, create_event):
    event = create_event(title="Før")
    with write_transaction():
        with write_transaction():
            event.title = "Indre"
        # The inner block ended, but nothing is committed until the outer one ends.
        assert title_of(event.id) == "Før"
        assert in_write_transaction()
    assert title_of(event.id) == "Indre"


def test_an_error_in_an_inner_block_undoes_the_outer_one_too(ctx, create_event):
    event = create_event(title="Før", location="Digitalt")
    with pytest.raises(RuntimeError), write_transaction():
        event.location = "Oslo"
        with write_transaction():
            event.title = "Indre"
            raise RuntimeError("the inner service failed")
    assert title_of(event.id) == "Før"
    db.session.refresh(event)
    assert event.location == "Digitalt"


def test_a_change_flushed_outside_a_block_is_refused(ctx, create_event):
    event = create_event()
    event.title = "Uten transaksjon"
    with pytest.raises(WriteOutsideTransaction):
        db.session.flush()
    db.session.rollback()


def test_an_update_statement_outside_a_block_is_refused(ctx, create_event):
    event = create_event(title="Før")
    with pytest.raises(WriteOutsideTransaction):
        db.session.execute(update(Event).where(Event.id == event.id).values(title="Etter"))
    db.session.rollback()
    assert title_of(event.id) == "Før"


def test_a_core_statement_on_the_connection_writes_only_in_a_block(ctx, create_event):
    event = create_event(title="Før")
    table = Event.__table__
    rename = update(table).where(table.c.id == event.id)
    with pytest.raises(WriteOutsideTransaction):
        execute(rename, {"title": "Uten transaksjon"})
    db.session.rollback()
    assert title_of(event.id) == "Før"
    with write_transaction():
        execute(rename, {"title": "Etter"})
        # In the block's own transaction: not committed before the block ends.
        assert title_of(event.id) == "Før"
        assert execute(select(table.c.title).where(table.c.id == event.id)).scalar() == "Etter"
    assert title_of(event.id) == "Etter"
    # A read needs no block.
    assert execute(select(table.c.title).where(table.c.id == event.id)).scalar() == "Etter"


def test_a_read_memo_lasts_as_long_as_its_read_transaction(ctx):
    db.session.rollback()
    assert read_memo("numbers") is None  # nothing begun: nothing to belong to
    db.session.execute(select(Event.id)).all()
    memo = read_memo("numbers")
    memo["0301"] = "Oslo"
    assert read_memo("numbers") == {"0301": "Oslo"}
    assert read_memo("other") == {}
    with write_transaction():
        # The block may change what was read.
        assert read_memo("numbers") is None
    db.session.execute(select(Event.id)).all()
    assert read_memo("numbers") == {}
    read_memo("numbers")["0301"] = "Oslo"
    db.session.rollback()
    db.session.execute(select(Event.id)).all()
    assert read_memo("numbers") == {}


def test_what_was_read_before_the_block_stays_loaded(ctx, create_event):
    """The read transaction ends at the block's start without expiring what it loaded."""
    event = create_event()
    db.session.refresh(event)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa_event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with write_transaction():
            title = event.title
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", listener)
    assert title == event.title
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")]


@pytest.mark.parametrize("expired", [False, True], ids=["loaded", "expired"])
def test_lock_event_reloads_the_row(ctx, create_event, expired):
    """Under the lock a service sees what other transactions committed since it read (or
    since a commit expired the object)."""
    event = create_event(title="Før")
    db.session.refresh(event)
    if expired:
        db.session.expire(event)
    with db.engine.begin() as conn:
        conn.execute(update(Event).where(Event.id == event.id).values(title="Av en annen"))
    with write_transaction():
        assert lock_event(event) is event
        assert event.title == "Av en annen"


def test_lock_event_brings_the_seats_taken_meanwhile(ctx, create_event):
    """A seat taken by another transaction leaves updated_at; the lock still sees it."""
    event = create_event(capacity=10)
    db.session.refresh(event)
    table = Event.__table__
    with db.engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.id == event.id)
            .values(seats_taken=3, sequence=table.c.sequence, updated_at=table.c.updated_at)
        )
    with write_transaction():
        assert lock_event(event) is event
        assert event.seats_taken == 3


def test_blocks_follow_each_other(ctx, create_event):
    event = create_event()
    with write_transaction():
        event.capacity = 10
    assert not in_write_transaction()
    # A later read works as usual, and a later block begins afresh.
    assert db.session.get(Event, event.id).capacity == 10
    with write_transaction():
        event.starts_at += timedelta(hours=1)


# --- SQLite: who holds the write lock -------------------------------------------------------


def _sqlite_path(app) -> str:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database


def _another_writer_can_begin(path: str) -> bool:
    """Whether a second connection gets SQLite's write lock right now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    else:
        other.execute("ROLLBACK")
        return True
    finally:
        other.close()


class TestSQLiteWriteLock:
    """SQLite's own protocol: BEGIN IMMEDIATE for writes only (PostgreSQL has no such lock)."""

    @pytest.fixture
    def db_url(self, sqlite_template, tmp_path):
        path = tmp_path / "test.sqlite"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"

    def test_the_write_lock_is_taken_when_the_block_begins(self, ctx, create_event):
        path = _sqlite_path(ctx)
        create_event()
        with write_transaction():
            # Nothing written yet, and still no other writer may begin.
            assert not _another_writer_can_begin(path)
        assert _another_writer_can_begin(path)

    def test_reads_never_take_the_write_lock(self, ctx, create_event):
        path = _sqlite_path(ctx)
        create_event()
        assert db.session.scalars(select(Event)).all()
        assert db.session().in_transaction()
        assert _another_writer_can_begin(path)

    def test_the_begin_mode_does_not_depend_on_the_http_method(self, app, create_event):
        """A POST that only reads leaves the write lock free, as a GET does."""
        path = _sqlite_path(app)
        create_event()
        with app.test_request_context("/events/x/register", method="POST"):
            assert db.session.scalars(select(Event)).all()
            assert _another_writer_can_begin(path)
            with write_transaction():
                assert not _another_writer_can_begin(path)
