"""Municipalities know when a register load last changed them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Every process keeps the municipality choices it has built (and their rendered options) and
asks the database on each form whether the register is still the one it built them from:
the number of rows and the latest `updated_at`, one cheap query. A register loaded by any
other process changes that at once.

Existing data: every row gets the time of the upgrade.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("municipalities") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC there, as the models do
    municipalities = sa.table("municipalities", sa.column("updated_at", sa.DateTime(timezone=True)))
    op.execute(municipalities.update().values(updated_at=now))


def downgrade():
    with op.batch_alter_table("municipalities") as batch:
        batch.drop_column("updated_at")
