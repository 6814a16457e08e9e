"""Shared fixtures: the app on SQLite and PostgreSQL, a real SMTP server, factories.

Every test that uses `app` runs once per database backend: SQLite always, PostgreSQL when
TEST_DATABASE_URL is set. With CI=true a missing PostgreSQL is a failure, not a skip. Each
pytest run gets its own PostgreSQL database, so runs side by side do not disturb each other.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from contextlib import contextmanager
from datetime import time, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import database_url
from webinars import create_app
from webinars.extensions import db
from webinars.models import Event, utcnow

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]
TABLES = ["outbox", "materials", "registrations", "events", "organisers", "municipalities"]


def _upgrade(url: str) -> None:
    """Build the schema the way production does: the migrations, nothing else."""
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        from webinars.municipalities import load_register

        load_register()
        db.session.commit()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file with the municipality register, copied for each test."""
    path = tmp_path_factory.mktemp("db") / "template.sqlite"
    _upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh, migrated PostgreSQL database for this run, dropped at the end."""
    if not PG_URL:
        if CI:
            pytest.fail("CI=true but TEST_DATABASE_URL is not set")
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL tests skipped")
    base = make_url(database_url(PG_URL))
    name = f"webinars_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if CI:
            pytest.fail(f"PostgreSQL at {base.render_as_string()} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = base.set(database=name).render_as_string(hide_password=False)
    _upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A fresh database per test on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:
        # Keep the municipality register; everything else starts empty for the next test.
        conn.execute(text(f"TRUNCATE {', '.join(TABLES[:-1])} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def app_config():
    """Override in a test module to change settings."""
    return {}


@pytest.fixture
def app(db_url, app_config):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SECRET_KEY": "test-secret",
        "PUBLIC_URL": "http://webinars.test",
        "MAIL_DELIVERY_THREAD": False,
        "MAIL_SERVER": None,
        "MAIL_DEFAULT_SENDER": "Webinarer <noreply@webinars.test>",
    }
    config.update(app_config)
    app = create_app(config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def restore_register(app):
    """For tests that change the municipality register, which PostgreSQL keeps between tests."""
    yield
    from sqlalchemy import delete

    from webinars.models import Municipality, OutboxMessage, Registration
    from webinars.municipalities import load_register, read_register

    db.session.rollback()
    db.session.execute(delete(OutboxMessage))
    db.session.execute(delete(Registration))
    shipped = {row["number"] for row in read_register()}
    db.session.execute(delete(Municipality).where(Municipality.number.not_in(shipped)))
    load_register()
    db.session.commit()


# --- factories ----------------------------------------------------------------------------


@pytest.fixture
def create_event(app):
    """Make an event: published, two weeks ahead, deadline the day before at 23:59."""
    counter = iter(range(1, 10_000))

    def factory(**overrides) -> Event:
        from webinars.ical import calendar_uid

        n = next(counter)
        start = (utcnow() + timedelta(days=14)).replace(minute=0, second=0, microsecond=0)
        fields = {
            "slug": f"event-{n}",
            "kind": "webinar",
            "title": f"Webinar {n}",
            "description": "Om Akson.",
            "target_group": "Ordførere",
            "location": "Digitalt",
            "starts_at": start,
            "ends_at": start + timedelta(hours=1),
            "timezone": "Europe/Oslo",
            "status": "published",
            "deadline_days_before": 1,
            "deadline_local_time": time(23, 59),
            "join_url": f"https://meet.example.org/secret-{n}",
            "organiser_name": "KS",
            "organiser_email": "akson@ks.test",
        }
        fields.update(overrides)
        fields.setdefault("ical_uid", calendar_uid(fields["slug"]))
        event = Event(**fields)
        db.session.add(event)
        db.session.commit()
        return event

    return factory


@pytest.fixture
def register(client):
    """POST the public registration form the way a browser does (GET for the CSRF token first)."""

    def submit(slug: str, **fields):
        page = client.get(f"/events/{slug}")
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        data = {
            "name": "Kari Nordmann",
            "email": "kari@kommune.no",
            "role": "ordforer",
            "municipality": "0301",
            "organisation": "",
            "csrf_token": match.group(1) if match else csrf_from_session(client),
        }
        data.update(fields)
        return client.post(f"/events/{slug}/register", data=data)

    return submit


def csrf_from_session(client) -> str:
    """A valid token for this client's session when the page shows no form (e.g. closed)."""
    page = client.get("/organiser/login")
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    return match.group(1) if match else ""


def sign_in(client, email: str = "arrangor@ks.test"):
    """Log a test client in as a (new) organiser through Flask-Login's session keys."""
    from werkzeug.security import generate_password_hash

    from webinars.models import Organiser

    organiser = Organiser(email=email, password_hash=generate_password_hash("et langt passord"))
    db.session.add(organiser)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = organiser.get_id()
        session["_fresh"] = True
    return client


@pytest.fixture
def signed_in(client):
    """A test client logged in as an organiser."""
    return sign_in(client)


# --- a real SMTP server -------------------------------------------------------------------


class Inbox:
    """What an aiosmtpd server on loopback received; `reply` makes it answer RCPT with a code."""

    def __init__(self):
        self.messages: list = []
        self.reply: str | None = None
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reply:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        with self.lock:
            self.messages.append(
                (envelope, email.message_from_bytes(envelope.content, policy=policy.default))
            )
        return "250 Message accepted for delivery"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_smtp(inbox: Inbox):
    """Run a real SMTP server (aiosmtpd) on a free loopback port that hands mail to `inbox`."""
    from aiosmtpd.controller import Controller

    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""
    with serve_smtp(Inbox()) as inbox:
        yield inbox


@pytest.fixture
def mail_app(app, smtp):
    """The app delivering to the real SMTP server above."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    from webinars.extensions import mail

    mail.init_app(app)
    return app
