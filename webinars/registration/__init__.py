"""The public side: events, registration, the registrant's own page, calendar files, and the
pages of a contact's personal links (invitation, unsubscribe, handing in a declaration)."""

from flask import Blueprint

from ..ical import calendar_links, feed_links
from ..registrations import is_open

bp = Blueprint("registration", __name__)
# Pages ask the one rule whether an event takes registrations now.
bp.add_app_template_global(is_open, "registration_open")
# Pages and mails build their "add to calendar" and subscription links with the one builder.
bp.add_app_template_global(calendar_links, "calendar_links")
bp.add_app_template_global(feed_links, "feed_links")

from . import campaign, views  # noqa: E402,F401
