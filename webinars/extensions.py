"""Flask extensions, created unbound and bound in create_app()."""

import random
import sqlite3
import time
from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

# Stable constraint names on every database, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
mail = Mail()
csrf = CSRFProtect()
babel = Babel()
login = LoginManager()

#: True inside writing(), False inside reading(), None: decided by the request method.
_immediate: ContextVar[bool | None] = ContextVar("immediate", default=None)


@contextmanager
def writing():
    """Start SQLite transactions in this block with BEGIN IMMEDIATE (see configure_sqlite)."""
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)


@contextmanager
def reading():
    """Start SQLite transactions in this block deferred, even in a POST: they only read.

    A transaction begun here must end (commit or rollback) before anything is written;
    `can_end_read()` tells a service that it may do so.
    """
    token = _immediate.set(False)
    try:
        yield
    finally:
        _immediate.reset(token)


def _wants_immediate() -> bool:
    immediate = _immediate.get()
    if immediate is not None:
        return immediate
    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")


def can_end_read() -> bool:
    """Whether the session's SQLite transaction only read so far, so ending it loses nothing.

    True when it began deferred (reading()) and has changed no row and nothing is pending;
    a service may then end it and take the write lock only for its writes.
    """
    session = db.session()
    if session.new or session.dirty or session.deleted or not session.in_transaction():
        return False
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    dbapi = connection.connection.dbapi_connection
    info = connection.info
    return info.get("immediate") is False and dbapi.total_changes == info.get("changes")


def end_read() -> None:
    """End a SQLite transaction that only read, so the write lock is taken for writes alone.

    Loaded objects are kept as they are (nothing was written); a caller refreshes what it
    must see fresh under the lock.
    """
    if can_end_read():
        session = db.session()
        session.expire_on_commit = False
        try:
            session.commit()
        finally:
            session.expire_on_commit = True


#: How long a writer waits for SQLite's write lock before giving up, in seconds.
LOCK_WAIT = 10.0


def _begin_immediate(dbapi_connection) -> None:
    """BEGIN IMMEDIATE, retried in short random steps while another process holds the lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15 … ms between tries, so a writer often
    sleeps well past the moment the lock (held ~2 ms by a registration) is free again, and
    the CPU idles: measured, two gunicorn workers used 1.1 of 2 cores. Waiting here in
    steps of 0.2–1 ms hands the lock over as soon as it is released.
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
                time.sleep(random.uniform(0.0002, 0.001))
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT * 1000)}")


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, and BEGIN IMMEDIATE for every transaction that will write.

    A deferred transaction that reads and then writes fails with "database is locked" under
    concurrent writers (measured: 44 % of requests); taking the write lock at BEGIN makes
    writers queue behind the busy timeout instead. Reads (GET requests) stay deferred.
    """

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
        immediate = _wants_immediate()
        if immediate:
            _begin_immediate(conn.connection.dbapi_connection)
        else:
            conn.exec_driver_sql("BEGIN")
        # For can_end_read(): how this transaction began and the row changes before it.
        conn.info["immediate"] = immediate
        conn.info["changes"] = conn.connection.dbapi_connection.total_changes
