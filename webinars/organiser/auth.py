"""Organiser accounts: creating them, checking passwords with a lock-out, login and logout."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import Organiser, utcnow
from . import bp
from .forms import LoginForm

#: Failed logins in a row before the account is locked, and for how long.
MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


# Checked against when the e-mail is unknown, so a wrong address costs as much time as a
# wrong password and the answer's timing does not tell which addresses have accounts.
# Made on first use: hashing is deliberately slow and every `flask` command imports this.
@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-password-of-anyone")


class AccountError(Exception):
    """An account that cannot be created or changed; the text is for the operator."""


class LoginFailed(Exception):
    """Wrong e-mail or password, or a locked account: the same answer for all three."""


class AccountLocked(Exception):
    """The right password for an account that is locked after too many failures."""

    def __init__(self, until: datetime):
        super().__init__(until.isoformat())
        self.until = until


def _find(email: str) -> Organiser | None:
    return db.session.scalar(
        select(Organiser).where(func.lower(Organiser.email) == email.strip().lower())
    )


def create_organiser(email: str, password: str) -> Organiser:
    """Create an organiser account with a scrypt-hashed password (no commit)."""
    email = email.strip().lower()
    if _find(email) is not None:
        raise AccountError(f"An organiser with the e-mail {email} already exists.")
    _check_password(password)
    organiser = Organiser(email=email, password_hash=generate_password_hash(password))
    db.session.add(organiser)
    return organiser


def set_password(email: str, password: str) -> Organiser:
    """Give an organiser a new password, unlock the account and end their sessions (no commit)."""
    organiser = _find(email)
    if organiser is None:
        raise AccountError(f"No organiser has the e-mail {email.strip().lower()}.")
    _check_password(password)
    organiser.password_hash = generate_password_hash(password)
    organiser.session_version += 1
    organiser.failed_logins = 0
    organiser.locked_until = None
    return organiser


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")


def authenticate(email: str, password: str, now: datetime | None = None) -> Organiser:
    """The organiser with this e-mail and password; counts failures and locks (commits).

    A wrong password, an unknown e-mail and a locked account all raise LoginFailed, so the
    answer never tells whether an address has an account. Only someone who gives the right
    password to a locked account learns that it is locked (AccountLocked).
    """
    now = now or utcnow()
    organiser = _find(email)
    if organiser is None:
        check_password_hash(_dummy_hash(), password)
        raise LoginFailed()
    # Lock the row: two parallel guesses must both be counted.
    db.session.refresh(organiser, with_for_update=True)
    correct = check_password_hash(organiser.password_hash, password)
    until = organiser.locked_until
    if until is not None and until > now:
        db.session.rollback()
        if correct:
            raise AccountLocked(until)
        raise LoginFailed()
    if not correct:
        organiser.failed_logins += 1
        if organiser.failed_logins >= MAX_FAILED_LOGINS:
            organiser.failed_logins = 0
            organiser.locked_until = now + LOCK_DURATION
        db.session.commit()
        raise LoginFailed()
    organiser.failed_logins = 0
    organiser.locked_until = None
    db.session.commit()
    return organiser


def end_sessions(organiser: Organiser) -> None:
    """Make every session cookie issued to this organiser so far worthless (commits)."""
    organiser.session_version += 1
    db.session.commit()


# --- views --------------------------------------------------------------------------------


@bp.before_app_request
def _per_request_state():
    """Each request loads its organiser and CSRF token from its own cookie.

    Flask-Login and Flask-WTF cache them on `g`, which lives as long as the app context.
    Normally that is one request; where one app context serves several (the test client
    inside an app context), a cached user or token would skip checking this request's cookie.
    """
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def _safe_next(target: str | None) -> str:
    """Where to go after login: only an organiser page on this site that answers GET."""
    default = url_for("organiser.events")
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


_FAILED = _l(
    "Feil e-postadresse eller passord. Etter %(count)d mislykkede forsøk på rad sperres "
    "kontoen i %(minutes)d minutter."
)


def _clear_session() -> None:
    session.clear()
    # Flask-WTF caches the CSRF token on g; it belonged to the secret just cleared.
    g.pop("csrf_token", None)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("organiser/login.html", form=form), 422 if form.errors else 200
    try:
        organiser = authenticate(form.email.data, form.password.data)
    except LoginFailed:
        form.password.errors = [
            _FAILED % {"count": MAX_FAILED_LOGINS, "minutes": LOCK_DURATION.seconds // 60}
        ]
        return render_template("organiser/login.html", form=form), 422
    except AccountLocked as exc:
        minutes = max(1, -(-int((exc.until - utcnow()).total_seconds()) // 60))
        form.password.errors = [
            _(
                "Kontoen er sperret etter for mange mislykkede forsøk. Prøv igjen om "
                "%(minutes)d minutter.",
                minutes=minutes,
            )
        ]
        return render_template("organiser/login.html", form=form), 429
    target = _safe_next(request.args.get("next"))
    # A fresh session at login: nothing from before survives into the logged-in one.
    lang = session.get("lang")
    _clear_session()
    if lang:
        session["lang"] = lang
    login_user(organiser)
    return redirect(target, code=303)


@bp.post("/logout")
def logout():
    """Log out: this session cookie, and any copy of it, stops working."""
    organiser = db.session.get(Organiser, current_user.id)
    logout_user()
    _clear_session()
    end_sessions(organiser)
    flash(_("Du er logget ut."))
    return redirect(url_for("organiser.login"), code=303)
