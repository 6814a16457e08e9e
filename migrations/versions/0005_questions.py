"""Questions in advance, and who created an event

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A registrant may ask the organisers a question when registering (at most 1,000
characters); organisers mark it answered. Questions are personal data: they go with the
registration (deleted with it, and when it is anonymised). Events remember the organiser
account that created them, so a new event's organiser name and mailbox can default from
that organiser's last event.

Existing data: nothing to move; events created before this change have no creator.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_questions_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_questions_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    op.create_index(
        op.f("ix_questions_registration_id"), "questions", ["registration_id"], unique=False
    )
    op.create_index("ix_questions_event_answered", "questions", ["event_id", "answered_at"])
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_events_created_by_id_organisers"),
            "organisers",
            ["created_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_events_created_by_id"), ["created_by_id"])


def downgrade():
    with op.batch_alter_table("events") as batch:
        batch.drop_index(op.f("ix_events_created_by_id"))
        batch.drop_constraint(op.f("fk_events_created_by_id_organisers"), type_="foreignkey")
        batch.drop_column("created_by_id")
    op.drop_index("ix_questions_event_answered", table_name="questions")
    op.drop_index(op.f("ix_questions_registration_id"), table_name="questions")
    op.drop_table("questions")
