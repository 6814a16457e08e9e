"""The public side: events, registration, the registrant's own page, calendar files, and the
pages of a contact's personal links (invitation, unsubscribe, handing in a declaration)."""

from flask import Blueprint

from ..ical import calendar_links, feed_links
from ..registrations import is_full, is_open, links_open
from ..text import paragraphs

bp = Blueprint("registration", __name__)
# Pages ask the one rule whether an event takes registrations now.
bp.add_app_template_global(is_open, "registration_open")
bp.add_app_template_global(links_open, "links_open")
bp.add_app_template_global(is_full, "event_full")
# Descriptions are shown as the paragraphs they were typed in, whatever the line ends.
bp.add_app_template_filter(paragraphs, "paragraphs")
# Pages and mails build their "add to calendar" and subscription links with the one builder.
bp.add_app_template_global(calendar_links, "calendar_links")
bp.add_app_template_global(feed_links, "feed_links")

from . import campaign, views  # noqa: E402,F401
