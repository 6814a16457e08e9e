"""Where a campaign stands: each municipality's furthest step, the goal (the programme's own),
the funnel, the counties, whom to call next and the figures over time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import update

from webinars import campaign, declarations, invitations
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Event, Municipality, Programme, Registration
from webinars.municipalities import read_register

AKSON = "Nord,Vest,Sør-Øst"
REGISTER = read_register()
POPULATION = {row["number"]: row["population"] for row in REGISTER}
OUTSIDE_MIDT = [row for row in REGISTER if row["health_region"] != "Midt-Norge"]
TODAY = date(2020, 5, 20)


def _programme(id_: int) -> Programme:
    db.session.expire_all()
    return db.session.get(Programme, id_)


def _by_number(programme) -> dict[str, campaign.Place]:
    return {place.number: place for place in campaign.places(programme)}


def test_the_akson_goal_comes_from_the_programme_and_the_register(ctx, create_programme):
    akson = create_programme()

    standing = campaign.standing(akson, campaign.places(akson), TODAY)

    assert (standing.goal.municipalities, standing.goal.population) == (292, 4_633_640)
    assert standing.goal.people == 2_316_821  # more than half: floor(4 633 640 / 2) + 1
    assert (standing.signed, standing.signed_population, standing.reached) == (0, 0, False)
    assert standing.to_goal == 2_316_821
    assert standing.days_left == 42  # 20 May to 1 July


def test_an_event_open_to_the_whole_country_does_not_move_the_goal(
    ctx, create_programme, create_event, registered
):
    meeting = create_event(eligible_regions=AKSON)
    open_webinar = create_event()  # no eligibility rule: the whole country, Trondheim too
    akson = create_programme([meeting, open_webinar])
    registered(open_webinar, "5001")  # Trondheim registers for the open webinar

    rows = campaign.places(akson)
    standing = campaign.standing(akson, rows, TODAY)
    calls = campaign.calls(akson, rows, standing)

    assert standing.goal.population == 4_633_640 and standing.goal.people == 2_316_821
    trondheim = _by_number(akson)["5001"]
    assert trondheim.registered and not trondheim.eligible
    assert "5001" not in [call.place.number for call in calls]
    assert calls[0].place.name == "Oslo"


def test_each_municipality_is_at_its_furthest_step(
    ctx, create_programme, create_event, create_contact, registered
):
    meeting = create_event(eligible_regions=AKSON)
    other = create_event(eligible_regions=AKSON)  # not in the programme
    akson = create_programme([meeting])
    create_contact("1103")  # Stavanger: a contact, not invited yet
    invitations.send(db.session.get(Event, meeting.id), invitations.Audience(county="46"))
    create_contact("4601")  # Bergen: invited below
    invitations.send(db.session.get(Event, meeting.id), invitations.Audience(county="46"))
    registered(meeting, "0301")  # Oslo registered
    registered(meeting, "1804")  # Bodø registered and attended
    registered(meeting, "3024", status=Registration.CANCELLED)  # Bærum cancelled: not registered
    registered(other, "4204")  # Kristiansand registered for another programme's event
    with write_transaction():
        db.session.execute(
            update(Registration)
            .where(Registration.municipality_number == "1804")
            .values(attended_minutes=42)
        )
    declarations.record(akson, municipality="5401", signed_on=date(2020, 6, 1), by="test")

    places = _by_number(_programme(akson.id))

    assert places["1103"].step == campaign.NOT_INVITED
    assert places["4601"].step == campaign.INVITED
    assert places["0301"].step == campaign.REGISTERED
    assert places["1804"].step == campaign.ATTENDED
    assert places["3024"].step == campaign.NOT_INVITED
    assert places["4204"].step == campaign.NOT_INVITED
    assert places["5401"].step == campaign.SIGNED  # Tromsø signed without being invited
    assert not places["5001"].eligible  # Trondheim, Midt-Norge


def test_the_funnel_counts_each_municipality_at_every_step_up_to_its_furthest(
    ctx, create_programme, create_event, registered
):
    meeting = create_event(eligible_regions=AKSON)
    akson = create_programme([meeting])
    registered(meeting, "0301")
    declarations.record(akson, municipality="4601", signed_on=date(2020, 6, 1), by="test")

    stages = {stage.step: stage for stage in campaign.funnel(campaign.places(akson))}

    oslo, bergen = POPULATION["0301"], POPULATION["4601"]
    assert (stages["eligible"].municipalities, stages["eligible"].population) == (292, 4_633_640)
    assert (stages["invited"].municipalities, stages["invited"].population) == (2, oslo + bergen)
    assert (stages["registered"].municipalities, stages["registered"].population) == (
        2,
        oslo + bergen,
    )
    assert (stages["attended"].municipalities, stages["signed"].municipalities) == (1, 1)
    assert stages["signed"].population == bergen


def test_counties_have_the_same_figures(ctx, create_programme, create_event, registered):
    meeting = create_event(eligible_regions=AKSON)
    akson = create_programme([meeting])
    registered(meeting, "4601")
    declarations.record(akson, municipality="4601", signed_on=date(2020, 6, 1), by="test")

    counties = {county.number: county for county in campaign.by_county(campaign.places(akson))}

    vestland = [r for r in OUTSIDE_MIDT if r["county_number"] == "46"]
    assert counties["46"].municipalities == len(vestland)
    assert counties["46"].reached["signed"] == counties["46"].reached["registered"] == 1
    assert counties["46"].share == pytest.approx(
        POPULATION["4601"] / sum(r["population"] for r in vestland)
    )
    assert "50" not in counties and "15" not in counties  # Midt-Norge
    assert list(counties) == sorted(counties)


def test_whom_to_call_next_largest_first_with_contacts_and_the_gap_each_closes(
    ctx, create_programme, create_event, create_contact, registered
):
    meeting = create_event(eligible_regions=AKSON)
    akson = create_programme([meeting])
    create_contact("0301", name="Raymond Johansen", email="raymond@oslo.kommune.no")
    create_contact(
        "0301", name="Avmeldt", email="borte@oslo.kommune.no", unsubscribed_at=datetime.now(UTC)
    )
    registered(meeting, "4601")
    declarations.record(akson, municipality="1103", signed_on=date(2020, 6, 1), by="test")
    rows = campaign.places(akson)

    calls = campaign.calls(akson, rows, campaign.standing(akson, rows, TODAY))

    expected = sorted(
        (r for r in OUTSIDE_MIDT if r["number"] != "1103"),
        key=lambda r: (-r["population"], r["name"]),
    )
    assert [call.place.number for call in calls] == [r["number"] for r in expected]
    oslo = calls[0]
    assert oslo.place.name == "Oslo"
    assert [(p.name, p.unsubscribed) for p in oslo.contacts] == [
        ("Avmeldt", True),
        ("Raymond Johansen", False),
    ]
    gap = 2_316_821 - POPULATION["1103"]
    assert oslo.closes == pytest.approx(POPULATION["0301"] / gap)
    bergen = next(call for call in calls if call.place.number == "4601")
    assert bergen.place.registered and not bergen.place.attended

    headers, table = campaign.call_table(calls)
    assert headers[:4] == ["Kommunenummer", "Kommune", "Fylke", "Innbyggere"]
    assert table[0][:5] == ["0301", "Oslo", "Oslo", POPULATION["0301"], "Ikke invitert"]
    assert "Raymond Johansen (Ordfører) <raymond@oslo.kommune.no>" in table[0][9]
    assert "[avmeldt]" in table[0][9]


def test_withdrawn_and_pending_declarations_do_not_count(ctx, create_programme, create_contact):
    akson = create_programme()
    withdrawn = declarations.record(akson, municipality="0301", signed_on=TODAY, by="test")
    declarations.withdraw(withdrawn, by="test")
    declarations.submit(
        akson,
        create_contact("4601"),
        signed_on=TODAY,
        signed_by_name="Ordfører",
        signed_by_role="ordfører",
        document=declarations.Upload("e.pdf", b"%PDF-1.4\n%%EOF\n"),
    )

    assert campaign.standing(akson, campaign.places(akson), TODAY).signed == 0


def test_retired_municipalities_are_left_out(ctx, create_programme, restore_register):
    akson = create_programme()
    with write_transaction():
        db.session.get(Municipality, "0301").active = False

    assert campaign.standing(akson, campaign.places(akson), TODAY).goal.municipalities == 291
    assert "0301" not in _by_number(akson)


def test_the_figures_take_the_same_queries_however_many_registrations(
    ctx, create_programme, create_event, registered
):
    """One query for every municipality's flags, not one per registration or municipality."""
    meeting = create_event(eligible_regions=AKSON)
    programme_id = create_programme([meeting]).id
    statements = []

    def count(*args):
        statements.append(args[2])

    def queries() -> int:
        programme = _programme(programme_id)
        statements.clear()
        sa_event.listen(db.engine, "before_cursor_execute", count)
        try:
            campaign.overview(programme, TODAY)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    registered(meeting, "0301")
    few = queries()
    for row in OUTSIDE_MIDT[1:151]:
        registered(meeting, row["number"])
    assert queries() == few
    assert (
        campaign.standing(
            _programme(programme_id), campaign.places(_programme(programme_id)), TODAY
        ).goal.people
        == 2_316_821
    )
