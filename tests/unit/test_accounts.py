"""Organiser accounts: creating them, passwords, checking a login with a lock-out, sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from config import Config
from webinars import accounts
from webinars.accounts import LOCK_DURATION, MAX_FAILED_LOGINS
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Organiser, utcnow

PASSWORD = "korrekt hest batteri"


@pytest.fixture
def account(ctx):
    return accounts.create_organiser("ola@ks.no", PASSWORD)


def reload(organiser: Organiser) -> Organiser:
    db.session.expire_all()
    return db.session.get(Organiser, organiser.id)


def fail(email: str = "ola@ks.no", password: str = "feil passord her", **kwargs) -> None:
    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate(email, password, **kwargs)


# --- creating and passwords -----------------------------------------------------------------


def test_create_organiser_stores_a_scrypt_hash_and_commits(ctx):
    accounts.create_organiser(" Kari@KS.no ", PASSWORD)
    # Seen from another session: the account is committed, not only added.
    with ctx.app_context():
        stored = db.session.scalar(select(Organiser))
        assert stored.email == "kari@ks.no"
        assert stored.password_hash.startswith("scrypt:")
        assert PASSWORD not in stored.password_hash
        assert check_password_hash(stored.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("ola@ks.no", PASSWORD, "already exists"),
        ("OLA@ks.no", PASSWORD, "already exists"),
        ("kari@ks.no", "kort", "at least 10"),
    ],
)
def test_create_organiser_refuses_a_taken_address_and_a_short_password(
    account, email, password, message
):
    with pytest.raises(accounts.AccountError, match=message):
        accounts.create_organiser(email, password)
    assert db.session.scalar(select(func.count()).select_from(Organiser)) == 1


def test_find_ignores_case_and_spaces(account):
    assert accounts.find("  OLA@KS.no") is account
    assert accounts.find("kari@ks.no") is None


def test_set_password_changes_it_unlocks_and_ends_sessions(account):
    for _ in range(MAX_FAILED_LOGINS):
        fail()
    old_session = account.get_id()
    accounts.set_password("Ola@ks.no", "et nytt langt passord")
    organiser = reload(account)
    assert accounts.failures(organiser) == []
    assert accounts.load(old_session) is None
    assert accounts.load(organiser.get_id()) is organiser
    fail(password=PASSWORD)
    assert accounts.authenticate("ola@ks.no", "et nytt langt passord") is organiser


def test_set_password_refuses_unknown_addresses_and_short_passwords(account):
    with pytest.raises(accounts.AccountError, match="No organiser"):
        accounts.set_password("kari@ks.no", "et nytt langt passord")
    with pytest.raises(accounts.AccountError, match="at least 10"):
        accounts.set_password("ola@ks.no", "kort")
    assert accounts.authenticate("ola@ks.no", PASSWORD) is reload(account)


# --- checking a login, the lock-out ---------------------------------------------------------

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


def lock(client: str = ATTACKER, **kwargs) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        fail(client=client, **kwargs)


def state(account, client: str = ATTACKER):
    """(failures, locked_until) of this account from this client, or None."""
    rows = {row.client: row for row in accounts.failures(reload(account))}
    row = rows.get(client)
    return None if row is None else (row.failures, row.locked_until)


def test_the_right_password_logs_in_and_anything_else_fails_alike(account):
    assert accounts.authenticate("OLA@ks.no", PASSWORD, client=OWNER) is account
    fail(client=OWNER)
    fail("finnes.ikke@ks.no", PASSWORD, client=OWNER)
    assert state(account, OWNER)[0] == 1  # an unknown address counts against nobody


def test_repeated_failures_lock_the_account_for_that_client(account):
    for _ in range(MAX_FAILED_LOGINS - 1):
        fail(client=ATTACKER)
    assert state(account) == (MAX_FAILED_LOGINS - 1, None)
    fail(client=ATTACKER)
    failures, until = state(account)
    assert until is not None and until - utcnow() > LOCK_DURATION - timedelta(minutes=1)


def test_password_oracle_the_lock_out_answers_the_right_password_as_a_wrong_one(account):
    """While locked, the right password fails exactly as a guess does, and is counted."""
    lock()
    _, until = state(account)
    fail(password=PASSWORD, client=ATTACKER)
    fail(password="enda et feil passord", client=ATTACKER)
    failures, still = state(account)
    assert failures == 2, "every attempt while locked counts"
    assert still == until


def test_locking_someone_out_works_only_against_yourself(account):
    """Whoever knows an organiser's address locks the account only for their own address."""
    lock(client=ATTACKER)
    assert accounts.authenticate("ola@ks.no", PASSWORD, client=OWNER) is reload(account)
    fail(password=PASSWORD, client=ATTACKER)


def test_the_lock_expires(account):
    lock()
    with write_transaction():
        for row in accounts.failures(reload(account)):
            row.locked_until = utcnow() - timedelta(seconds=1)
    assert accounts.authenticate("ola@ks.no", PASSWORD, client=ATTACKER) is reload(account)
    assert state(account) is None


def test_the_lock_ends_at_its_time(account):
    lock()
    _, until = state(account)
    fail(password=PASSWORD, client=ATTACKER, now=until - timedelta(seconds=1))
    assert accounts.authenticate("ola@ks.no", PASSWORD, client=ATTACKER, now=until) is reload(
        account
    )


def test_a_success_resets_the_failure_count(account):
    for _ in range(MAX_FAILED_LOGINS - 1):
        fail(client=ATTACKER)
    assert accounts.authenticate("ola@ks.no", PASSWORD, client=ATTACKER) is account
    assert state(account) is None


# --- sessions -------------------------------------------------------------------------------


def test_end_sessions_makes_earlier_session_ids_worthless(account):
    before = account.get_id()
    assert accounts.load(before) is account
    accounts.end_sessions(account)
    after = reload(account).get_id()
    assert after != before
    assert accounts.load(before) is None
    assert accounts.load(after) is account


@pytest.mark.parametrize(
    "user_id", ["", "{id}", "x:0", "{id}:x", "-{id}:0", "{id}:0:0", "{id}:1", "{other}:0"]
)
def test_load_refuses_malformed_and_unknown_session_ids(account, user_id):
    assert accounts.load(f"{account.id}:0") is account
    assert accounts.load(user_id.format(id=account.id, other=account.id + 1)) is None


def test_production_hashes_passwords_with_full_strength_scrypt(app):
    """The tests use a cheap work factor; the service itself keeps Werkzeug's default."""
    assert Config.PASSWORD_HASH == "scrypt"
    app.config["PASSWORD_HASH"] = Config.PASSWORD_HASH
    with app.app_context():
        organiser = accounts.create_organiser("streng@ks.test", PASSWORD)
        assert organiser.password_hash.startswith("scrypt:32768:8:1$")
        assert accounts.authenticate("streng@ks.test", PASSWORD) == organiser
