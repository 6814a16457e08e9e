"""The entities of running events: municipalities, events, registrations, organisers, outbox.

The rules about them live in the modules named for them (registrations.py, events.py,
accounts.py, mail/outbox.py); here are the columns and what follows from a row alone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import N_, UTCDateTime, local_to_utc, utcnow

if TYPE_CHECKING:
    from .campaign import Programme


class Municipality(db.Model):
    __tablename__ = "municipalities"
    __table_args__ = (CheckConstraint("language IN ('nb', 'nn', 'neutral')", name="language_form"),)

    BOKMAL = "nb"
    NYNORSK = "nn"
    NEUTRAL = "neutral"
    #: The official language forms (målvedtak), with their labels.
    LANGUAGE_FORMS = {BOKMAL: N_("bokmål"), NYNORSK: N_("nynorsk"), NEUTRAL: N_("nøytral")}

    #: Statistics Norway's 4-digit municipality number, e.g. "0301".
    number: Mapped[str] = mapped_column(String(4), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    county_number: Mapped[str] = mapped_column(String(2))
    county_name: Mapped[str] = mapped_column(String(80))
    population: Mapped[int] = mapped_column(Integer, default=0)
    #: Nord, Midt-Norge, Vest or Sør-Øst.
    health_region: Mapped[str] = mapped_column(String(20))
    #: False once a newer register no longer lists it (kept so old registrations still point here).
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    #: Its official language form under the language act: nb, nn or neutral. It decides
    #: the language of invitations and of mails nobody chose a language for.
    language: Mapped[str] = mapped_column(String(7), default=NEUTRAL, server_default=NEUTRAL)
    #: The last time a register load changed the row: with the count of rows it tells every
    #: process whether the choices it built are still the register's
    #: (municipalities.offered_choices).
    updated_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )


class Event(db.Model):
    __tablename__ = "events"

    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    #: "meeting" or "webinar".
    kind: Mapped[str] = mapped_column(String(20), default="webinar")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    target_group: Mapped[str] = mapped_column(Text, default="")
    #: Public description of the place, e.g. "Digitalt (lenke sendes på e-post)".
    location: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: IANA zone the event is announced in.
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Oslo")
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: An absolute deadline ...
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ... or one relative to the start: N days before, at a local wall-clock time.
    deadline_days_before: Mapped[int | None] = mapped_column(Integer)
    deadline_local_time: Mapped[time | None] = mapped_column(Time)
    #: draft, published or cancelled.
    status: Mapped[str] = mapped_column(String(20), default="draft")
    capacity: Mapped[int | None] = mapped_column(Integer)
    waitlist: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Confirmed registrations; updated atomically so capacity holds under concurrency.
    seats_taken: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    #: Comma-separated health regions / county numbers allowed; empty means every one.
    eligible_regions: Mapped[str] = mapped_column(String(200), default="", server_default="")
    eligible_counties: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: Private: travels only in personal e-mails, invites and the registrant's page.
    join_url: Mapped[str] = mapped_column(String(500), default="")
    ical_uid: Mapped[str] = mapped_column(String(200), unique=True)
    #: Raised whenever time, place or join link changes, and on cancellation.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    organiser_name: Mapped[str] = mapped_column(String(200), default="")
    organiser_email: Mapped[str] = mapped_column(String(254), default="")
    recording_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    recording_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The programme whose campaign this event is part of (Akson: the meeting and webinars).
    programme_id: Mapped[int | None] = mapped_column(
        ForeignKey("programmes.id", ondelete="SET NULL"), index=True
    )
    #: The organiser account that created it (a new event's organiser defaults follow it).
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisers.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    programme: Mapped[Programme | None] = relationship(back_populates="events")
    registrations: Mapped[list[Registration]] = relationship(
        back_populates="event", order_by="Registration.id"
    )
    materials: Mapped[list[Material]] = relationship(
        back_populates="event", order_by="Material.position", cascade="all, delete-orphan"
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(self.zone)

    @property
    def deadline(self) -> datetime:
        """When registration closes; a relative deadline follows the start when it moves."""
        if self.deadline_days_before is not None:
            day = self.local_start.date() - timedelta(days=self.deadline_days_before)
            at = self.deadline_local_time or time(23, 59)
            return local_to_utc(day, at, self.zone)
        return self.deadline_at or self.starts_at

    def is_past(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.ends_at

    @property
    def region_list(self) -> list[str]:
        return [r for r in self.eligible_regions.split(",") if r]

    @property
    def county_list(self) -> list[str]:
        return [c for c in self.eligible_counties.split(",") if c]

    @property
    def seats_left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.seats_taken, 0)


class Material(db.Model):
    __tablename__ = "materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer, default=0)

    event: Mapped[Event] = relationship(back_populates="materials")


class Registration(db.Model):
    __tablename__ = "registrations"
    __table_args__ = (
        # One active registration per e-mail per event; a cancelled one does not block.
        Index(
            "uq_registrations_event_email_active",
            "event_id",
            "email",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_registrations_event_status", "event_id", "status"),
        # An address's registrations for an event, cancelled ones too (the duplicate check,
        # "send me my link again"): a seek, not a read of the event's every registration.
        Index("ix_registrations_event_email", "event_id", "email"),
        # The campaign asks, for each municipality, whether anyone from it registered for
        # (or attended) one of the programme's events: a seek each, not a scan.
        Index("ix_registrations_municipality_event", "municipality_number", "event_id", "status"),
        Index(
            "ix_registrations_attended",
            "municipality_number",
            "event_id",
            sqlite_where=text("attended_minutes IS NOT NULL"),
            postgresql_where=text("attended_minutes IS NOT NULL"),
        ),
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        # A contact's language is that of their latest registration, found by address.
        Index("ix_registrations_email", "email", "created_at"),
    )

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: Always lower-cased.
    email: Mapped[str] = mapped_column(String(254))
    #: A key of ROLES in webinars.roles.
    role: Mapped[str] = mapped_column(String(40))
    municipality_number: Mapped[str] = mapped_column(ForeignKey("municipalities.number"))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    #: confirmed, waitlisted or cancelled.
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    #: Language of the pages the registrant used (one of i18n.LANGUAGES); every mail and
    #: invite of the registration is written in it.
    locale: Mapped[str] = mapped_column(String(5), default="nb", server_default="nb")
    #: The SEQUENCE of the last invite or cancellation this registrant's calendar got.
    ical_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Which reminders went out, for which start (so a moved event is reminded again).
    reminded_day_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_hour_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Minutes in the event by the loaded participant report (summed over rejoins); None
    #: when the report does not list them as attending, or no report is loaded.
    attended_minutes: Mapped[int | None] = mapped_column(Integer)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the confirmation (or the link asked for on the event page) was last queued, so
    #: a repeat registration or a "send me my link again" re-sends it rarely.
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(back_populates="registrations")
    municipality: Mapped[Municipality] = relationship()
    tokens: Mapped[list[RegistrationToken]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", passive_deletes=True
    )
    questions: Mapped[list[Question]] = relationship(
        back_populates="registration",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Question.id",
    )


class Question(db.Model):
    """A question to the organisers, asked when registering; personal data like the rest."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_event_answered", "event_id", "answered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    #: The registration's event, kept here so one event's questions are one index seek.
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    #: As typed, line breaks kept (as LF); at most 1,000 characters.
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When an organiser marked it answered; None while it is open.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    registration: Mapped[Registration] = relationship(back_populates="questions")


class RegistrationToken(db.Model):
    """One manage link of a registration; every link mailed stays valid until anonymisation."""

    __tablename__ = "registration_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the manage token; the token itself is only ever in the registrant's mail.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[Registration] = relationship(back_populates="tokens")


class RegistrationCount(db.Model):
    """How many registrations to an event were made on each day (the campaign's chart).

    Kept by each registration as it is made, in its transaction, so the chart reads a row a
    day instead of counting every registration.
    """

    __tablename__ = "registration_counts"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    #: The date in the event's own time zone.
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Organiser(UserMixin, db.Model):
    __tablename__ = "organisers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: Changes when the password changes or the organiser logs out everywhere; old sessions die.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class LoginFailure(db.Model):
    """Wrong passwords in a row for one account from one client address, and its lock."""

    __tablename__ = "login_failures"

    organiser_id: Mapped[int] = mapped_column(
        ForeignKey("organisers.id", ondelete="CASCADE"), primary_key=True
    )
    #: The client address as the app sees it (behind TRUSTED_PROXIES: the forwarded one).
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(db.Model):
    """A message committed with the change that caused it, delivered later by the mail loop."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="SET NULL"), index=True
    )
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    #: One of the kinds registered in mail/outbox.py (confirmation, reminder_day, …).
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    recipient_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: templates/email/<template>/…, rendered by the deliverer in `locale`.
    template: Mapped[str] = mapped_column(String(60), default="", server_default="")
    locale: Mapped[str] = mapped_column(String(5), default="nb", server_default="nb")
    #: JSON: what the template needs beyond the event and the registration.
    context: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    #: The manage token for the link in the mail; cleared once sent (we keep only its hash).
    token: Mapped[str | None] = mapped_column(String(100))
    #: REQUEST or CANCEL when the mail carries the registrant's invite, with its SEQUENCE.
    invite_method: Mapped[str | None] = mapped_column(String(10))
    invite_sequence: Mapped[int | None] = mapped_column(Integer)
    #: One of the states in mail/outbox.py (queued, sending, retrying, sent, logged, failed).
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: While status is "sending": who holds it and until when (a crashed worker's claim expires).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event | None] = relationship()
    registration: Mapped[Registration | None] = relationship()


#: Roles offered on the registration form, stored by key.
ROLES: dict[str, str] = {
    "ordforer": N_("Ordfører"),
    "varaordforer": N_("Varaordfører"),
    "kommunedirektor": N_("Kommunedirektør/rådmann"),
    "kommunalsjef": N_("Kommunalsjef"),
    "politisk_leder": N_("Annen politisk leder"),
    "nokkelperson": N_("Annen nøkkelperson"),
}
