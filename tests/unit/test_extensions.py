"""The extension objects (webinars/extensions.py): unbound, with stable constraint names."""

from webinars import extensions
from webinars.extensions import NAMING_CONVENTION, db


def test_constraint_names_follow_the_convention_on_every_database():
    tables = db.metadata.tables
    names = {
        constraint.name
        for table in tables.values()
        for constraint in table.constraints
        if constraint.name
    }
    assert "pk_events" in names
    assert "uq_events_slug" in names
    assert "ck_registrations_email_lower_case" in names
    assert "fk_registrations_event_id_events" in names
    assert db.metadata.naming_convention == {**db.metadata.naming_convention, **NAMING_CONVENTION}


def test_the_extensions_hold_no_app_until_one_is_built():
    for name in ("db", "migrate", "mail", "csrf", "babel", "login"):
        extension = getattr(extensions, name)
        assert getattr(extension, "app", None) is None, f"{name} is bound at import"
