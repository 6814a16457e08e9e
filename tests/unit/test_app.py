"""The app factory (webinars/__init__.py): one app per call, configured as asked."""

import logging
import os

import pytest

import webinars
from config import Config
from webinars import create_app
from webinars.mail import transport


class Settings:
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    PUBLIC_URL = "https://webinarer.example.no"


def test_no_app_exists_at_import():
    assert not hasattr(webinars, "app")


def test_settings_come_from_a_dict_or_a_class():
    assert (
        create_app({"TESTING": True, "PUBLIC_URL": "https://a.example"}).config["PUBLIC_URL"]
        == "https://a.example"
    )
    assert create_app(Settings).config["PUBLIC_URL"] == "https://webinarer.example.no"


def test_each_call_builds_its_own_app():
    first, second = create_app(Settings), create_app(Settings)
    assert first is not second
    first.config["PUBLIC_URL"] = "https://changed.example"
    assert second.config["PUBLIC_URL"] == "https://webinarer.example.no"


def test_without_a_mail_server_mail_goes_to_the_log():
    app = create_app({**vars_of(Settings), "MAIL_SERVER": None})
    assert isinstance(app.extensions[transport.EXTENSION], transport.LogTransport)


def test_with_a_mail_server_mail_goes_over_smtp():
    app = create_app({**vars_of(Settings), "MAIL_SERVER": "smtp.example.no"})
    assert isinstance(app.extensions[transport.EXTENSION], transport.SMTPTransport)


def test_the_delivery_thread_starts_with_the_first_request_outside_tests():
    def hooks(app):
        return [f.__name__ for f in app.before_request_funcs.get(None, [])]

    production = {**vars_of(Settings), "TESTING": False, "SECRET_KEY": "k" * 64}
    running = create_app({**production, "MAIL_DELIVERY_THREAD": True})
    assert "_ensure_delivery_thread" in hooks(running)
    off = create_app({**production, "MAIL_DELIVERY_THREAD": False})
    assert "_ensure_delivery_thread" not in hooks(off)
    assert "_ensure_delivery_thread" not in hooks(create_app(Settings))


def test_both_blueprints_and_the_site_routes_are_served():
    app = create_app(Settings)
    assert {"registration", "organiser"} <= set(app.blueprints)
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/", "/healthz", "/organiser/login", "/events/<slug>"} <= rules


def test_templates_come_from_the_top_level_folder():
    app = create_app(Settings)
    assert app.jinja_loader.searchpath[0].endswith("/templates")


def vars_of(cls) -> dict:
    return {key: value for key, value in vars(cls).items() if key.isupper()}


# --- the secret key -----------------------------------------------------------------------


def test_no_secret_key_is_written_in_the_source():
    assert (os.environ.get("SECRET_KEY") or None) == Config.SECRET_KEY


def test_without_secret_key_the_app_refuses_to_start_naming_the_variable():
    settings = {**vars_of(Settings), "TESTING": False, "SECRET_KEY": None}
    with pytest.raises(webinars.MissingSecretKey) as refused:
        create_app(settings)
    message = str(refused.value)
    assert "SECRET_KEY" in message and "secrets.token_hex" in message and "\n" not in message


def test_debug_and_tests_get_a_random_key_of_their_own():
    keys = {
        create_app({**vars_of(Settings), "SECRET_KEY": None}).secret_key,
        create_app({**vars_of(Settings), "TESTING": False, "DEBUG": True}).secret_key,
    }
    assert len(keys) == 2 and all(len(key) == 64 for key in keys)


def test_without_mail_server_start_up_warns_outside_debug(caplog):
    with caplog.at_level(logging.WARNING, logger="webinars"):
        create_app({**vars_of(Settings), "TESTING": False, "SECRET_KEY": "k" * 64})
    assert "MAIL_SERVER is not set" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="webinars"):
        create_app(
            {**vars_of(Settings), "TESTING": False, "SECRET_KEY": "k" * 64, "MAIL_SERVER": "m"}
        )
    assert "MAIL_SERVER" not in caplog.text
