"""The entities of a campaign: programmes, contacts, invitations, declarations, attendance.

The rules live in programmes.py, campaign.py, contacts.py, invitations.py, declarations.py
and attendance.py; here are the columns and what follows from a row alone.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .core import Event, Municipality


class Programme(db.Model):
    """A series of events with one campaign: who is eligible, the goal, the deadline."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Comma-separated health regions / county numbers of the campaign; empty means every one.
    #: The programme's own, never derived from its events: the goal must not move with them.
    eligible_regions: Mapped[str] = mapped_column(String(200), default="", server_default="")
    eligible_counties: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: The goal: municipalities holding more than this share (in per cent) of the eligible
    #: population sign.
    goal_percent: Mapped[int] = mapped_column(Integer, default=50, server_default=text("50"))
    #: The last day a declaration counts as on time (Akson: 1 July 2020).
    declarations_due: Mapped[date] = mapped_column(Date)
    organiser_name: Mapped[str] = mapped_column(String(200), default="")
    organiser_email: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    events: Mapped[list[Event]] = relationship(
        back_populates="programme", order_by="Event.starts_at"
    )

    @property
    def region_list(self) -> list[str]:
        return [r for r in self.eligible_regions.split(",") if r]

    @property
    def county_list(self) -> list[str]:
        return [c for c in self.eligible_counties.split(",") if c]


class Contact(db.Model):
    """A person to reach in a municipality, imported from a file or known from registering."""

    __tablename__ = "contacts"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    IMPORTED = "imported"
    REGISTERED = "registered"

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_number: Mapped[str] = mapped_column(
        ForeignKey("municipalities.number"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    #: A key of ROLES.
    role: Mapped[str] = mapped_column(String(40))
    #: Always lower-cased; one contact per address.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: imported (from a contacts file) or registered (known because they registered).
    source: Mapped[str] = mapped_column(String(20), default=IMPORTED)
    #: Set when they opted out of invitations (one-click unsubscribe); they get no more.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    municipality: Mapped[Municipality] = relationship()


class Invitation(db.Model):
    """One contact invited to one event: at most one per pair, kept by the database."""

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("event_id", "contact_id", name="uq_invitations_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The last reminder to someone who had not registered, and how many they got.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    event: Mapped[Event] = relationship()
    contact: Mapped[Contact] = relationship()


class SubmissionLink(db.Model):
    """A contact was sent the personal link to submit their municipality's declaration."""

    __tablename__ = "submission_links"
    __table_args__ = (
        UniqueConstraint("programme_id", "contact_id", name="uq_submission_links_programme"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeclarationDocument(db.Model):
    """A signed declaration as uploaded (a PDF), in the database so every web server has it."""

    __tablename__ = "declaration_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ASCII file name offered on download.
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    #: Loaded only when the file itself is asked for.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Declaration(db.Model):
    """A municipality's declaration of intent for a programme; withdrawn ones stay as history."""

    __tablename__ = "declarations"
    __table_args__ = (
        # One accepted declaration per municipality and programme; any number of others.
        Index(
            "uq_declarations_accepted",
            "programme_id",
            "municipality_number",
            unique=True,
            sqlite_where=text("status = 'accepted'"),
            postgresql_where=text("status = 'accepted'"),
        ),
    )

    #: Sent in by the municipality through its link; counts once an organiser accepts it.
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), index=True
    )
    municipality_number: Mapped[str] = mapped_column(ForeignKey("municipalities.number"))
    status: Mapped[str] = mapped_column(String(20), default=ACCEPTED)
    #: The date the signed declaration was received (after the deadline: late, still counted).
    signed_on: Mapped[date] = mapped_column(Date)
    signed_by_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    signed_by_role: Mapped[str] = mapped_column(String(200), default="", server_default="")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("declaration_documents.id", ondelete="SET NULL")
    )
    #: organiser (recorded on the page), file (a declarations CSV) or municipality (its link).
    source: Mapped[str] = mapped_column(String(20), default="organiser")
    submitted_by_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    #: Who recorded it (an organiser's address, "file" or the contact's address) and when.
    recorded_by: Mapped[str] = mapped_column(String(254), default="", server_default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Who accepted or rejected a submission, and when.
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(254))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    municipality: Mapped[Municipality] = relationship()
    document: Mapped[DeclarationDocument | None] = relationship()


class AttendanceReport(db.Model):
    """The participant report last loaded for an event, and the rows that matched nobody."""

    __tablename__ = "attendance_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    #: zoom, teams or csv.
    source: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(200), default="")
    #: Attendees in the report, and how many of them matched a registration.
    attendees: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON list of {email, name, minutes} for attendees who matched no registration;
    #: emptied when the event's registrations are anonymised.
    unmatched: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    loaded_by: Mapped[str] = mapped_column(String(254), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
