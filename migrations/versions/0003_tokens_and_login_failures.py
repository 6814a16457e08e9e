"""Several live manage links per registration; login failures per account and client

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

A repeat registration used to replace the registration's only token, so the link the
registrant already had stopped working (and anyone could cut them off by registering their
address again). Tokens now live in `registration_tokens`, one row per link mailed; the
existing hashes move there. `confirmation_sent_at` lets a repeat registration re-send the
confirmation at most once per 10 minutes.

The lock-out moves from the account (where anyone who knew the address could keep it locked)
to the pair account + client address, in `login_failures`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "registration_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_registration_tokens_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_registration_tokens_token_hash")),
    )
    with op.batch_alter_table("registration_tokens") as batch:
        batch.create_index(
            batch.f("ix_registration_tokens_registration_id"), ["registration_id"], unique=False
        )
    op.execute(
        "INSERT INTO registration_tokens (registration_id, token_hash, created_at) "
        "SELECT id, token_hash, created_at FROM registrations"
    )
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("confirmation_sent_at", sa.DateTime(timezone=True)))
        batch.drop_constraint("uq_registrations_token_hash", type_="unique")
        batch.drop_column("token_hash")

    op.create_table(
        "login_failures",
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organisers.id"],
            name=op.f("fk_login_failures_organiser_id_organisers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organiser_id", "client", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("organisers") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")


def downgrade():
    with op.batch_alter_table("organisers") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_table("login_failures")

    # Each registration keeps one of its links (the newest); the others stop working.
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE registrations SET token_hash = (SELECT t.token_hash FROM registration_tokens t "
        "WHERE t.registration_id = registrations.id ORDER BY t.id DESC LIMIT 1)"
    )
    op.execute("UPDATE registrations SET token_hash = 'gone-' || id WHERE token_hash IS NULL")
    with op.batch_alter_table("registrations") as batch:
        batch.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_registrations_token_hash", ["token_hash"])
        batch.drop_column("confirmation_sent_at")
    with op.batch_alter_table("registration_tokens") as batch:
        batch.drop_index(batch.f("ix_registration_tokens_registration_id"))
    op.drop_table("registration_tokens")
