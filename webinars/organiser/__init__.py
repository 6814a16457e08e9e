"""The organiser side: events, participants, questions, exports, recordings, programmes and their
campaigns (contacts, invitations, attendance, declarations), outgoing mail.

Every route needs a logged-in organiser except the login page itself, so a new route can
never be left open by forgetting a decorator.
"""

from flask import Blueprint, request
from flask_login import current_user
from sqlalchemy import select

from .. import accounts
from ..extensions import db, login
from ..mail import transport
from ..models import Event, Programme

bp = Blueprint("organiser", __name__)

login.login_view = "organiser.login"
login.login_message = None  # the login page says what to do
login.user_loader(accounts.load)

#: Endpoints reachable without logging in; everything else on this blueprint needs a login.
PUBLIC_ENDPOINTS = {"organiser.login"}


@bp.before_request
def require_login():
    """Every organiser page and export refuses anonymous users, new routes included."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return login.unauthorized()


@bp.context_processor
def mail_state():
    """Whether mail really leaves: every organiser page warns while it only goes to the log."""
    return {"mail_not_sent": not transport.current().sends}


def event_or_404(slug: str) -> Event:
    """The event with this slug, in any status, or a 404 page."""
    return db.one_or_404(select(Event).where(Event.slug == slug))


def programme_or_404(slug: str) -> Programme:
    """The programme with this slug, or a 404 page."""
    return db.one_or_404(select(Programme).where(Programme.slug == slug))


from . import (  # noqa: E402,F401
    attendance,
    auth,
    campaign,
    contacts,
    declarations,
    events,
    invitations,
    municipalities,
    outbox,
    participants,
    programmes,
    questions,
    recordings,
)
