"""Organiser accounts: creating them, passwords, checking a login with a lock-out, sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .db import write_transaction
from .extensions import db
from .models import Organiser, utcnow

#: Failed logins in a row before the account is locked, and for how long.
MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


class AccountError(Exception):
    """An account that cannot be created or changed; the text is for the operator."""


class LoginFailed(Exception):
    """Wrong e-mail or password, or a locked account: the same answer for all three."""


class AccountLocked(Exception):
    """The right password for an account that is locked after too many failures."""

    def __init__(self, until: datetime):
        super().__init__(until.isoformat())
        self.until = until


def _hash(password: str) -> str:
    """A password hash made the configured way (PASSWORD_HASH: scrypt by default)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH"])


# Checked against when the e-mail is unknown, so a wrong address costs as much time as a
# wrong password and the answer's timing does not tell which addresses have accounts.
# Made on first use: hashing is deliberately slow and every `flask` command imports this.
@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-password-of-anyone", method=method)


def find(email: str) -> Organiser | None:
    """The organiser with this e-mail address (any letter case)."""
    return db.session.scalar(
        select(Organiser).where(func.lower(Organiser.email) == email.strip().lower())
    )


def load(user_id: str) -> Organiser | None:
    """The organiser a session names ("<id>:<session version>"); a bumped version ends it."""
    organiser_id, _, version = user_id.partition(":")
    if not organiser_id.isdigit() or not version.isdigit():
        return None
    organiser = db.session.get(Organiser, int(organiser_id))
    if organiser is None or organiser.session_version != int(version):
        return None
    return organiser


def create_organiser(email: str, password: str) -> Organiser:
    """Create an organiser account with a scrypt-hashed password."""
    email = email.strip().lower()
    _check_password(password)
    with write_transaction():
        if find(email) is not None:
            raise AccountError(f"An organiser with the e-mail {email} already exists.")
        organiser = Organiser(email=email, password_hash=_hash(password))
        db.session.add(organiser)
    return organiser


def set_password(email: str, password: str) -> Organiser:
    """Give an organiser a new password, unlock the account and end their sessions."""
    _check_password(password)
    with write_transaction():
        organiser = find(email)
        if organiser is None:
            raise AccountError(f"No organiser has the e-mail {email.strip().lower()}.")
        organiser.password_hash = _hash(password)
        organiser.session_version += 1
        organiser.failed_logins = 0
        organiser.locked_until = None
    return organiser


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")


def authenticate(email: str, password: str, now: datetime | None = None) -> Organiser:
    """The organiser with this e-mail and password; counts failures and locks.

    A wrong password, an unknown e-mail and a locked account all raise LoginFailed, so the
    answer never tells whether an address has an account. Only someone who gives the right
    password to a locked account learns that it is locked (AccountLocked).
    """
    now = now or utcnow()
    organiser = find(email)
    if organiser is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH"]), password)
        raise LoginFailed()
    failed = False
    with write_transaction():
        # Lock the row: two parallel guesses must both be counted.
        db.session.refresh(organiser, with_for_update=True)
        correct = check_password_hash(organiser.password_hash, password)
        until = organiser.locked_until
        if until is not None and until > now:
            if correct:
                raise AccountLocked(until)
            raise LoginFailed()
        if correct:
            organiser.failed_logins = 0
            organiser.locked_until = None
        else:
            failed = True
            organiser.failed_logins += 1
            if organiser.failed_logins >= MAX_FAILED_LOGINS:
                organiser.failed_logins = 0
                organiser.locked_until = now + LOCK_DURATION
    if failed:
        raise LoginFailed()
    return organiser


def end_sessions(organiser: Organiser) -> None:
    """Make every session cookie issued to this organiser so far worthless."""
    with write_transaction():
        organiser.session_version += 1
