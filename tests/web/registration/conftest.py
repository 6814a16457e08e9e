"""Fixtures of the public pages' tests."""

import pytest

from webinars import create_app
from webinars.extensions import db

#: What a second worker shares with the first: the database, the key, the address.
SETTINGS = ("TESTING", "SECRET_KEY", "PUBLIC_URL", "SQLALCHEMY_DATABASE_URI", "MAIL_SERVER")


@pytest.fixture
def other_worker(app):
    """A second app on the same database, with the same settings: another gunicorn worker."""
    other = create_app(
        {**{key: app.config[key] for key in SETTINGS}, "MAIL_DELIVERY_THREAD": False}
    )
    yield other
    with other.app_context():
        db.engine.dispose()
