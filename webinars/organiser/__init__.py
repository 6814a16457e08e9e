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
