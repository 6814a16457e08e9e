"""The campaign: programmes, contacts, invitations, declarations, attendance

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

A programme groups events and owns the campaign (eligible municipalities, the goal, the
declaration deadline); events point to their programme. Contacts are the people to reach
per municipality; invitations are one per contact and event; submission links record who
was sent the link to hand in a declaration. Declarations keep their history (withdrawn and
rejected ones stay) and their signed PDF in the database. A loaded participant report sets
the minutes each registrant attended and keeps the rows that matched nobody.

Existing data: nothing to move. `flask seed akson` creates the Akson programme and attaches
the four Akson events on a database seeded before this change too.
"""

from datetime import UTC, date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("eligible_regions", sa.String(length=200), server_default="", nullable=False),
        sa.Column("eligible_counties", sa.String(length=200), server_default="", nullable=False),
        sa.Column("goal_percent", sa.Integer(), server_default=sa.text("50"), nullable=False),
        sa.Column("declarations_due", sa.Date(), nullable=False),
        sa.Column("organiser_name", sa.String(length=200), nullable=False),
        sa.Column("organiser_email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programmes")),
        sa.UniqueConstraint("slug", name=op.f("uq_programmes_slug")),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("programme_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_events_programme_id_programmes"),
            "programmes",
            ["programme_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_events_programme_id"), ["programme_id"])
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("attended_minutes", sa.Integer(), nullable=True))
    # Indexes for the campaign's figures: a seek per municipality for "registered" and
    # "attended" (the first replaces the index on municipality_number alone); and
    # registrations counted per event and day, for the chart of registrations per day.
    op.drop_index("ix_registrations_municipality_number", table_name="registrations")
    op.create_index(
        "ix_registrations_municipality_event",
        "registrations",
        ["municipality_number", "event_id", "status"],
    )
    op.create_index(
        "ix_registrations_attended",
        "registrations",
        ["municipality_number", "event_id"],
        sqlite_where=sa.text("attended_minutes IS NOT NULL"),
        postgresql_where=sa.text("attended_minutes IS NOT NULL"),
    )
    op.create_table(
        "registration_counts",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_registration_counts_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "day", name=op.f("pk_registration_counts")),
    )
    _count_registrations_made_before()

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_number", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_contacts_email_lower_case")),
        sa.ForeignKeyConstraint(
            ["municipality_number"],
            ["municipalities.number"],
            name=op.f("fk_contacts_municipality_number_municipalities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("email", name=op.f("uq_contacts_email")),
    )
    op.create_index(op.f("ix_contacts_municipality_number"), "contacts", ["municipality_number"])

    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_invitations_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_invitations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("event_id", "contact_id", name="uq_invitations_event"),
    )
    op.create_index(op.f("ix_invitations_contact_id"), "invitations", ["contact_id"])

    op.create_table(
        "submission_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_submission_links_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_submission_links_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_links")),
        sa.UniqueConstraint("programme_id", "contact_id", name="uq_submission_links_programme"),
    )
    op.create_index(op.f("ix_submission_links_contact_id"), "submission_links", ["contact_id"])

    op.create_table(
        "declaration_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declaration_documents")),
    )

    op.create_table(
        "declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("municipality_number", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("signed_by_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("signed_by_role", sa.String(length=200), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("submitted_by_contact_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=254), server_default="", nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=254), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["declaration_documents.id"],
            name=op.f("fk_declarations_document_id_declaration_documents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["municipality_number"],
            ["municipalities.number"],
            name=op.f("fk_declarations_municipality_number_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_declarations_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_contact_id"],
            ["contacts.id"],
            name=op.f("fk_declarations_submitted_by_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declarations")),
    )
    op.create_index(op.f("ix_declarations_programme_id"), "declarations", ["programme_id"])
    op.create_index(
        "uq_declarations_accepted",
        "declarations",
        ["programme_id", "municipality_number"],
        unique=True,
        sqlite_where=sa.text("status = 'accepted'"),
        postgresql_where=sa.text("status = 'accepted'"),
    )

    op.create_table(
        "attendance_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("attendees", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("unmatched", sa.Text(), server_default="[]", nullable=False),
        sa.Column("loaded_by", sa.String(length=254), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_attendance_reports_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_reports")),
        sa.UniqueConstraint("event_id", name=op.f("uq_attendance_reports_event_id")),
    )


def _count_registrations_made_before() -> None:
    """The registrations made before this change, counted by the day (in their event's zone)
    they were made on. In Python: SQLite cannot convert time zones."""
    bind = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer), sa.column("timezone", sa.String))
    registrations = sa.table(
        "registrations",
        sa.column("event_id", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    zones = {row.id: ZoneInfo(row.timezone) for row in bind.execute(sa.select(events))}
    counts: dict[tuple[int, date], int] = {}
    for event_id, made in bind.execute(sa.select(registrations)):
        made = made if made.tzinfo else made.replace(tzinfo=UTC)  # SQLite keeps UTC, naive
        key = (event_id, made.astimezone(zones[event_id]).date())
        counts[key] = counts.get(key, 0) + 1
    if counts:
        table = sa.table(
            "registration_counts",
            sa.column("event_id", sa.Integer),
            sa.column("day", sa.Date),
            sa.column("count", sa.Integer),
        )
        bind.execute(
            table.insert(),
            [{"event_id": e, "day": d, "count": n} for (e, d), n in sorted(counts.items())],
        )


def downgrade():
    op.drop_table("attendance_reports")
    op.drop_index("uq_declarations_accepted", table_name="declarations")
    op.drop_index(op.f("ix_declarations_programme_id"), table_name="declarations")
    op.drop_table("declarations")
    op.drop_table("declaration_documents")
    op.drop_index(op.f("ix_submission_links_contact_id"), table_name="submission_links")
    op.drop_table("submission_links")
    op.drop_index(op.f("ix_invitations_contact_id"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index(op.f("ix_contacts_municipality_number"), table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("registration_counts")
    op.drop_index("ix_registrations_attended", table_name="registrations")
    op.drop_index("ix_registrations_municipality_event", table_name="registrations")
    op.create_index(
        "ix_registrations_municipality_number", "registrations", ["municipality_number"]
    )
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("attended_minutes")
    with op.batch_alter_table("events") as batch:
        batch.drop_index(op.f("ix_events_programme_id"))
        batch.drop_constraint(op.f("fk_events_programme_id_programmes"), type_="foreignkey")
        batch.drop_column("programme_id")
    op.drop_table("programmes")
