"""App-wide routes and hooks: the health check and the error pages."""

from flask import Flask, jsonify, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy import text

from .extensions import db


def init_app(app: Flask) -> None:
    """Register the health check and the error pages."""

    @app.get("/healthz")
    def healthz():
        """200 with {"status": "ok"} when the database answers."""
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means unhealthy
            app.logger.warning("health check failed: %s", exc)
            db.session.rollback()
            return jsonify(status="error"), 503
        return jsonify(status="ok")

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        """The form's token was missing or expired: nothing was stored."""
        return render_template("errors/csrf.html"), 400

    for code in (400, 403, 404, 405, 410, 413, 500):
        app.register_error_handler(code, _error_page(code))


def _error_page(code: int):
    def handler(error):
        """A page in words for an HTTP error."""
        if code == 500:
            db.session.rollback()
        return render_template("errors/error.html", code=code), code

    return handler
