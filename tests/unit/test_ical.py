"""Calendar files, read back the way calendars read them.

Every file is parsed with icalendar and with vobject, and the two must agree. icalendar
resolves a TZID through the system's zone database (as Google does); for vobject we take
the file's own VTIMEZONE (as Outlook and Apple do), so a wrong VTIMEZONE moves the meeting.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from sqlalchemy import select

from tests.support import deliver, detach, form_token, within
from webinars import registrations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.ical import _vtimezone, calendar_links, feed_links
from webinars.models import Event

KARI = {"name": "Kari Nordmann", "email": "kari@kommune.no", "role": "ordforer"}


# --- reading files back ---------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    assert value.utcoffset() == timedelta(0)
    return value.astimezone(UTC)


def _address(prop) -> tuple[str, str | None]:
    return str(prop), prop.params.get("CN")


def _icalendar_facts(data: bytes) -> tuple[str, dict[str, dict], set[str]]:
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["VERSION"]) == "2.0" and cal.get("PRODID")
    tzids = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    events = {}
    for vevent in cal.walk("VEVENT"):
        _utc(vevent.decoded("DTSTAMP"))
        assert "TZID" not in vevent["DTSTAMP"].params
        start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
        attendees = vevent.get("ATTENDEE", [])
        attendees = attendees if isinstance(attendees, list) else [attendees]
        organizer = vevent.get("ORGANIZER")
        events[str(vevent["UID"])] = {
            "sequence": int(vevent["SEQUENCE"]),
            "start": start.astimezone(UTC),
            "end": end.astimezone(UTC),
            "local": (start.replace(tzinfo=None), vevent["DTSTART"].params.get("TZID")),
            "status": str(vevent["STATUS"]),
            "summary": str(vevent["SUMMARY"]),
            "location": str(vevent.get("LOCATION", "")),
            "description": str(vevent.get("DESCRIPTION", "")),
            "organizer": _address(organizer) if organizer else None,
            "attendees": [(*_address(a), a.params.get("RSVP")) for a in attendees],
        }
    return str(cal["METHOD"]), events, tzids


def _vobject_address(line) -> tuple[str, str | None]:
    return line.value, (line.params.get("CN") or [None])[0]


def _vobject_facts(data: bytes) -> tuple[str, dict[str, dict], set[str]]:
    cal = vobject.readOne(data.decode("utf-8"))
    assert cal.version.value == "2.0" and cal.prodid.value
    zones = {tz.tzid.value: tz.gettzinfo() for tz in cal.contents.get("vtimezone", [])}

    def instant(line) -> tuple[datetime, datetime, str | None]:
        # The wall time as written, placed in the file's own VTIMEZONE (not vobject's cache).
        local = line.value.replace(tzinfo=None)
        # vobject moves TZID to this parameter when it turns the value into a datetime.
        tzid = (line.params.get("X-VOBJ-ORIGINAL-TZID") or [None])[0]
        if tzid is None:
            return _utc(line.value), local, None
        assert tzid in zones, f"no VTIMEZONE for TZID {tzid}"
        return local.replace(tzinfo=zones[tzid]).astimezone(UTC), local, tzid

    events = {}
    for vevent in cal.contents.get("vevent", []):
        _utc(vevent.dtstamp.value)
        start, local, tzid = instant(vevent.dtstart)
        end = instant(vevent.dtend)[0]
        organizer = vevent.contents.get("organizer")
        events[vevent.uid.value] = {
            "sequence": int(vevent.sequence.value),
            "start": start,
            "end": end,
            "local": (local, tzid),
            "status": vevent.status.value,
            "summary": vevent.summary.value,
            "location": vevent.location.value if "location" in vevent.contents else "",
            "description": vevent.description.value if "description" in vevent.contents else "",
            "organizer": _vobject_address(organizer[0]) if organizer else None,
            "attendees": [
                (*_vobject_address(a), (a.params.get("RSVP") or [None])[0])
                for a in vevent.contents.get("attendee", [])
            ],
        }
    return cal.method.value, events, set(zones)


def read(data: bytes) -> tuple[str, dict[str, dict]]:
    """(METHOD, {UID: facts}) as both parsers read them; fails when they disagree."""
    method, events, tzids = _icalendar_facts(data)
    assert (method, events, tzids) == _vobject_facts(data)
    assert method in ("PUBLISH", "REQUEST", "CANCEL")
    for facts in events.values():
        assert facts["end"] > facts["start"]
        assert facts["local"][1] is None or facts["local"][1] in tzids
    return method, events


def only(data: bytes) -> tuple[str, dict]:
    method, events = read(data)
    ((uid, facts),) = events.items()
    return method, {"uid": uid, **facts}


def unfolded(data: bytes) -> str:
    """The text with folded lines joined again, so a link split over two lines is found."""
    return re.sub(r"\r\n[ \t]", "", data.decode("utf-8"))


# --- mail and HTTP --------------------------------------------------------------------------


def delivered(app, smtp) -> list[EmailMessage]:
    """Deliver the outbox to the SMTP server; what it received so far."""
    deliver(app)
    return [message for _, message in smtp.messages]


def fresh(app, slug: str) -> Event:
    """The event as the database has it now (detached, its columns loaded)."""
    with within(app):
        return detach(db.session.scalar(select(Event).where(Event.slug == slug)))


def invite_parts(message: EmailMessage) -> list[tuple[str, bytes]]:
    """(method in the MIME type, data) of the inline calendar part and of the attachment."""
    inline = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    attached = [p for p in message.walk() if p.get_content_disposition() == "attachment"]
    assert len(inline) == 1 and len(attached) == 1
    filename = attached[0].get_filename()
    assert filename.endswith(".ics") and filename.isascii()
    return [(p.get_param("method"), p.get_payload(decode=True)) for p in inline + attached]


def mailed_invite(message: EmailMessage) -> tuple[str, dict]:
    """The invite a mail carries; the inline part and the attachment must say the same."""
    (header, data), (header2, data2) = invite_parts(message)
    method, facts = only(data)
    assert (header, header2) == (method, method)
    assert only(data2) == (method, facts)
    return method, facts


def token_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",)).get_content()
    return re.search(r"/r/([A-Za-z0-9_-]+)", body).group(1)


def cancel_over_http(client, token: str) -> None:
    page = client.get(f"/r/{token}/cancel")
    csrf = form_token(page.text)
    assert client.post(f"/r/{token}/cancel", data={"csrf_token": csrf}).status_code == 303


def download(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return response.data


def at(year, month, day, hour, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- the personal invite and download ------------------------------------------------------


def test_confirmation_mail_carries_the_request_invite(mail_app, smtp, create_event, register):
    event = create_event(
        title="Webinar om Akson", starts_at=at(2031, 5, 6, 12), ends_at=at(2031, 5, 6, 13, 30)
    )
    slug, name = event.slug, "Ørjan Æsøy, ordfører"
    assert register(slug, name=name, email="Orjan@Kommune.no").status_code == 303
    [message] = delivered(mail_app, smtp)
    event = fresh(mail_app, slug)

    method, invite = mailed_invite(message)
    assert method == "REQUEST"
    assert invite["uid"] == event.ical_uid and invite["sequence"] == 0
    assert (invite["start"], invite["end"]) == (at(2031, 5, 6, 12), at(2031, 5, 6, 13, 30))
    assert invite["local"] == (datetime(2031, 5, 6, 14, 0), "Europe/Oslo")
    assert invite["status"] == "CONFIRMED" and invite["summary"] == "Webinar om Akson"
    assert invite["organizer"] == ("mailto:akson@ks.test", "KS")
    assert invite["attendees"] == [("mailto:orjan@kommune.no", name, "FALSE")]
    assert invite["location"] == event.join_url
    assert event.join_url in invite["description"]
    for _, data in invite_parts(message):
        assert token_in(message) not in unfolded(data) and "/r/" not in unfolded(data)


def test_personal_download_matches_the_invite(mail_app, smtp, client, create_event, register):
    event = create_event()
    slug = event.slug
    register(slug)
    [message] = delivered(mail_app, smtp)
    event = fresh(mail_app, slug)
    token = token_in(message)
    _, invite = mailed_invite(message)

    response = client.get(f"/r/{token}/invite.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert "no-store" in response.headers["Cache-Control"]
    method, mine = only(response.data)
    assert method == "PUBLISH"
    assert mine == {**invite, "attendees": []}  # same event, same UID and SEQUENCE
    assert only(download(client, f"/r/{token}/invite.ics")) == (method, mine)
    assert event.join_url in unfolded(response.data)
    assert token not in unfolded(response.data) and "/r/" not in unfolded(response.data)


def test_an_invite_always_has_an_organizer(mail_app, smtp, create_event, register):
    event = create_event(organiser_name="", organiser_email="")
    register(event.slug)
    [message] = delivered(mail_app, smtp)
    _, invite = mailed_invite(message)
    # RFC 5546 requires ORGANIZER in a REQUEST; without one Outlook shows no meeting.
    assert invite["organizer"] == ("mailto:noreply@webinars.test", "Webinarer")


# --- the Akson meeting with its original dates ----------------------------------------------


def test_the_akson_meeting_is_at_14_oslo_time_in_every_file(mail_app, smtp, client, runner):
    result = runner.invoke(args=["seed", "akson", "--original-dates"])
    assert result.exit_code == 0, result.output
    meeting = fresh(mail_app, "akson-stormote")
    expected = (at(2020, 5, 5, 12), at(2020, 5, 5, 13, 30))

    method, public = only(download(client, "/events/akson-stormote/calendar.ics"))
    assert method == "PUBLISH"
    assert (public["start"], public["end"]) == expected
    assert public["local"] == (datetime(2020, 5, 5, 14, 0), "Europe/Oslo")

    method, feed = read(download(client, "/calendar.ics"))
    assert method == "PUBLISH" and len(feed) == 4
    assert (feed[meeting.ical_uid]["start"], feed[meeting.ical_uid]["end"]) == expected
    webinars = sorted(facts["start"] for uid, facts in feed.items() if uid != meeting.ical_uid)
    # The webinars: 13:00 Oslo time (summer, UTC+2) on the three following Tuesdays.
    assert webinars == [at(2020, 5, 12, 11), at(2020, 5, 19, 11), at(2020, 5, 26, 11)]

    # Registering while it was open (before the 4 May deadline).
    with within(mail_app):
        row = db.session.get(Event, meeting.id)
        registrations.register(row, **KARI, municipality="0301", now=at(2020, 5, 1, 8))
    [message] = delivered(mail_app, smtp)
    meeting = fresh(mail_app, "akson-stormote")
    method, invite = mailed_invite(message)
    assert method == "REQUEST" and (invite["start"], invite["end"]) == expected
    method, mine = only(download(client, f"/r/{token_in(message)}/invite.ics"))
    assert (mine["start"], mine["end"]) == expected
    assert public["uid"] == invite["uid"] == mine["uid"] == meeting.ical_uid


# --- time zones -----------------------------------------------------------------------------


def test_feed_instants_across_dst_changes_and_zones(client, create_event):
    oslo = {
        # (start in UTC, the wall clock in Oslo)
        "winter": (at(2021, 1, 19, 13), datetime(2021, 1, 19, 14)),  # CET, UTC+1
        "spring-day": (at(2021, 3, 28, 8), datetime(2021, 3, 28, 10)),  # hours after the change
        "spring-week": (at(2021, 3, 30, 12), datetime(2021, 3, 30, 14)),  # CEST, UTC+2
        "autumn-day": (at(2021, 10, 31, 9), datetime(2021, 10, 31, 10)),  # back to CET
    }
    expected = {}
    for slug, (start, local) in oslo.items():
        event = create_event(slug=slug, starts_at=start, ends_at=start + timedelta(hours=1))
        expected[event.ical_uid] = (start, local, "Europe/Oslo")
    # New York is already on summer time (since 14 March) while Oslo is not: 14:00 is 18:00 UTC.
    new_york = create_event(
        slug="new-york",
        timezone="America/New_York",
        starts_at=at(2021, 3, 16, 18),
        ends_at=at(2021, 3, 16, 19),
    )
    expected[new_york.ical_uid] = (
        at(2021, 3, 16, 18),
        datetime(2021, 3, 16, 14),
        "America/New_York",
    )

    data = download(client, "/calendar.ics")
    method, events = read(data)
    assert method == "PUBLISH"
    assert {uid: (f["start"], *f["local"]) for uid, f in events.items()} == expected
    for uid, facts in events.items():
        assert facts["end"] - facts["start"] == timedelta(hours=1), uid

    # Oslo is written as one yearly rule per change, the form Outlook maps onto its own.
    cal = icalendar.Calendar.from_ical(data)
    zones = {str(tz["TZID"]): tz for tz in cal.walk("VTIMEZONE")}
    assert set(zones) == {"Europe/Oslo", "America/New_York"}
    [standard] = zones["Europe/Oslo"].walk("STANDARD")
    [daylight] = zones["Europe/Oslo"].walk("DAYLIGHT")
    for part, month, clock, offsets in (
        (daylight, 3, (2, 0), (1, 2)),
        (standard, 10, (3, 0), (2, 1)),
    ):
        assert "RDATE" not in part
        assert part["RRULE"]["FREQ"] == ["YEARLY"] and part["RRULE"]["BYMONTH"] == [month]
        assert part["RRULE"]["BYDAY"] == ["-1SU"]
        onset = part.decoded("DTSTART")
        assert (onset.month, onset.weekday(), (onset.hour, onset.minute)) == (month, 6, clock)
        assert onset.day + 7 > 31  # the last Sunday
        hours = (part.decoded("TZOFFSETFROM"), part.decoded("TZOFFSETTO"))
        assert hours == tuple(timedelta(hours=h) for h in offsets)

    method, alone = only(download(client, "/events/new-york/calendar.ics"))
    assert alone["local"] == (datetime(2021, 3, 16, 14), "America/New_York")
    assert alone["start"] == at(2021, 3, 16, 18)
    only_zone = icalendar.Calendar.from_ical(download(client, "/events/new-york/calendar.ics"))
    assert [str(tz["TZID"]) for tz in only_zone.walk("VTIMEZONE")] == ["America/New_York"]


def test_vtimezone_lists_the_changes_when_the_rules_changed(client, create_event):
    # The United States moved their summer time in 2007: no single yearly rule fits 2005–2008.
    cases = {
        "ny-2006": (at(2006, 3, 20, 19), datetime(2006, 3, 20, 14)),  # still EST (DST from 2 April)
        "ny-2007": (at(2007, 11, 1, 18), datetime(2007, 11, 1, 14)),  # still EDT (to 4 November)
        "ny-2008": (at(2008, 3, 20, 18), datetime(2008, 3, 20, 14)),  # EDT since 9 March
    }
    for slug, (start, _local) in cases.items():
        create_event(
            slug=slug,
            timezone="America/New_York",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            status="published",
        )
    data = download(client, "/calendar.ics")
    _, events = read(data)
    assert sorted((f["start"], f["local"][0]) for f in events.values()) == sorted(cases.values())
    [zone] = icalendar.Calendar.from_ical(data).walk("VTIMEZONE")
    assert not any("RRULE" in part for part in zone.subcomponents)
    assert any("RDATE" in part for part in zone.subcomponents)


ZONES = [
    # (zone, years, whether the years follow one yearly rule)
    ("Europe/Oslo", (2019, 2021), True),
    ("America/New_York", (2019, 2021), True),
    ("Australia/Sydney", (2019, 2021), True),  # southern summer: DST from October to April
    ("Europe/Dublin", (2019, 2021), True),  # negative DST in tzdata
    ("America/New_York", (2005, 2008), False),  # rules changed in 2007
    ("America/Sao_Paulo", (2017, 2020), False),  # summer time abolished in 2019
    ("Europe/Moscow", (2010, 2012), False),  # permanent summer time from 2011
    ("Asia/Tokyo", (2019, 2021), False),  # no DST at all
]


@pytest.mark.parametrize(("tzid", "years", "yearly"), ZONES)
def test_vtimezone_agrees_with_the_zone_database(tzid, years, yearly):
    component = _vtimezone(tzid, *years)
    parts = component.subcomponents
    assert all(("RRULE" in part) == yearly for part in parts)
    if yearly:
        assert sorted(part.name for part in parts) == ["DAYLIGHT", "STANDARD"]
    wrapped = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + component.to_ical() + b"END:VCALENDAR\r\n"
    theirs = vobject.readOne(wrapped.decode()).vtimezone.gettzinfo()
    zone = ZoneInfo(tzid)
    # As the builder is used: valid from the second year on, through the last.
    moment, end = at(years[0] + 1, 1, 1, 0), at(years[1] + 1, 1, 1, 0)
    while moment < end:
        wall = moment.astimezone(zone).replace(tzinfo=None, fold=0)
        # A wall time in the autumn's repeated hour names two instants; either will do.
        possible = {wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}
        assert moment in possible
        assert wall.replace(tzinfo=theirs).astimezone(UTC) in possible, (tzid, moment)
        moment += timedelta(minutes=30)


# --- UID, SEQUENCE, cancellation ------------------------------------------------------------


def test_uid_is_stable_and_sequence_follows_the_event(
    mail_app, smtp, client, create_event, register
):
    event = create_event()
    slug = event.slug
    register(slug)
    [message] = delivered(mail_app, smtp)
    event = fresh(mail_app, slug)
    token = token_in(message)
    _, invite = mailed_invite(message)
    # Derived from the event and our host, never random.
    assert invite["uid"] == event.ical_uid == f"{event.slug}@webinars.test"

    def files() -> list[dict]:
        """The event as the public file, the feed and the personal download have it."""
        urls = (f"/events/{event.slug}/calendar.ics", "/calendar.ics", f"/r/{token}/invite.ics")
        return [only(download(client, url))[1] for url in urls]

    first = files()
    assert [f["uid"] for f in first] == [invite["uid"]] * 3
    assert [f["sequence"] for f in first] == [0, 0, 0]
    assert files() == first  # downloading again gives the same event

    # An organiser moved the meeting: SEQUENCE goes up, the UID stays.
    with within(mail_app), write_transaction():
        row = db.session.get(Event, event.id)
        row.starts_at += timedelta(hours=1)
        row.ends_at += timedelta(hours=1)
        row.sequence = 1
    event = fresh(mail_app, slug)
    moved = files()
    assert [f["uid"] for f in moved] == [invite["uid"]] * 3
    assert [f["sequence"] for f in moved] == [1, 1, 1]
    assert [f["start"] for f in moved] == [event.starts_at] * 3


def test_cancel_then_register_again(mail_app, smtp, client, create_event, register):
    event = create_event()
    slug = event.slug
    register(slug)
    [confirmation] = delivered(mail_app, smtp)
    event = fresh(mail_app, slug)
    token = token_in(confirmation)
    _, request = mailed_invite(confirmation)

    cancel_over_http(client, token)
    cancellation = delivered(mail_app, smtp)[-1]
    event = fresh(mail_app, slug)
    method, cancel = mailed_invite(cancellation)
    assert method == "CANCEL"
    assert cancel["uid"] == request["uid"] and cancel["status"] == "CANCELLED"
    assert cancel["sequence"] > request["sequence"]
    assert cancel["attendees"] == [("mailto:kari@kommune.no", "Kari Nordmann", "FALSE")]
    assert cancel["organizer"] == ("mailto:akson@ks.test", "KS")
    assert (cancel["start"], cancel["end"]) == (event.starts_at, event.ends_at)
    assert client.get(f"/r/{token}/invite.ics").status_code == 410

    # Calendars ignore a REQUEST whose SEQUENCE is not above the CANCEL they already have.
    register(event.slug, email="KARI@kommune.no")
    again = delivered(mail_app, smtp)[-1]
    event = fresh(mail_app, slug)
    method, second = mailed_invite(again)
    assert method == "REQUEST" and second["uid"] == request["uid"]
    assert second["sequence"] > cancel["sequence"]
    assert second["status"] == "CONFIRMED"
    method, mine = only(download(client, f"/r/{token_in(again)}/invite.ics"))
    assert mine["sequence"] == second["sequence"]


# --- privacy --------------------------------------------------------------------------------


def test_public_files_never_carry_private_links(mail_app, smtp, client, create_event, register):
    event = create_event()
    slug = event.slug
    create_event(slug="other")
    register(slug)
    [message] = delivered(mail_app, smtp)
    event = fresh(mail_app, slug)
    token = token_in(message)

    for url in (f"/events/{event.slug}/calendar.ics", "/calendar.ics"):
        text = unfolded(download(client, url))
        assert "secret-" not in text and event.join_url not in text
        assert "/r/" not in text and token not in text
        for facts in read(download(client, url))[1].values():
            assert facts["attendees"] == []
            assert facts["location"] == "Digitalt"

    personal = [data for _, data in invite_parts(message)]
    personal.append(download(client, f"/r/{token}/invite.ics"))
    for data in personal:
        text = unfolded(data)
        assert event.join_url in text
        assert token not in text and "/r/" not in text


# --- links: add to a web calendar, subscribe to a feed ---------------------------------------


def _query(url: str) -> tuple[str, dict[str, str]]:
    """The address without its query, and each parameter decoded (each given exactly once)."""
    parts = urlsplit(url)
    values = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in values.values()), values
    return f"{parts.scheme}://{parts.netloc}{parts.path}", {k: v[0] for k, v in values.items()}


def _google_dates(value: str) -> tuple[datetime, datetime]:
    start, end = value.split("/")
    return tuple(datetime.strptime(t, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) for t in (start, end))


def _outlook_instant(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "start, wall_clock",
    [
        (at(2021, 1, 19, 13), datetime(2021, 1, 19, 14)),  # winter: CET, UTC+1
        (at(2021, 6, 15, 12), datetime(2021, 6, 15, 14)),  # summer: CEST, UTC+2
        (at(2021, 3, 28, 8), datetime(2021, 3, 28, 10)),  # the day clocks go forward
    ],
)
def test_calendar_links_carry_utc_instants_across_daylight_saving(
    ctx, create_event, start, wall_clock
):
    event = create_event(
        title="Webinar 2: Intensjonserklæringen",
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        location="Digitalt (lenken sendes på e-post)",
    )
    # The instant is the one an Oslo organiser meant, whatever zone the calendar is in.
    assert event.local_start.replace(tzinfo=None) == wall_clock
    links = calendar_links(event)

    base, google = _query(links.google)
    assert base == "https://calendar.google.com/calendar/render"
    assert google["action"] == "TEMPLATE"
    assert google["text"] == "Webinar 2: Intensjonserklæringen"
    assert _google_dates(google["dates"]) == (start, start + timedelta(minutes=90))
    assert google["location"] == "Digitalt (lenken sendes på e-post)"
    assert "http://webinars.test/events/" + event.slug in google["details"]

    for url, host in (
        (links.outlook_com, "outlook.live.com"),
        (links.microsoft_365, "outlook.office.com"),
    ):
        base, outlook = _query(url)
        assert base == f"https://{host}/calendar/0/deeplink/compose"
        assert outlook["path"] == "/calendar/action/compose" and outlook["rru"] == "addevent"
        assert outlook["subject"] == "Webinar 2: Intensjonserklæringen"
        assert _outlook_instant(outlook["startdt"]) == start
        assert _outlook_instant(outlook["enddt"]) == start + timedelta(minutes=90)
        assert outlook["body"] == google["details"]
        assert outlook["location"] == google["location"]
    assert links.ics == f"http://webinars.test/events/{event.slug}/calendar.ics"


def test_public_calendar_links_never_carry_the_join_link(ctx, create_event):
    event = create_event(join_url="https://meet.example.org/hemmelig-rom")
    public = calendar_links(event)
    for url in public[:3]:
        assert "hemmelig-rom" not in url and "meet.example.org" not in url

    private = calendar_links(event, private=True, ics="/r/token/invite.ics")
    for url in private[:3]:
        params = _query(url)[1]
        place = params["location"]
        details = params.get("details") or params["body"]
        assert place == "https://meet.example.org/hemmelig-rom"
        assert "Delta i møtet: https://meet.example.org/hemmelig-rom" in details
    assert private.ics == "/r/token/invite.ics"


def test_a_long_description_is_cut_in_links(ctx, create_event):
    event = create_event(description="Akson. " * 1000)
    for url in calendar_links(event)[:3]:
        params = _query(url)[1]
        details = params.get("details") or params["body"]
        assert len(details) <= 1000 and details.endswith("…")
        assert len(url) < 8000


@pytest.mark.parametrize(
    "public_url, webcal",
    [
        ("https://moter.example.no", "webcal://moter.example.no/calendar.ics"),
        ("http://127.0.0.1:5000", "webcal://127.0.0.1:5000/calendar.ics"),
    ],
)
def test_feeds_are_offered_as_webcal_from_public_url(app, public_url, webcal):
    app.config["PUBLIC_URL"] = public_url
    with app.app_context():
        links = feed_links("/calendar.ics")
    assert links.webcal == webcal
    assert links.url == public_url + "/calendar.ics"
    base, google = _query(links.google)
    assert base == "https://calendar.google.com/calendar/render" and google == {"cid": webcal}
