"""Participant reports: Zoom, Teams and any CSV with an e-mail column, matched by e-mail
ignoring case, minutes summed over rejoins, the wrong event refused, the recording mail
telling those who came from those who did not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from webinars import attendance, recordings
from webinars.extensions import db
from webinars.mail import messages, outbox
from webinars.models import Event, OutboxMessage, Registration

DATA = Path(__file__).resolve().parent.parent / "data"
ZOOM = (DATA / "zoom-webinar-attendee-report.csv").read_bytes()
TEAMS = (DATA / "teams-attendance-report.csv").read_bytes()


def _minutes(event) -> dict[str, int | None]:
    db.session.expire_all()
    return {
        r.email: r.attended_minutes
        for r in db.session.scalars(select(Registration).where(Registration.event_id == event.id))
    }


@pytest.fixture
def webinar(ctx, create_event, create_registration):
    """Webinar 1 on 12 May 2020 with the people of the samples registered (one cancelled)."""
    start = datetime(2020, 5, 12, 11, 0, tzinfo=UTC)
    event = create_event(starts_at=start, ends_at=start + timedelta(hours=1))
    create_registration(
        event,
        "kari.nordmann@bergen.kommune.example",
        municipality="4601",
        now=start - timedelta(days=3),
    )
    create_registration(
        event, "ola@vinje.kommune.example", municipality="3825", now=start - timedelta(days=3)
    )
    create_registration(
        event, "per.hansen@bodo.kommune.example", municipality="1804", now=start - timedelta(days=3)
    )
    create_registration(event, "ikke.der@oslo.kommune.no", now=start - timedelta(days=3))
    return db.session.get(Event, event.id)


def test_zoom_sums_rejoins_ignores_case_and_lists_the_unregistered(webinar):
    loaded = attendance.load(webinar, ZOOM, filename="zoom.csv", by="arrangor@ks.test")

    assert (loaded.source, loaded.attendees, loaded.matched) == ("zoom", 3, 2)
    assert _minutes(webinar) == {
        "kari.nordmann@bergen.kommune.example": 88,  # 42 + 46 over two sessions
        "ola@vinje.kommune.example": 89,
        "per.hansen@bodo.kommune.example": None,  # registered, "Attended: No"
        "ikke.der@oslo.kommune.no": None,
    }
    assert [row["email"] for row in loaded.unmatched] == ["walkin@example.org"]
    report = attendance.report_of(webinar)
    assert (report.source, report.attendees, report.matched) == ("zoom", 3, 2)
    assert attendance.unmatched_of(report)[0]["minutes"] == 20


def test_teams_reads_utf16_with_durations_and_leaves_out_the_organiser(
    ctx, create_event, create_registration
):
    start = datetime(2020, 5, 19, 11, 0, tzinfo=UTC)
    event = create_event(starts_at=start, ends_at=start + timedelta(hours=1))
    create_registration(
        event,
        "kari.nordmann@bergen.kommune.example",
        municipality="4601",
        now=start - timedelta(days=1),
    )

    loaded = attendance.load(db.session.get(Event, event.id), TEAMS)

    assert (loaded.source, loaded.attendees, loaded.matched) == ("teams", 2, 1)
    assert _minutes(event) == {"kari.nordmann@bergen.kommune.example": 90}  # 1h 29m 50s
    assert [row["email"] for row in loaded.unmatched] == ["ola@vinje.kommune.example"]


def test_any_csv_with_an_e_mail_column(webinar):
    data = (
        "Navn;E-post;Minutter\n"
        "Kari;KARI.NORDMANN@bergen.kommune.example;30\n"
        "Kari;kari.nordmann@bergen.kommune.example;12\n"
    )

    loaded = attendance.load(webinar, data.encode())

    assert (loaded.source, loaded.matched) == ("csv", 1)
    assert _minutes(webinar)["kari.nordmann@bergen.kommune.example"] == 42


def test_a_report_dated_another_day_is_refused_unless_the_organiser_says_so(
    ctx, create_event, create_registration
):
    start = datetime(2020, 5, 19, 11, 0, tzinfo=UTC)  # webinar 2; the Zoom sample is webinar 1
    event = create_event(starts_at=start, ends_at=start + timedelta(hours=1))
    create_registration(
        event, "ola@vinje.kommune.example", municipality="3825", now=start - timedelta(days=1)
    )
    event = db.session.get(Event, event.id)

    with pytest.raises(attendance.WrongEvent) as refused:
        attendance.load(event, ZOOM)

    # Both dates written out, as organiser pages write a date alone.
    message = str(refused.value.message)
    assert "12. mai 2020" in message and "19. mai 2020" in message
    assert attendance.report_of(event) is None and _minutes(event) == {
        "ola@vinje.kommune.example": None
    }
    assert attendance.load(event, ZOOM, any_date=True).matched == 1


def test_a_csv_that_matches_nobody_is_taken_for_another_event(webinar):
    data = b"email\nsomeone@else.no\n"

    with pytest.raises(attendance.WrongEvent):
        attendance.load(webinar, data)
    assert attendance.report_of(webinar) is None


@pytest.mark.parametrize(
    "data, message",
    [
        (b"name,phone\nKari,123\n", "kolonne med e-postadresser"),
        (b"email\n", "ingen som deltok"),
        (b"", "tom"),
        ("email\nbø@x.no\n".encode("cp1252"), "UTF-8"),
    ],
)
def test_a_report_that_cannot_be_read_stores_nothing(webinar, data, message):
    with pytest.raises(attendance.AttendanceError) as refused:
        attendance.load(webinar, data)

    assert message in str(refused.value.message)
    assert attendance.report_of(webinar) is None


def test_a_new_report_replaces_the_last(webinar):
    attendance.load(webinar, ZOOM)

    attendance.load(webinar, b"email,minutes\nola@vinje.kommune.example,5\n")

    minutes = _minutes(webinar)
    assert minutes["kari.nordmann@bergen.kommune.example"] is None
    assert minutes["ola@vinje.kommune.example"] == 5
    assert attendance.report_of(webinar).attendees == 1


def test_the_recording_mail_thanks_those_who_came_and_tells_the_others(webinar):
    attendance.load(webinar, ZOOM)

    recordings.save_recording(
        webinar,
        recording_url="https://video.example.org/1",
        materials=[],
        now=webinar.ends_at + timedelta(hours=1),
    )

    rows = {
        row.recipient: outbox.context_of(row)["attended"]
        for row in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == outbox.RECORDING.name)
        )
    }
    assert rows == {
        "kari.nordmann@bergen.kommune.example": True,
        "ola@vinje.kommune.example": True,
        "per.hansen@bodo.kommune.example": False,
        "ikke.der@oslo.kommune.no": False,
    }


def test_the_two_recording_mails_read_differently(webinar):
    attendance.load(webinar, ZOOM)
    recordings.save_recording(
        webinar,
        recording_url="https://video.example.org/1",
        materials=[],
        now=webinar.ends_at + timedelta(hours=1),
    )

    texts = {
        row.recipient: messages.compose(row).get_body(("plain",)).get_content()
        for row in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == outbox.RECORDING.name)
        )
    }
    assert "Takk for at du deltok" in texts["ola@vinje.kommune.example"]
    assert "Vi savnet deg" in texts["per.hansen@bodo.kommune.example"]
