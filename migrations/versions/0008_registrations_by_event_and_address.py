"""An address's registrations for an event found with one seek

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

The duplicate check of every registration, the page's "send me my link again" and the
registrant's own rows ask for an event's registrations by address. The unique index on the
pair covers only the registrations that are not cancelled, and a cancelled one counts too
(its invite's SEQUENCE); so SQLite searched the event's index and read every registration
of the event, under the write lock: a registration cost more with each one made before it.

Existing data: none changes; the index is built from the rows.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_registrations_event_email", "registrations", ["event_id", "email"], unique=False
    )


def downgrade():
    op.drop_index("ix_registrations_event_email", table_name="registrations")
