"""Organiser views: log in and log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import HTTPException

from .. import accounts
from ..extensions import limiter
from . import bp
from .forms import LoginForm

_FAILED = _l(
    "Feil e-postadresse eller passord. Etter %(count)d mislykkede forsøk på rad sperres "
    "kontoen i %(minutes)d minutter."
)


def safe_next(target: str | None, default: str | None = None) -> str:
    """Where to go after a form: only an organiser page on this site that answers GET."""
    default = default or url_for("organiser.events")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/organiser/"):
        return default
    if "\\" in target or target.startswith("//"):
        return default
    try:
        current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except HTTPException:
        return default
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _named_account() -> str:
    """The account a login attempt names, however it is spelt: one key for all its guessers."""
    return "login-account:" + " ".join((request.form.get("email") or "").lower().split())[:254]


def _failed(response) -> bool:
    return response.status_code == 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
# Wrong passwords for one account from every address together: guessing spread over many
# addresses still meets a bound. Only failures count, so the owner's logins do not.
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_ACCOUNT"],
    key_func=_named_account,
    methods=["POST"],
    deduct_when=_failed,
)
def login():
    """Log in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("organiser/login.html", form=form), 422 if form.errors else 200
    try:
        organiser = accounts.authenticate(
            form.email.data, form.password.data, client=request.remote_addr or "unknown"
        )
    except accounts.LoginFailed:
        # One answer for a wrong address, a wrong password and a locked account, whatever
        # password was given: a lock-out must not tell a guesser that a guess was right.
        minutes = accounts.LOCK_DURATION.seconds // 60
        form.password.errors = [_FAILED % {"count": accounts.MAX_FAILED_LOGINS, "minutes": minutes}]
        return render_template("organiser/login.html", form=form), 422
    target = safe_next(request.args.get("next"))
    # A fresh session at login: nothing from before survives into the logged-in one.
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    # Permanent, so PERMANENT_SESSION_LIFETIME (8 hours) applies; Flask re-signs the cookie
    # on every request and refuses one older than that: the session ends after 8 idle hours.
    session.permanent = True
    login_user(organiser)
    return redirect(target, code=303)


@bp.post("/logout")
def logout():
    """Log out: this session cookie, and any copy of it, stops working."""
    organiser = current_user._get_current_object()
    logout_user()
    session.clear()
    accounts.end_sessions(organiser)
    flash(_("Du er logget ut."))
    return redirect(url_for("organiser.login"), code=303)
