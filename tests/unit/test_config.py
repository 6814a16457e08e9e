"""Settings from the environment (config.py): booleans, the database URL."""

import pytest

from config import INSTANCE_DIR, database_url, env_bool


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("false", False),
     ("No", False), ("off", False)],
)  # fmt: skip
def test_booleans_accept_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env_bool("SOME_FLAG") is expected


def test_an_unset_or_empty_boolean_takes_its_default(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)
    assert env_bool("SOME_FLAG", True) is True
    monkeypatch.setenv("SOME_FLAG", "  ")
    assert env_bool("SOME_FLAG") is False


def test_a_misspelt_boolean_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("MAIL_USE_TLS", "ja")
    with pytest.raises(ValueError, match="MAIL_USE_TLS"):
        env_bool("MAIL_USE_TLS")


def test_the_database_defaults_to_sqlite_in_the_instance_folder():
    assert database_url(None) == f"sqlite:///{INSTANCE_DIR / 'webinars.sqlite'}"
    assert database_url("") == database_url(None)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgresql_urls_use_psycopg_3(scheme):
    url = database_url(f"{scheme}://user:pw@db.example:5432/webinars")
    assert url == "postgresql+psycopg://user:pw@db.example:5432/webinars"


def test_other_urls_are_kept_as_given():
    assert database_url("sqlite:////srv/webinars.sqlite") == "sqlite:////srv/webinars.sqlite"
