"""Who registered for an event: the filters, one page of the list, the choices the filters
offer, and the rows the exports stream from their own connection."""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event

from webinars import participants, registrations
from webinars.extensions import db
from webinars.participants import Filters


@pytest.fixture
def crowd(ctx, create_event, create_registration):
    """An event with people from Oslo, Bergen and Bodø in different roles and states."""
    event = create_event()
    create_registration(event, name="Kari Ærlig", email="kari@oslo.kommune.no")
    create_registration(
        event,
        name="Ola Berg",
        email="ola@bergen.kommune.no",
        municipality="4601",
        role="kommunalsjef",
        organisation="Helse Vest",
    )
    create_registration(event, name="Åse Øyen", email="ase@bodo.kommune.no", municipality="1804")
    gone = create_registration(
        event, name="Per Vik", email="per@bergen.kommune.no", municipality="4601"
    )
    registrations.cancel(gone)
    return event


# --- Filters ----------------------------------------------------------------------------------


def test_filters_keep_what_can_match_and_tidy_the_search():
    filters = Filters.from_args(
        {"q": "  Kari \t Nordmann ", "county": "46", "role": "kommunalsjef", "status": "waitlisted"}
    )

    assert filters == Filters(
        q="Kari Nordmann", county="46", role="kommunalsjef", status="waitlisted"
    )
    assert filters.active


@pytest.mark.parametrize(
    "args",
    [{"role": "keiser"}, {"status": "nonsense"}, {"q": "   "}, {}],
    ids=["unknown-role", "unknown-status", "blank-search", "nothing"],
)
def test_filters_drop_values_that_cannot_match(args):
    filters = Filters.from_args(args)

    assert filters == Filters()
    assert not filters.active
    assert filters.as_args() == {}


def test_filters_cut_over_long_values():
    filters = Filters.from_args({"q": "x" * 500, "municipality": "030199", "county": "4601"})

    assert (len(filters.q), filters.municipality, filters.county) == (200, "0301", "46")


def test_filters_as_args_give_back_only_the_chosen_ones():
    filters = Filters.from_args({"q": "berg", "status": "cancelled", "page": "2"})

    assert filters.as_args() == {"q": "berg", "status": "cancelled"}
    assert Filters.from_args(filters.as_args()) == filters


# --- one page of the list ---------------------------------------------------------------------


def test_page_lists_the_filtered_registrations_oldest_first_with_the_total(crowd):
    rows, total = participants.page(crowd, Filters(county="46"))

    assert total == 2
    assert [row.name for row in rows] == ["Ola Berg", "Per Vik"]
    assert [row.status for row in rows] == ["confirmed", "cancelled"]
    assert (rows[0].municipality_name, rows[0].county_name) == ("Bergen", "Vestland")
    assert rows[0].id < rows[1].id


@pytest.mark.parametrize(
    "q, expected",
    [
        ("ærlig", ["Kari Ærlig"]),  # Æ folded to æ on SQLite too
        ("ØYEN", ["Åse Øyen"]),
        ("helse vest", ["Ola Berg"]),
        ("bergen.kommune", ["Ola Berg", "Per Vik"]),
        ("%", []),  # a character, not a wildcard
    ],
)
def test_page_search_ignores_case_also_for_norwegian_letters(crowd, q, expected):
    rows, total = participants.page(crowd, Filters(q=q))

    assert [row.name for row in rows] == expected
    assert total == len(expected)


def test_page_splits_a_long_list_and_counts_it_all(
    ctx, create_event, create_registration, monkeypatch
):
    monkeypatch.setattr(participants, "PAGE_SIZE", 2)
    event = create_event()
    for n in range(5):
        create_registration(event, name=f"Person {n}", email=f"p{n}@kommune.no")

    pages = [participants.page(event, Filters(), number) for number in (1, 3, 4)]

    assert [[row.name for row in rows] for rows, _ in pages] == [
        ["Person 0", "Person 1"],
        ["Person 4"],
        [],
    ]
    assert {total for _, total in pages} == {5}
    # A page number below one is the first page.
    assert [row.name for row in participants.page(event, Filters(), 0)[0]] == [
        "Person 0",
        "Person 1",
    ]


def test_page_shows_only_the_event_s_own_registrations(
    ctx, crowd, create_event, create_registration
):
    other = create_event()
    create_registration(other, name="Eva Annen", email="eva@kommune.no")

    rows, total = participants.page(crowd, Filters())

    assert "Eva Annen" not in [row.name for row in rows]
    assert total == 4


# --- filter choices ---------------------------------------------------------------------------


def test_filter_choices_offer_only_municipalities_and_counties_that_occur(crowd):
    municipalities, counties = participants.filter_choices(crowd)

    assert municipalities == [("4601", "Bergen"), ("1804", "Bodø"), ("0301", "Oslo")]
    assert counties == [("18", "Nordland"), ("03", "Oslo"), ("46", "Vestland")]


def test_filter_choices_of_an_empty_event_are_empty(ctx, create_event):
    assert participants.filter_choices(create_event()) == ([], [])


# --- registration_of --------------------------------------------------------------------------


def test_registration_of_finds_only_the_event_s_own(ctx, create_event, create_registration):
    one, other = create_event(), create_event()
    kari = create_registration(one)

    assert participants.registration_of(one, kari.id) is kari
    assert participants.registration_of(other, kari.id) is None
    assert participants.registration_of(one, kari.id + 1000) is None


# --- streaming the export rows ----------------------------------------------------------------


def test_stream_rows_follow_the_filters_in_export_column_order(crowd):
    rows = list(participants.stream_rows(db.engine, crowd.id, Filters(status="confirmed")))

    assert [row.name for row in rows] == ["Kari Ærlig", "Ola Berg", "Åse Øyen"]
    name, email, role, number, municipality, county, organisation, status, created, minutes = rows[
        1
    ]
    assert (name, email, role, number) == (
        "Ola Berg",
        "ola@bergen.kommune.no",
        "kommunalsjef",
        "4601",
    )
    assert (municipality, county, organisation, status) == (
        "Bergen",
        "Vestland",
        "Helse Vest",
        "confirmed",
    )
    assert created.tzinfo is not None
    assert minutes is None  # no participant report loaded


# SQLite's cursor steps through a result by itself; PostgreSQL needs a server-side cursor.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_rows_come_from_a_server_side_cursor_on_postgresql(ctx, create_event, create_registration):
    event = create_event()
    for n in range(5):
        create_registration(event, email=f"p{n}@kommune.no")
    cursors = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if "FROM registrations" in statement:
            cursors.append(type(cursor).__name__)

    sa_event.listen(db.engine, "before_cursor_execute", spy)
    try:
        rows = participants.stream_rows(db.engine, event.id, Filters(), batch=2)
        assert next(rows).email == "p0@kommune.no"
        rows.close()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", spy)

    assert cursors == ["ServerCursor"]


def test_an_abandoned_download_gives_its_connection_back(ctx, create_event, create_registration):
    event = create_event()
    for n in range(5):
        create_registration(event, email=f"p{n}@kommune.no")
    event_id = event.id
    db.session.close()
    before = db.engine.pool.checkedout()

    rows = participants.stream_rows(db.engine, event_id, Filters(), batch=2)
    next(rows)
    assert db.engine.pool.checkedout() == before + 1
    rows.close()  # what the WSGI server does when the client goes away

    assert db.engine.pool.checkedout() == before


def test_stream_rows_opens_no_connection_before_the_first_row(ctx, create_event):
    event_id = create_event().id
    db.session.close()
    before = db.engine.pool.checkedout()

    rows = participants.stream_rows(db.engine, event_id, Filters())

    assert db.engine.pool.checkedout() == before
    assert list(rows) == []
    assert db.engine.pool.checkedout() == before
