"""Shared fixtures: the app on SQLite and PostgreSQL, a real SMTP server, factories.

Every test that uses `app` runs once per database backend: SQLite always, PostgreSQL when
TEST_DATABASE_URL is set. With CI=true a missing PostgreSQL is a failure, not a skip. Each
pytest run gets its own PostgreSQL database, so runs side by side do not disturb each other.

The `app` fixture pushes no app context: a request from the test client gets its own
context and database session, as in production. Unit tests of the domain modules ask for
`ctx` (an app context for the whole test) and never use the client; web tests read the
database inside `with within(app):` (tests/support.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_migrate import upgrade
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.engine import make_url

from config import database_url
from tests.support import (
    TEST_PASSWORD_HASH,
    Inbox,
    detach,
    form_token,
    serve_smtp,
    sign_in,
    within,
)
from webinars import create_app, registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.ical import calendar_uid
from webinars.mail import transport
from webinars.models import (
    Contact,
    Event,
    Municipality,
    OutboxMessage,
    Programme,
    Registration,
    RegistrationToken,
    utcnow,
)
from webinars.municipalities import load_register, read_register

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]
#: Every table but the municipality register, children before their parents.
TABLES = [table.name for table in reversed(db.metadata.sorted_tables)]
TABLES.remove("municipalities")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "webinars" / "translations"


@pytest.fixture(scope="session", autouse=True)
def catalogues():
    """Compile the translation catalogues, as `make` does: the .mo files are not in git."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        with po.open("rb") as source:
            catalog = read_po(source)
        # Written beside and renamed: test runs side by side never read half a file.
        with tempfile.NamedTemporaryFile(dir=po.parent, suffix=".mo", delete=False) as target:
            write_mo(target, catalog)
        os.replace(target.name, po.with_suffix(".mo"))


def _upgrade(url: str) -> None:
    """Build the schema the way production does: the migrations, nothing else."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        with write_transaction():
            load_register()
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
        # DELETE, not TRUNCATE: on a dozen near-empty tables it is 7 times faster.
        for table in TABLES:
            conn.execute(text(f'DELETE FROM "{table}"'))
        conn.execute(text("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'"))
    engine.dispose()


@pytest.fixture
def app_config():
    """Override in a test module to change settings."""
    return {}


@pytest.fixture
def app(db_url, app_config):
    """The app on a fresh database, with mail written to the log and no delivery thread."""
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SECRET_KEY": "test-secret",
        "PUBLIC_URL": "http://webinars.test",
        "MAIL_DELIVERY_THREAD": False,
        "MAIL_SERVER": None,
        "MAIL_DEFAULT_SENDER": "Webinarer <noreply@webinars.test>",
        # Production's scrypt costs ~0.1 s a hash on purpose; the same algorithm, cheaper.
        "PASSWORD_HASH": TEST_PASSWORD_HASH,
        # Tests post many forms from one address; the limit tests turn the limits on.
        "RATELIMIT_ENABLED": False,
    }
    config.update(app_config)
    app = create_app(config)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An app context for the whole test: for unit tests that call the domain directly."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def signed_in(client, app):
    """A test client logged in as an organiser."""
    return sign_in(client, app)


@pytest.fixture
def restore_register(app):
    """For tests that change the municipality register, which PostgreSQL keeps between tests."""
    yield
    with app.app_context(), write_transaction():
        db.session.execute(delete(OutboxMessage))
        db.session.execute(delete(Registration))
        shipped = {row["number"] for row in read_register()}
        db.session.execute(delete(Municipality).where(Municipality.number.not_in(shipped)))
        # The shipped register has no language column: the forms a test set go back too.
        db.session.execute(update(Municipality).values(language=Municipality.NEUTRAL))
        load_register()


# --- factories ----------------------------------------------------------------------------


@pytest.fixture
def create_event(app):
    """Make an event: published, two weeks ahead, deadline the day before at 23:59."""
    counter = iter(range(1, 10_000))

    def factory(**overrides) -> Event:
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
            "status": Event.PUBLISHED,
            "deadline_days_before": 1,
            "deadline_local_time": time(23, 59),
            "join_url": f"https://meet.example.org/secret-{n}",
            "organiser_name": "KS",
            "organiser_email": "akson@ks.test",
        }
        fields.update(overrides)
        with within(app) as fresh:
            fields.setdefault("ical_uid", calendar_uid(fields["slug"]))
            with write_transaction():
                event = Event(**fields)
                db.session.add(event)
            return detach(event) if fresh else event

    return factory


@pytest.fixture
def create_programme(app):
    """Make a programme (Akson's campaign: outside Midt-Norge, more than half), with events."""
    counter = iter(range(1, 10_000))

    def factory(events=(), **overrides) -> Programme:
        n = next(counter)
        fields = {
            "slug": "akson" if n == 1 else f"programme-{n}",
            "title": "Akson",
            "eligible_regions": "Nord,Vest,Sør-Øst",
            "goal_percent": 50,
            "declarations_due": date(2020, 7, 1),
            "organiser_name": "Helse- og omsorgsdepartementet",
            "organiser_email": "akson@hod.test",
        }
        fields.update(overrides)
        with within(app) as fresh:
            with write_transaction():
                programme = Programme(**fields)
                db.session.add(programme)
                db.session.flush()
                for event in events:
                    db.session.get(Event, event.id).programme_id = programme.id
            return detach(programme) if fresh else programme

    return factory


@pytest.fixture
def create_contact(app):
    """Make a contact: an imported mayor of Oslo unless told otherwise."""
    counter = iter(range(1, 1_000_000))

    def factory(municipality: str = "0301", **overrides) -> Contact:
        n = next(counter)
        fields = {
            "municipality_number": municipality,
            "name": f"Kontakt {n}",
            "role": "ordforer",
            "email": f"kontakt{n}@kommune{municipality}.no",
            "source": Contact.IMPORTED,
        }
        fields.update(overrides)
        with within(app) as fresh:
            with write_transaction():
                contact = Contact(**fields)
                db.session.add(contact)
            return detach(contact) if fresh else contact

    return factory


#: The person the registration helpers register unless told otherwise.
PERSON = {"name": "Kari Nordmann", "role": "ordforer", "municipality": "0301"}


@pytest.fixture
def create_registration(app):
    """Register someone through the service, as the public form does (mail queued too)."""

    def factory(event: Event, email: str = "kari@kommune.no", **fields) -> Registration:
        with within(app) as fresh:
            if fresh:
                event = db.session.get(Event, event.id)
            registration, _new = registrations.register(
                event, **{**PERSON, "email": email, **fields}
            )
            return detach(registration) if fresh else registration

    return factory


@pytest.fixture
def registered(app):
    """A registration row straight in the database, no mail (for tests that only count)."""
    counter = iter(range(1, 1_000_000))

    def factory(event, municipality: str, status: str = Registration.CONFIRMED) -> None:
        n = next(counter)
        with within(app), write_transaction():
            db.session.add(
                Registration(
                    event_id=event if isinstance(event, int) else event.id,
                    name=f"Person {n}",
                    email=f"p{n}@kommune.no",
                    role="ordforer",
                    municipality_number=municipality,
                    tokens=[RegistrationToken(token_hash=registrations.hash_token(f"token-{n}"))],
                    status=status,
                )
            )

    return factory


@pytest.fixture
def past_event(app, create_event, create_registration):
    """An event that ended yesterday, with a confirmed, a waitlisted and a cancelled registrant,
    and no mail left in the outbox."""
    start = (utcnow() - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event = create_event(
        title="Webinar 1: Støttemateriellet",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        capacity=1,
        waitlist=True,
    )
    before = start - timedelta(days=3)
    create_registration(event, "kari@kommune.no", now=before, name="Kari Nordmann")
    create_registration(
        event, "ola@kommune.no", now=before, name="Ola Venteliste", municipality="4601"
    )
    gone = create_registration(
        event, "per@kommune.no", now=before, name="Per Avbestilt", municipality="1103"
    )
    with within(app):
        registrations.cancel(db.session.get(Registration, gone.id), now=before)
        with write_transaction():
            db.session.execute(delete(OutboxMessage))
    return event


@pytest.fixture
def register(client):
    """POST the public registration form the way a browser does (GET for the CSRF token first)."""

    def submit(slug: str, **fields):
        page = client.get(f"/events/{slug}")
        if 'name="csrf_token"' not in page.text:  # a closed event: any form of the session
            page = client.get("/organiser/login")
        token = form_token(page.text)
        data = {**PERSON, "email": "kari@kommune.no", "organisation": "", "csrf_token": token}
        data.update(fields)
        return client.post(f"/events/{slug}/register", data=data)

    return submit


# --- a real SMTP server -------------------------------------------------------------------


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""
    with serve_smtp(Inbox()) as inbox:
        yield inbox


@pytest.fixture
def mail_app(app, smtp):
    """The app delivering to the real SMTP server above."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    transport.init_app(app)
    return app
