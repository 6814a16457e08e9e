"""App-wide views and hooks: blueprints, error pages, health check, security headers."""

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import text

from .extensions import db


def init_app(app: Flask) -> None:
    """Register the blueprints, the error pages and the health check."""
    from .organiser import bp as organiser_bp
    from .registration import bp as registration_bp

    app.register_blueprint(registration_bp)
    app.register_blueprint(organiser_bp, url_prefix="/organiser")
    # Lets shared templates link to pages only once they exist (the nav, for one).
    app.jinja_env.globals["has_endpoint"] = lambda endpoint: endpoint in app.view_functions

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
        return render_template("errors/csrf.html"), 400

    for code in (400, 403, 404, 405, 410, 500):
        app.register_error_handler(code, _error_page(code))

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        if request.path.startswith("/organiser"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _error_page(code: int):
    def handler(error):
        if code == 500:
            db.session.rollback()
        return render_template("errors/error.html", code=code), code

    return handler
