"""webinars: registration for national digital meetings and webinar series."""

import logging

from flask import Flask, has_request_context, request, session

from config import INSTANCE_DIR, Config


def create_app(config: dict | type | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, commands."""
    app = Flask(
        __name__,
        template_folder="../templates",
        instance_path=str(INSTANCE_DIR),
    )
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    INSTANCE_DIR.mkdir(exist_ok=True)
    if not app.logger.handlers or app.logger.level == logging.NOTSET:
        app.logger.setLevel(logging.INFO)

    from . import cli, mail, views
    from .extensions import babel, configure_sqlite, csrf, db, login, migrate
    from .extensions import mail as flask_mail
    from .i18n import register_filters

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    flask_mail.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    login.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)

    register_filters(app)
    views.init_app(app)
    cli.init_app(app)
    mail.init_app(app)
    return app


def _select_locale() -> str:
    """Bokmål unless the visitor chose English with ?lang=en (remembered in the session)."""
    if not has_request_context():  # commands and the delivery loop: mails set their own
        return "nb"
    lang = request.args.get("lang")
    if lang in ("nb", "en"):
        session["lang"] = lang
        return lang
    return session.get("lang") if session.get("lang") in ("nb", "en") else "nb"
