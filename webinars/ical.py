"""The one iCalendar builder (RFC 5545/5546): invites, cancellations, downloads and the feed.

Public files (METHOD:PUBLISH) never carry the join link or a personal link: calendars get
shared. Personal invites (METHOD:REQUEST / CANCEL) carry the join link, the organiser's
mailbox as ORGANIZER and the registrant as ATTENDEE with RSVP=FALSE.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

from flask import current_app
from flask_babel import gettext as _
from icalendar import Calendar, Timezone, vCalAddress
from icalendar import Event as VEvent

from .models import Event, Registration, utcnow

PRODID = "-//webinars//webinars 1.0//NB"


@lru_cache(maxsize=64)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    """A VTIMEZONE narrowed to the years in use; generating it is the slow part, so cache it."""
    zone = Timezone.from_tzid(
        tzid, first_date=date(first_year - 1, 1, 1), last_date=date(last_year + 1, 12, 31)
    )
    return zone.to_ical()


def _calendar(method: str, events: list[Event], name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    zones: dict[str, list[int]] = {}
    for event in events:
        years = zones.setdefault(event.timezone, [])
        years += [event.local_start.year, event.local_end.year]
    for tzid, years in sorted(zones.items()):
        cal.add_component(Timezone.from_ical(_vtimezone(tzid, min(years), max(years))))
    return cal


def event_url(event: Event) -> str:
    return f"{current_app.config['PUBLIC_URL']}/events/{event.slug}"


def _organizer(event: Event) -> vCalAddress:
    address = vCalAddress(f"mailto:{event.organiser_email}")
    if event.organiser_name:
        address.params["cn"] = event.organiser_name
    return address


def _vevent(event: Event, sequence: int, *, private: bool, cancelled: bool = False) -> VEvent:
    vevent = VEvent()
    vevent.add("uid", event.ical_uid)
    vevent.add("sequence", sequence)
    vevent.add("dtstamp", utcnow())
    vevent.add("dtstart", event.local_start)
    vevent.add("dtend", event.local_end)
    vevent.add("summary", event.title)
    vevent.add("url", event_url(event))
    vevent.add("class", "PUBLIC")
    vevent.add("transp", "OPAQUE")
    status = "CANCELLED" if cancelled or event.status == "cancelled" else "CONFIRMED"
    vevent.add("status", status)
    lines = [event.description.strip()] if event.description.strip() else []
    if private and event.join_url:
        vevent.add("location", event.join_url)
        lines.append(_("Delta i møtet: %(url)s", url=event.join_url))
    else:
        if event.location:
            vevent.add("location", event.location)
        lines.append(_("Mer informasjon og påmelding: %(url)s", url=event_url(event)))
    vevent.add("description", "\n\n".join(lines))
    if event.organiser_email:
        vevent.add("organizer", _organizer(event))
    return vevent


def _attendee(registration: Registration) -> vCalAddress:
    attendee = vCalAddress(f"mailto:{registration.email}")
    attendee.params["cn"] = registration.name
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["partstat"] = "ACCEPTED"
    attendee.params["rsvp"] = "FALSE"
    return attendee


def invite(registration: Registration, sequence: int, *, cancel: bool = False) -> bytes:
    """The personal METHOD:REQUEST invite (or METHOD:CANCEL) for one registrant's calendar."""
    event = registration.event
    cal = _calendar("CANCEL" if cancel else "REQUEST", [event])
    vevent = _vevent(event, sequence, private=not cancel, cancelled=cancel)
    vevent.add("attendee", _attendee(registration))
    cal.add_component(vevent)
    return cal.to_ical()


def personal_download(registration: Registration) -> bytes:
    """The registrant's own download: their event with the join link, as METHOD:PUBLISH."""
    event = registration.event
    cal = _calendar("PUBLISH", [event])
    sequence = max(event.sequence, registration.ical_sequence, 0)
    cal.add_component(_vevent(event, sequence, private=True))
    return cal.to_ical()


def public_calendar(events: Iterable[Event], name: str | None = None) -> bytes:
    """One event's public file or the feed of several: METHOD:PUBLISH, no private links."""
    events = list(events)
    cal = _calendar("PUBLISH", events, name=name)
    for event in events:
        cal.add_component(_vevent(event, event.sequence, private=False))
    return cal.to_ical()


def calendar_uid(slug: str) -> str:
    """The event's UID: derived from its first slug and our host, fixed for its lifetime."""
    from urllib.parse import urlsplit

    host = urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"
    return f"{slug}@{host}"
