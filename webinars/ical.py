"""The one iCalendar builder (RFC 5545/5546): invites, cancellations, downloads and feeds,
and the links that put an event into a web calendar (Google, Outlook.com, Microsoft 365) or
subscribe to a feed (webcal:).

Public files (METHOD:PUBLISH) and public links never carry the join link or a personal link:
calendars get shared. Personal invites (METHOD:REQUEST / CANCEL) carry the join link, the
organiser's mailbox as ORGANIZER and the registrant as ATTENDEE with RSVP=FALSE; so do the
registrant's own "add to calendar" links, which appear only on their page and in their mail.
"""

from __future__ import annotations

import hashlib
from calendar import monthrange
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from icalendar import (
    Calendar,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
)
from icalendar import Event as VEvent

from .models import Event, Registration, utcnow

PRODID = "-//webinars//webinars 1.0//NB"
#: How often subscribers should fetch the feed again (Outlook and Apple obey; Google has its own).
FEED_REFRESH = timedelta(hours=6)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


# --- VTIMEZONE ------------------------------------------------------------------------------


class _Change(NamedTuple):
    """One transition of a zone, as a VTIMEZONE observance describes it."""

    #: Local wall time at the change, on the clock *before* it (RFC 5545: with TZOFFSETFROM).
    onset: datetime
    before: timedelta
    after: timedelta
    name: str
    daylight: bool

    @property
    def kind(self) -> tuple:
        """What changes of one observance share: offsets, name, standard or daylight."""
        return self.before, self.after, self.name, self.daylight


def _changes(zone: ZoneInfo, first_year: int, last_year: int) -> list[_Change]:
    """Every offset or name change of `zone` whose onset falls in first_year..last_year."""

    def state(at: datetime) -> tuple:
        local = at.astimezone(zone)
        return local.utcoffset(), local.dst(), local.tzname()

    changes = []
    day = timedelta(days=1)
    at = datetime(first_year - 1, 12, 31, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 2, tzinfo=UTC)
    previous = state(at)
    while at < end:
        current = state(at + day)
        if current != previous:
            # zoneinfo has no public list of transitions: bisect to the second.
            low, high = 0, 86_400
            while high - low > 1:
                middle = (low + high) // 2
                if state(at + timedelta(seconds=middle)) == previous:
                    low = middle
                else:
                    high = middle
            moment = at + timedelta(seconds=high)
            offset, dst, name = state(moment)
            onset = (moment + previous[0]).replace(tzinfo=None)
            # Europe/Dublin has *negative* DST in winter in tzdata; its summer is daylight too.
            daylight = dst > timedelta(0) or dst > previous[1]
            if first_year <= onset.year <= last_year:
                changes.append(_Change(onset, previous[0], offset, name or "", daylight))
        at, previous = at + day, current
    return changes


def _yearly_rule(onsets: list[datetime], years: range) -> dict | None:
    """RRULE parts if the onsets are one a year, the nth or last weekday of a month, one time."""
    first = onsets[0]
    if [onset.year for onset in onsets] != list(years):
        return None
    when = (first.month, first.weekday(), first.time())
    if any((onset.month, onset.weekday(), onset.time()) != when for onset in onsets):
        return None
    if all(onset.day + 7 > monthrange(onset.year, onset.month)[1] for onset in onsets):
        nth = -1
    elif len({(onset.day - 1) // 7 for onset in onsets}) == 1:
        nth = (first.day - 1) // 7 + 1
    else:
        return None
    return {"freq": "yearly", "bymonth": first.month, "byday": f"{nth}{WEEKDAYS[first.weekday()]}"}


def _observance(change: _Change, rrule: dict | None = None, rdates: list | None = None):
    part = TimezoneDaylight() if change.daylight else TimezoneStandard()
    part.add("dtstart", change.onset)
    if rrule:
        part.add("rrule", rrule)
    for rdate in rdates or ():
        # One line each: vobject (and so some readers) keeps only the first of a comma list.
        part.add("rdate", rdate)
    part.add("tzname", change.name)
    part.add("tzoffsetfrom", change.before)
    part.add("tzoffsetto", change.after)
    return part


@lru_cache(maxsize=64)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """The VTIMEZONE for first_year..last_year (shared and read-only: never modify it).

    Outlook maps a VTIMEZONE onto one yearly standard/daylight rule and mishandles lists of
    RDATEs, so when the changes in these years follow such a rule (Europe/Oslo since 1996)
    we write it as one, the way Outlook and tzurl.org do. Otherwise (rules changed within the
    years, no DST, more kinds of change) the offset at the start and every change as an RDATE.
    """
    zone = ZoneInfo(tzid)
    vtimezone = Timezone()
    vtimezone.add("tzid", tzid)
    changes = _changes(zone, first_year, last_year)
    kinds: dict[tuple, list[_Change]] = {}
    for change in changes:
        kinds.setdefault(change.kind, []).append(change)
    years = range(first_year, last_year + 1)
    rules = {kind: _yearly_rule([c.onset for c in group], years) for kind, group in kinds.items()}
    observances = sorted(group[0].daylight for group in kinds.values())
    if observances == [False, True] and all(rules.values()):
        for kind, group in sorted(kinds.items(), key=lambda item: item[1][0].daylight):
            vtimezone.add_component(_observance(group[0], rules[kind]))  # STANDARD, DAYLIGHT
        return vtimezone
    start = datetime(first_year, 1, 1, tzinfo=zone)
    offset = start.utcoffset()
    daylight = bool(changes) and start.dst() > timedelta(0)
    initial = _Change(start.replace(tzinfo=None), offset, offset, start.tzname() or "", daylight)
    vtimezone.add_component(_observance(initial))
    for group in kinds.values():
        vtimezone.add_component(_observance(group[0], rdates=[c.onset for c in group[1:]]))
    return vtimezone


# --- VCALENDAR and VEVENT -------------------------------------------------------------------


def _calendar(method: str, vevents: list[VEvent], name: str | None = None) -> bytes:
    """Wrap VEVENTs in a VCALENDAR with a VTIMEZONE for every TZID they use."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
        cal.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", vDuration(FEED_REFRESH))
    years: dict[str, list[int]] = {}
    for vevent in vevents:
        for prop in ("dtstart", "dtend"):
            tzid = vevent[prop].params.get("TZID")
            if tzid:  # UTC zones are written with "Z" and need none
                years.setdefault(tzid, []).append(vevent.decoded(prop).year)
    # The calendar's own lines, then the (cached) VTIMEZONEs and the VEVENTs: serialising
    # and folding a VTIMEZONE was half of an invite's time, and it never changes.
    head, end = cal.to_ical().rsplit(b"END:VCALENDAR", 1)
    # From the year before, so that a January event follows an onset in every reader.
    zones = [_vtimezone_ical(t, min(used) - 1, max(used)) for t, used in sorted(years.items())]
    return b"".join(
        [head, *zones, *(vevent.to_ical() for vevent in vevents), b"END:VCALENDAR", end]
    )


@lru_cache(maxsize=64)
def _vtimezone_ical(tzid: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE for first_year..last_year, serialised (shared, read-only)."""
    return _vtimezone(tzid, first_year, last_year).to_ical()


def event_url(event: Event) -> str:
    return f"{current_app.config['PUBLIC_URL']}/events/{event.slug}"


def _organizer(event: Event, *, required: bool) -> vCalAddress | None:
    """The organiser's mailbox; an invite must have one (RFC 5546), so fall back to ours."""
    name, email = event.organiser_name, event.organiser_email
    if not email and required:
        name, email = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    if not email:
        return None
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["cn"] = name
    return address


def _vevent(
    event: Event,
    sequence: int,
    *,
    private: bool,
    personal: bool = False,
    cancelled: bool = False,
    stamp: datetime | None = None,
) -> VEvent:
    vevent = VEvent()
    vevent.add("uid", event.ical_uid)
    vevent.add("sequence", sequence)
    vevent.add("dtstamp", stamp or utcnow())
    vevent.add("dtstart", event.local_start)
    vevent.add("dtend", event.local_end)
    vevent.add("summary", event.title)
    vevent.add("url", event_url(event))
    vevent.add("class", "PUBLIC")
    vevent.add("transp", "OPAQUE")
    status = "CANCELLED" if cancelled or event.status == "cancelled" else "CONFIRMED"
    vevent.add("status", status)
    location, description = _place_and_details(event, private=private)
    if location:
        vevent.add("location", location)
    vevent.add("description", description)
    organizer = _organizer(event, required=personal)
    if organizer is not None:
        vevent.add("organizer", organizer)
    return vevent


def _place_and_details(event: Event, *, private: bool) -> tuple[str, str]:
    """LOCATION and DESCRIPTION: the join link only where `private` (the registrant's own)."""
    lines = [event.description.strip()] if event.description.strip() else []
    if private and event.join_url:
        lines.append(_("Delta i møtet: %(url)s", url=event.join_url))
        return event.join_url, "\n\n".join(lines)
    lines.append(_("Mer informasjon og påmelding: %(url)s", url=event_url(event)))
    return event.location, "\n\n".join(lines)


def _attendee(registration: Registration) -> vCalAddress:
    attendee = vCalAddress(f"mailto:{registration.email}")
    attendee.params["cn"] = registration.name
    attendee.params["cutype"] = "INDIVIDUAL"
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["partstat"] = "ACCEPTED"
    attendee.params["rsvp"] = "FALSE"
    return attendee


def invite(registration: Registration, sequence: int, *, cancel: bool = False) -> bytes:
    """The personal METHOD:REQUEST invite (or METHOD:CANCEL) for one registrant's calendar.

    Every registrant's invite to one version of an event is the same but for DTSTAMP and
    ATTENDEE, so the rest is built once per version, language and sequence and kept: a
    delivery of 1,000 confirmations builds it once instead of 1,000 times.
    """
    event = registration.event
    key = (
        _version(event),
        sequence,
        cancel,
        str(get_locale()),
        current_app.config["PUBLIC_URL"],
        current_app.config["MAIL_DEFAULT_SENDER"],
    )
    shared = _INVITES.get(key)
    if shared is None:
        vevent = _vevent(event, sequence, private=not cancel, personal=True, cancelled=cancel)
        del vevent["dtstamp"]
        shared = _calendar("CANCEL" if cancel else "REQUEST", [vevent])
        if len(_INVITES) >= 256:
            _INVITES.clear()
        _INVITES[key] = shared
    personal = VEvent()
    personal.add("dtstamp", utcnow())
    personal.add("attendee", _attendee(registration))
    lines = personal.to_ical().split(b"\r\n", 1)[1].rsplit(b"END:VEVENT", 1)[0]
    head, tail = shared.rsplit(b"END:VEVENT", 1)
    return head + lines + b"END:VEVENT" + tail


#: Invites without their personal lines, by event version, sequence and language.
_INVITES: dict[tuple, bytes] = {}


def _version(event: Event) -> tuple:
    """Everything of an event that its calendar files show."""
    return (
        event.id,
        event.ical_uid,
        event.slug,
        event.title,
        event.description,
        event.location,
        event.join_url,
        event.starts_at,
        event.ends_at,
        event.timezone,
        event.status,
        event.organiser_name,
        event.organiser_email,
    )


def personal_download(registration: Registration) -> bytes:
    """The registrant's own download: their event with the join link, as METHOD:PUBLISH."""
    event = registration.event
    sequence = max(event.sequence, registration.ical_sequence, 0)
    return _calendar("PUBLISH", [_vevent(event, sequence, private=True)])


def public_calendar(events: Iterable[Event], name: str | None = None) -> bytes:
    """One event's public file or the feed of several: METHOD:PUBLISH, no private links.

    The same events give the same bytes in every process: DTSTAMP is the moment each event
    last changed (when this version of it was made), so the file's ETag is the same on
    every worker.
    """
    vevents = [
        _vevent(event, event.sequence, private=False, stamp=event.updated_at) for event in events
    ]
    return _calendar("PUBLISH", vevents, name=name)


class PublicFile(NamedTuple):
    """A public calendar file as it is served: its bytes, their ETag, when it last changed."""

    body: bytes
    etag: str
    modified: datetime | None


#: Public files and feeds, by what they were built from (see public_file).
_PUBLIC: dict[tuple, PublicFile] = {}


def public_file(
    key: Hashable,
    events: Callable[[], Iterable[Event]],
    name: str | None = None,
    modified: datetime | None = None,
) -> PublicFile:
    """A public file or feed, built once per process for each `key`, language and host.

    `key` must change whenever one of the events would be written differently (for a feed,
    events.version(), which a change by any process moves); `events` loads them and is only
    called when the file for the key is not built yet. `modified` is when the file last
    changed (for Last-Modified), by default the latest change of its events.
    """
    full_key = (key, name, str(get_locale() or "nb"), current_app.config["PUBLIC_URL"])
    found = _PUBLIC.get(full_key)
    if found is None:
        listed = list(events())
        body = public_calendar(listed, name=name)
        changed = [e.updated_at for e in listed if e.updated_at] + ([modified] if modified else [])
        found = PublicFile(body, hashlib.sha256(body).hexdigest()[:32], max(changed, default=None))
        if len(_PUBLIC) >= 256:  # a file per event and language, a few feeds; old versions go
            _PUBLIC.clear()
        _PUBLIC[full_key] = found
    return found


def calendar_uid(slug: str) -> str:
    """The event's UID: derived from its first slug and our host, fixed for its lifetime."""
    host = urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"
    return f"{slug}@{host}"


# --- links: add one event to a web calendar, subscribe to a feed ----------------------------

GOOGLE = "https://calendar.google.com/calendar/render"
OUTLOOK_COM = "https://outlook.live.com/calendar/0/deeplink/compose"
MICROSOFT_365 = "https://outlook.office.com/calendar/0/deeplink/compose"
#: A longer description is cut here in links: the calendars refuse very long addresses.
MAX_LINK_DETAILS = 1000


class CalendarLinks(NamedTuple):
    """Where to add one event: Google, Outlook.com (personal), Microsoft 365 (work or school),
    and the .ics file (Apple Calendar, desktop Outlook and the rest)."""

    google: str
    outlook_com: str
    microsoft_365: str
    ics: str


#: Public "add to calendar" links, by event version, language, site address and file.
_PUBLIC_LINKS: dict[tuple, CalendarLinks] = {}


def calendar_links(event: Event, *, private: bool = False, ics: str | None = None) -> CalendarLinks:
    """The "add to calendar" links of an event; with `private`, the registrant's own (join link).

    Times are UTC instants written with Z, so every calendar places them right across
    daylight saving whatever its own zone. `ics` is the file to offer (default: the public one).
    The public links are the same for every visitor: they are built once per version of the
    event (what its calendar files show) and language, not on every page.
    """
    if private:
        return _calendar_links(event, private=True, ics=ics)
    key = (_version(event), str(get_locale()), current_app.config["PUBLIC_URL"], ics)
    found = _PUBLIC_LINKS.get(key)
    if found is None:
        if len(_PUBLIC_LINKS) >= 512:  # old versions go
            _PUBLIC_LINKS.clear()
        found = _PUBLIC_LINKS[key] = _calendar_links(event, private=False, ics=ics)
    return found


def _calendar_links(event: Event, *, private: bool, ics: str | None) -> CalendarLinks:
    location, details = _place_and_details(event, private=private)
    if len(details) > MAX_LINK_DETAILS:
        details = details[: MAX_LINK_DETAILS - 1].rstrip() + "…"
    start, end = event.starts_at.astimezone(UTC), event.ends_at.astimezone(UTC)
    google = {
        "action": "TEMPLATE",
        "text": event.title,
        "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}",
        "details": details,
        "location": location,
    }
    outlook = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": event.title,
        "startdt": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "enddt": f"{end:%Y-%m-%dT%H:%M:%SZ}",
        "body": details,
        "location": location,
    }
    return CalendarLinks(
        google=f"{GOOGLE}?{urlencode(google, quote_via=quote)}",
        outlook_com=f"{OUTLOOK_COM}?{urlencode(outlook, quote_via=quote)}",
        microsoft_365=f"{MICROSOFT_365}?{urlencode(outlook, quote_via=quote)}",
        ics=ics or f"{event_url(event)}/calendar.ics",
    )


class FeedLinks(NamedTuple):
    """A feed to subscribe to: webcal: for Apple and Outlook, Google's own subscribe page,
    and the plain https address to paste anywhere."""

    webcal: str
    google: str
    url: str


def feed_links(path: str) -> FeedLinks:
    """Subscription links for the feed at `path` (e.g. /calendar.ics) on PUBLIC_URL's host."""
    url = f"{current_app.config['PUBLIC_URL'].rstrip('/')}{path}"
    webcal = "webcal://" + url.split("://", 1)[1]
    return FeedLinks(webcal=webcal, google=f"{GOOGLE}?cid={quote(webcal, safe='')}", url=url)
