"""Municipality coverage: reached municipalities and inhabitants against the goal, by county,
and the municipalities still missing, counted by the database."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import event as sa_event
from webinars.coverage import Figures, Missing

from webinars import coverage
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Event, Municipality, Registration
from webinars.municipalities import read_register

AKSON = "Nord,Vest,Sør-Øst"
REGISTER = read_register()
POPULATION = {row["number"]: row["population"] for row in REGISTER}
OUTSIDE_MIDT = [row for row in REGISTER if row["health_region"] != "Midt-Norge"]


def test_the_akson_goal_is_computed_from_the_register(ctx, create_event):
    create_event(slug="akson-stormote", eligible_regions=AKSON)

    figures = coverage.totals(coverage.programme_events())

    assert (figures.municipalities, figures.population) == (292, 4_633_640)
    assert figures.goal == 2_316_821  # more than half: floor(4 633 640 / 2) + 1
    assert (figures.reached, figures.reached_population, figures.goal_reached) == (0, 0, False)
    assert figures.to_goal == 2_316_821
    assert figures.goal_share == pytest.approx(0.5, abs=1e-6)


def test_active_registrants_count_and_cancelled_or_ineligible_do_not(ctx, create_event, registered):
    meeting = create_event(slug="akson-stormote", eligible_regions=AKSON)
    webinar = create_event(slug="akson-webinar-1", eligible_regions=AKSON)
    registered(meeting, "0301")  # Oslo, confirmed
    registered(meeting, "0301")  # twice from Oslo still counts once
    registered(webinar, "4601", status=Registration.WAITLISTED)  # Bergen, on the waiting list
    registered(meeting, "1103", status=Registration.CANCELLED)  # Stavanger, cancelled
    registered(meeting, "5001")  # Trondheim is in Midt-Norge: not in the goal at all
    events = coverage.programme_events()

    figures = coverage.totals(events)

    people = POPULATION["0301"] + POPULATION["4601"]
    assert (figures.municipalities, figures.reached, figures.reached_population) == (292, 2, people)
    assert figures.share == pytest.approx(people / 4_633_640)

    # By county: Oslo fully reached, Vestland partly, Trøndelag not listed at all.
    counties = {county.number: county for county in coverage.by_county(events)}
    oslo = counties["03"]
    assert (oslo.reached, oslo.municipalities, oslo.share) == (1, 1, 1.0)
    vestland = [r for r in OUTSIDE_MIDT if r["county_number"] == "46"]
    assert (counties["46"].reached, counties["46"].municipalities) == (1, len(vestland))
    assert "50" not in counties
    assert list(counties) == sorted(counties)

    # Missing: Stavanger (the cancelled one) is now the largest municipality not reached.
    missing = coverage.missing(events)
    expected = sorted(
        (r for r in OUTSIDE_MIDT if r["number"] not in ("0301", "4601")),
        key=lambda r: (-r["population"], r["name"]),
    )
    assert [m.number for m in missing] == [r["number"] for r in expected]
    assert missing[0].name == "Stavanger"
    assert "5001" not in [m.number for m in missing]


def test_anonymised_registrations_still_count(ctx, create_event, create_registration):
    event = create_event(eligible_regions=AKSON)
    kari = create_registration(event, municipality="4601")
    with write_transaction():
        kari.name, kari.email, kari.anonymised_at = (
            "",
            f"anonymisert-{kari.id}@invalid",
            kari.created_at,
        )

    assert coverage.totals([event]).reached_population == POPULATION["4601"]


def test_goal_reached_when_more_than_half_the_inhabitants_are_covered(
    ctx, create_event, registered
):
    event = create_event(eligible_regions=AKSON)
    covered = 0
    for row in sorted(OUTSIDE_MIDT, key=lambda r: -r["population"]):
        if covered >= 4_633_640 // 2 + 1:
            break
        registered(event, row["number"])
        covered += row["population"]

    figures = coverage.totals([event])

    assert figures.reached_population == covered and figures.goal_reached
    assert figures.to_goal == 0


def test_programme_is_the_union_of_published_events(ctx, create_event):
    create_event(eligible_regions="Nord")
    create_event(eligible_counties="46")  # Vestland, in Vest
    create_event(eligible_counties="11,46")  # adds Rogaland
    create_event(eligible_regions="Sør-Øst", status=Event.DRAFT)  # drafts are not the programme

    figures = coverage.totals(coverage.programme_events())

    union = [
        r for r in REGISTER if r["health_region"] == "Nord" or r["county_number"] in ("11", "46")
    ]
    assert figures.municipalities == len(union)
    assert figures.population == sum(r["population"] for r in union)


def test_one_event_unrestricted_counts_only_its_own_registrants(ctx, create_event, registered):
    restricted = create_event(eligible_regions="Vest", eligible_counties="46")
    everyone = create_event()
    registered(restricted, "4601")

    all_of_norway = coverage.totals([everyone])
    vest = coverage.totals([restricted])

    vestland = [r for r in REGISTER if r["county_number"] == "46"]
    assert (vest.municipalities, vest.reached) == (len(vestland), 1)
    assert (all_of_norway.municipalities, all_of_norway.reached) == (356, 0)
    # The other event's registrants do not count for this one.
    assert coverage.totals([everyone]).reached_population == 0


def test_no_events_make_no_figures(ctx):
    figures = coverage.totals([])

    assert (figures.municipalities, figures.population, figures.reached) == (0, 0, 0)
    assert (figures.share, figures.goal_share, figures.goal_reached) == (0.0, 0.0, False)
    assert coverage.by_county([]) == []
    assert coverage.missing([]) == []
    assert coverage.programme_events() == []


def test_retired_municipalities_are_not_eligible(ctx, create_event, restore_register):
    event = create_event(eligible_regions=AKSON)
    with write_transaction():
        db.session.get(Municipality, "0301").active = False

    assert coverage.totals([event]).municipalities == 291


@pytest.mark.parametrize(
    "population, reached, goal, goal_reached",
    [(10, 5, 6, False), (10, 6, 6, True), (11, 6, 6, True), (0, 0, 1, False)],
)
def test_the_goal_is_more_than_half(population, reached, goal, goal_reached):
    figures = Figures(
        municipalities=3, reached=1, population=population, reached_population=reached
    )

    assert (figures.goal, figures.goal_reached) == (goal, goal_reached)
    assert figures.to_goal == max(goal - reached, 0)


def test_missing_csv_neutralises_names_and_keeps_the_population_a_number():
    rows = [
        Missing("9999", '=HYPERLINK("http://x")', "Nordland", 10_000_000, "Nord"),
        Missing("4601", "Bergen", "Vestland", 285_911, "Vest"),
    ]
    headers = ("Kommunenummer", "Kommune", "Fylke", "Innbyggere", "Helseregion")

    data = coverage.missing_csv(rows, headers)
    semicolon = coverage.missing_csv(rows, headers, delimiter=";")

    assert data.startswith("\ufeff".encode())
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert parsed == [
        list(headers),
        ["9999", '\'=HYPERLINK("http://x")', "Nordland", "10000000", "Nord"],
        ["4601", "Bergen", "Vestland", "285911", "Vest"],
    ]
    assert semicolon.decode("utf-8-sig").splitlines()[2] == "4601;Bergen;Vestland;285911;Vest"


def test_queries_do_not_grow_with_registrations(ctx, create_event, registered):
    """The figures come from aggregate queries, not from a loop over registrations."""
    event_id = create_event(eligible_regions=AKSON).id
    statements = []

    def count(*args):
        statements.append(args[2])

    def figure_queries() -> int:
        db.session.expire_all()
        events = [db.session.get(Event, event_id)]
        statements.clear()
        sa_event.listen(db.engine, "before_cursor_execute", count)
        try:
            coverage.totals(events)
            coverage.by_county(events)
            coverage.missing(events)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    registered(event_id, "0301")
    few = figure_queries()
    for row in OUTSIDE_MIDT[1:151]:  # [0] is Oslo
        registered(event_id, row["number"])
    assert figure_queries() == few == 3
    assert coverage.totals([db.session.get(Event, event_id)]).reached == 151
