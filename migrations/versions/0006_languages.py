"""Languages: each municipality's official language form; contacts' languages found fast

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02

A municipality has an official language form under the language act (bokmål, nynorsk or
neutral: `municipalities.language`, `nb`/`nn`/`neutral`); it decides the language of
invitations to its people unless they chose one. The language a registrant used is
already kept in `registrations.locale` (since 0001), now one of nb, nn and en; an index on
the registrations' address and time finds a contact's latest choice with one seek.

Existing data: every municipality starts neutral (mails in bokmål, as before); organisers
set the forms on the municipalities page or load them with the register.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("municipalities") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=7), server_default="neutral", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_municipalities_language_form"), "language IN ('nb', 'nn', 'neutral')"
        )
    op.create_index(
        "ix_registrations_email", "registrations", ["email", "created_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_registrations_email", table_name="registrations")
    with op.batch_alter_table("municipalities") as batch:
        batch.drop_constraint(op.f("ck_municipalities_language_form"), type_="check")
        batch.drop_column("language")
