"""The entities, by topic: running events (core.py) and campaigns (campaign.py)."""

from .base import N_, UTCDateTime, local_to_utc, utcnow
from .campaign import (
    AttendanceReport,
    Contact,
    Declaration,
    DeclarationDocument,
    Invitation,
    Programme,
    SubmissionLink,
)
from .core import (
    ROLES,
    Event,
    LoginFailure,
    Material,
    Municipality,
    Organiser,
    OutboxMessage,
    Question,
    Registration,
    RegistrationCount,
    RegistrationToken,
)

__all__ = [
    "N_",
    "ROLES",
    "AttendanceReport",
    "Contact",
    "Declaration",
    "DeclarationDocument",
    "Event",
    "Invitation",
    "LoginFailure",
    "Material",
    "Municipality",
    "Organiser",
    "OutboxMessage",
    "Programme",
    "Question",
    "Registration",
    "RegistrationCount",
    "RegistrationToken",
    "SubmissionLink",
    "UTCDateTime",
    "local_to_utc",
    "utcnow",
]
