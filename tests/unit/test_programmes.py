"""Programmes: the goal from their own eligibility, validation, their events, the deadline."""

from datetime import date

import pytest
from sqlalchemy import select

from webinars import programmes
from webinars.extensions import db
from webinars.models import Event, Programme
from webinars.programmes import ProgrammeFields


def fields(**overrides) -> ProgrammeFields:
    values = {
        "slug": "akson",
        "title": "Akson",
        "declarations_due": date(2020, 7, 1),
        "eligible_regions": ["Nord", "Vest", "Sør-Øst"],
    }
    values.update(overrides)
    return ProgrammeFields(**values)


def test_a_programme_is_created_with_its_own_goal(ctx):
    akson = programmes.create_programme(fields())

    goal = programmes.goal(akson)
    assert (goal.municipalities, goal.population, goal.people) == (292, 4_633_640, 2_316_821)
    assert (
        programmes.goal(
            programmes.create_programme(fields(slug="alle", eligible_regions=[]))
        ).population
        == 5_367_580
    )


@pytest.mark.parametrize(
    "population, percent, people",
    [(10, 50, 6), (11, 50, 6), (4_633_640, 50, 2_316_821), (100, 66, 67), (0, 50, 0)],
)
def test_the_goal_is_more_than_the_share(population, percent, people):
    assert programmes.Goal(1, population, percent).people == people


def test_bad_values_are_refused_next_to_their_fields(ctx):
    programmes.create_programme(fields())

    with pytest.raises(programmes.InvalidProgramme) as refused:
        programmes.create_programme(fields(slug="akson", goal_percent=100))

    assert set(refused.value.errors) == {"slug", "goal_percent"}
    with pytest.raises(programmes.InvalidProgramme):
        programmes.create_programme(fields(slug="Akson 2"))


def test_events_are_attached_and_detached(ctx, create_event):
    akson = programmes.create_programme(fields())
    one, two = create_event(), create_event()

    programmes.set_events(akson, [one.id, two.id])
    assert sorted(programmes.event_ids(akson)) == sorted([one.id, two.id])
    programmes.set_events(akson, [two.id])

    assert programmes.event_ids(akson) == [two.id]
    assert db.session.get(Event, one.id).programme_id is None


def test_days_left_and_late(ctx):
    akson = programmes.create_programme(fields())

    assert programmes.days_left(akson, date(2020, 6, 30)) == 1
    assert programmes.days_left(akson, date(2020, 7, 5)) == 0
    assert not programmes.is_late(akson, date(2020, 7, 1))
    assert programmes.is_late(akson, date(2020, 7, 2))


def test_the_sole_programme(ctx):
    assert programmes.sole_programme() is None
    akson = programmes.create_programme(fields())
    assert programmes.sole_programme().id == akson.id
    programmes.create_programme(fields(slug="annet"))
    assert programmes.sole_programme() is None
    assert len(db.session.scalars(select(Programme)).all()) == 2
