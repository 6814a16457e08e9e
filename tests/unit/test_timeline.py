"""A campaign day by day: the signed share per day against the goal up to the deadline, and
registrations per day per event, counted as they are made."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from webinars import campaign, declarations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Programme, RegistrationCount
from webinars.municipalities import read_register
from webinars.timeline import timeline

AKSON = "Nord,Vest,Sør-Øst"
POPULATION = {row["number"]: row["population"] for row in read_register()}
TODAY = date(2020, 5, 20)


def _programme(id_: int) -> Programme:
    db.session.expire_all()
    return db.session.get(Programme, id_)


def test_the_timeline_runs_to_the_deadline_with_signed_shares_per_day(
    ctx, create_programme, create_event, create_registration
):
    start = datetime(2020, 5, 5, 12, 0, tzinfo=UTC)
    meeting = create_event(
        eligible_regions=AKSON, starts_at=start, ends_at=start + timedelta(hours=1)
    )
    akson = create_programme([meeting])
    with write_transaction():
        for day, n in ((date(2020, 5, 2), 2), (date(2020, 5, 4), 1)):
            db.session.add(RegistrationCount(event_id=meeting.id, day=day, count=n))
    declarations.record(akson, municipality="0301", signed_on=date(2020, 5, 10), by="test")
    declarations.record(akson, municipality="4601", signed_on=date(2020, 7, 3), by="test")

    figures = timeline(_programme(akson.id), campaign.places(akson), TODAY)

    assert figures.days[0] == date(2020, 5, 2)
    assert figures.days[-1] == date(2020, 7, 3)  # a late declaration stretches it
    at = figures.days.index
    assert figures.signed_share[at(date(2020, 5, 9))] == 0
    assert figures.signed_share[at(date(2020, 5, 10))] == pytest.approx(
        POPULATION["0301"] / 4_633_640
    )
    assert figures.signed_share[-1] == pytest.approx(
        (POPULATION["0301"] + POPULATION["4601"]) / 4_633_640
    )
    assert figures.goal_share == pytest.approx(2_316_821 / 4_633_640)
    [(event, counts)] = figures.registrations
    assert event.id == meeting.id
    assert counts[at(date(2020, 5, 2))] == 2 and counts[at(date(2020, 5, 4))] == 1
    assert sum(counts) == 3


def test_each_registration_is_counted_on_the_day_it_was_made(
    ctx, create_programme, create_event, create_registration
):
    meeting = create_event(eligible_regions=AKSON)
    today = date.today()
    akson = create_programme([meeting], declarations_due=today + timedelta(days=60))
    create_registration(meeting, "a@oslo.no")
    create_registration(meeting, "b@oslo.no")
    create_registration(meeting, "a@oslo.no")  # the same address again: not a new one

    figures = timeline(_programme(akson.id), campaign.places(akson), today)

    [(_event, counts)] = figures.registrations
    assert sum(counts) == 2
