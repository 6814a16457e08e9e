"""The public side: events, registration, the registrant's own page, calendar files."""

from flask import Blueprint

bp = Blueprint("registration", __name__)

from . import views  # noqa: E402,F401
