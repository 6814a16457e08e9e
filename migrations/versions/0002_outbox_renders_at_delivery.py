"""The outbox stores what a message needs and renders it at delivery; e-mails lower-case

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Rendering a mail (templates, MIME, calendar invite) was most of a registration's time and
of an event edit's (10 ms a registrant). The outbox now keeps the template, a JSON context,
the calendar METHOD and SEQUENCE reserved for the registrant, and the manage token until
the message is sent; the full message is built by the deliverer.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("template", sa.String(60), server_default="", nullable=False))
        batch.add_column(
            sa.Column("recipient_name", sa.String(200), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("locale", sa.String(5), server_default="nb", nullable=False))
        batch.add_column(sa.Column("context", sa.Text(), server_default="{}", nullable=False))
        batch.add_column(sa.Column("token", sa.String(100), nullable=True))
        batch.add_column(sa.Column("invite_method", sa.String(10), nullable=True))
        batch.add_column(sa.Column("invite_sequence", sa.Integer(), nullable=True))
        batch.drop_column("raw")
    with op.batch_alter_table("registrations") as batch:
        batch.create_check_constraint("email_lower_case", "email = lower(email)")


def downgrade():
    with op.batch_alter_table("registrations") as batch:
        batch.drop_constraint("email_lower_case", type_="check")
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("raw", sa.Text(), nullable=True))
        for column in (
            "invite_sequence",
            "invite_method",
            "token",
            "context",
            "locale",
            "recipient_name",
            "template",
        ):
            batch.drop_column(column)
