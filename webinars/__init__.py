"""webinars: registration for national digital meetings and webinar series."""

import logging
import secrets

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import INSTANCE_DIR, Config

from . import cli, db, i18n, security, site, uploads
from .extensions import babel, csrf, limiter, login, migrate
from .extensions import db as sqlalchemy
from .mail import transport, worker
from .organiser import bp as organiser_bp
from .registration import bp as registration_bp


class MissingSecretKey(RuntimeError):
    """SECRET_KEY is unset outside debug and tests: sessions could be forged."""


def create_app(config: dict | type | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, mail transport and worker."""
    app = Flask(__name__, template_folder="../templates", instance_path=str(INSTANCE_DIR))
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    _check_secret_key(app)
    INSTANCE_DIR.mkdir(exist_ok=True)
    if not app.logger.handlers or app.logger.level == logging.NOTSET:
        app.logger.setLevel(logging.INFO)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    sqlalchemy.init_app(app)
    db.init_app(app)
    migrate.init_app(app, sqlalchemy, directory=str(app.root_path + "/../migrations"))
    uploads.init_app(app)  # before CSRF protection, which reads the body
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    login.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)

    security.init_app(app)  # before the blueprints: it bounds the URL converters
    app.register_blueprint(registration_bp)
    app.register_blueprint(organiser_bp, url_prefix="/organiser")
    site.init_app(app)
    cli.init_app(app)
    transport.init_app(app)
    worker.init_app(app)
    return app


def _check_secret_key(app: Flask) -> None:
    """Refuse to start without SECRET_KEY, except in debug and tests (a key per process)."""
    if app.config.get("SECRET_KEY"):
        return
    if not (app.debug or app.testing):
        raise MissingSecretKey(
            "SECRET_KEY is not set: set it to a long random value, e.g. the output of "
            "python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    # Sessions of a debug server or a test die with the process: no key is in the source.
    app.config["SECRET_KEY"] = secrets.token_hex(32)
