"""The organiser side: events, participants, exports, recordings, coverage, outgoing mail."""

from flask import Blueprint

from ..extensions import db, login
from ..models import Organiser

bp = Blueprint("organiser", __name__)

login.login_view = "organiser.login"
login.login_message = None  # the login page says what to do


@login.user_loader
def load_organiser(user_id: str) -> Organiser | None:
    """Sessions name the organiser and their session version; a bumped version ends them."""
    organiser_id, _, version = user_id.partition(":")
    if not organiser_id.isdigit() or not version.isdigit():
        return None
    organiser = db.session.get(Organiser, int(organiser_id))
    if organiser is None or organiser.session_version != int(version):
        return None
    return organiser


#: Endpoints reachable without logging in; everything else on this blueprint needs a login.
PUBLIC_ENDPOINTS = {"organiser.login"}


@bp.before_request
def require_login():
    """Every organiser page and export refuses anonymous users, new routes included."""
    from flask import request
    from flask_login import current_user

    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login.unauthorized()
    return None


from . import (  # noqa: E402,F401  # noqa: E402,F401
    auth,
    coverage,
    events,
    outbox,
    participants,  # noqa: E402,F401
    recordings,
)
