"""Organiser accounts: creating them, passwords, checking a login with a lock-out, sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.security import check_password_hash, generate_password_hash

from .db import write_transaction
from .extensions import db
from .models import LoginFailure, Organiser, utcnow

#: Wrong passwords in a row from one client address before the account is locked for that
#: address, and for how long.
MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


class AccountError(Exception):
    """An account that cannot be created or changed; the text is for the operator."""


class LoginFailed(Exception):
    """Wrong e-mail or password, or a locked account: the same answer for all of them."""


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
        db.session.execute(delete(LoginFailure).where(LoginFailure.organiser_id == organiser.id))
    return organiser


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")


def authenticate(
    email: str, password: str, client: str = "unknown", now: datetime | None = None
) -> Organiser:
    """The organiser with this e-mail and password; counts failures and locks.

    A wrong password, an unknown e-mail and a locked account all raise LoginFailed, so the
    answer never tells whether an address has an account or a password was right. The lock
    is kept per account and client address: MAX_FAILED_LOGINS wrong passwords in a row from
    one address lock the account for that address for LOCK_DURATION, and every attempt from
    it while locked counts too (the password is not even checked). Someone who knows an
    organiser's address can so lock out only themselves; the per-client rate limit on the
    login page bounds how many accounts one address can try.
    """
    now = now or utcnow()
    client = client[:64]
    organiser = find(email)
    if organiser is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH"]), password)
        raise LoginFailed()
    correct = False
    with write_transaction():
        failure = _failure_row(organiser, client)
        if failure.locked_until is not None and failure.locked_until > now:
            # Locked: the same work and the same answer as a wrong password, whatever it was.
            check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH"]), password)
            failure.failures += 1
        elif check_password_hash(organiser.password_hash, password):
            correct = True
            db.session.delete(failure)
        else:
            failure.failures += 1
            if failure.failures >= MAX_FAILED_LOGINS:
                failure.failures = 0
                failure.locked_until = now + LOCK_DURATION
    if not correct:
        raise LoginFailed()
    return organiser


def _failure_row(organiser: Organiser, client: str) -> LoginFailure:
    """This account's failures from this client, locked for the transaction (new if none)."""
    key = {"organiser_id": organiser.id, "client": client}
    # INSERT … ON CONFLICT DO NOTHING, then lock the row: two parallel first guesses must
    # both be counted, and neither may fail on the other's insert.
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(LoginFailure).values(**key, failures=0).on_conflict_do_nothing())
    return db.session.scalars(
        select(LoginFailure)
        .filter_by(**key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def failures(organiser: Organiser) -> list[LoginFailure]:
    """The wrong-password counts and locks on this account, by client address."""
    return list(
        db.session.scalars(
            select(LoginFailure)
            .where(LoginFailure.organiser_id == organiser.id)
            .order_by(LoginFailure.client)
            .execution_options(populate_existing=True)
        )
    )


def end_sessions(organiser: Organiser) -> None:
    """Make every session cookie issued to this organiser so far worthless."""
    with write_transaction():
        organiser.session_version += 1
