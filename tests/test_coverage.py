"""Municipality coverage: reached municipalities and inhabitants against the goal, by county,
and the municipalities still missing, as a page and as CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import event as sa_event

from webinars import coverage
from webinars.extensions import db
from webinars.models import Municipality, Registration, hash_token
from webinars.municipalities import read_register

AKSON = "Nord,Vest,Sør-Øst"
NBSP = "\xa0"
REGISTER = read_register()
POPULATION = {row["number"]: row["population"] for row in REGISTER}
OUTSIDE_MIDT = [row for row in REGISTER if row["health_region"] != "Midt-Norge"]


def nb(value: int) -> str:
    """A number as the page writes it: groups of three split by no-break spaces."""
    return f"{value:,}".replace(",", NBSP)


_counter = iter(range(1, 1_000_000))


def registered(event, municipality: str, status: str = "confirmed") -> Registration:
    """A registration row straight in the database (coverage only reads them); event or id."""
    n = next(_counter)
    registration = Registration(
        event_id=event if isinstance(event, int) else event.id,
        name=f"Person {n}",
        email=f"p{n}@kommune.no",
        role="ordforer",
        municipality_number=municipality,
        token_hash=hash_token(f"token-{n}"),
        status=status,
    )
    db.session.add(registration)
    db.session.commit()
    return registration


def test_the_akson_goal_is_computed_from_the_register(create_event, signed_in):
    create_event(slug="akson-stormote", eligible_regions=AKSON)

    figures = coverage.totals(coverage.programme_events())
    page = signed_in.get("/organiser/coverage").text

    assert (figures.municipalities, figures.population) == (292, 4_633_640)
    assert figures.goal == 2_316_821  # more than half: floor(4 633 640 / 2) + 1
    assert (figures.reached, figures.reached_population, figures.goal_reached) == (0, 0, False)
    assert "0 av 292 kommuner er nådd" in page
    assert f"minst 2{NBSP}316{NBSP}821 av 4{NBSP}633{NBSP}640" in page
    assert f"Det mangler 2{NBSP}316{NBSP}821 innbyggere" in page
    assert 'class="goal" style="left: 50.000%"' in page


def test_active_registrants_count_and_cancelled_or_ineligible_do_not(create_event, signed_in):
    meeting = create_event(slug="akson-stormote", eligible_regions=AKSON)
    webinar = create_event(slug="akson-webinar-1", eligible_regions=AKSON)
    registered(meeting, "0301")  # Oslo, confirmed
    registered(meeting, "0301")  # twice from Oslo still counts once
    registered(webinar, "4601", status="waitlisted")  # Bergen, on the waiting list
    registered(meeting, "1103", status="cancelled")  # Stavanger, cancelled
    registered(meeting, "5001")  # Trondheim is in Midt-Norge: not in the goal at all

    figures = coverage.totals(coverage.programme_events())
    page = signed_in.get("/organiser/coverage").text

    people = POPULATION["0301"] + POPULATION["4601"]
    assert (figures.municipalities, figures.reached, figures.reached_population) == (292, 2, people)
    assert "2 av 292 kommuner er nådd" in page
    assert f"De har {nb(people)} av 4{NBSP}633{NBSP}640 innbyggere (21,1{NBSP}%)" in page
    assert f'style="width: {people / 4_633_640 * 100:.3f}%"' in page

    # By county: Oslo fully reached, Vestland partly, Trøndelag not listed at all.
    oslo = next(c for c in coverage.by_county(coverage.programme_events()) if c.number == "03")
    assert (oslo.reached, oslo.municipalities, oslo.share) == (1, 1, 1.0)
    assert re.search(r"<th scope=\"row\">Oslo</th>\s*<td>1 / 1</td>", page)
    vestland = [r for r in OUTSIDE_MIDT if r["county_number"] == "46"]
    assert f"<td>1 / {len(vestland)}</td>" in page
    assert "Trøndelag" not in page.split("<h2>Fylker</h2>")[1].split("</table>")[0]

    # Missing: Stavanger (the cancelled one) is now the largest municipality not reached.
    missing = coverage.missing(coverage.programme_events())
    expected = sorted(
        (r for r in OUTSIDE_MIDT if r["number"] not in ("0301", "4601")),
        key=lambda r: (-r["population"], r["name"]),
    )
    assert [m.number for m in missing] == [r["number"] for r in expected]
    assert missing[0].name == "Stavanger"
    assert "5001" not in [m.number for m in missing]
    assert page.index("Stavanger") < page.index("Bærum")


def test_goal_reached_when_more_than_half_the_inhabitants_are_covered(create_event, signed_in):
    event = create_event(eligible_regions=AKSON)
    covered = 0
    for row in sorted(OUTSIDE_MIDT, key=lambda r: -r["population"]):
        if covered >= 4_633_640 // 2 + 1:
            break
        registered(event, row["number"])
        covered += row["population"]

    figures = coverage.totals([event])
    page = signed_in.get(f"/organiser/events/{event.slug}/coverage").text

    assert figures.reached_population == covered and figures.goal_reached
    assert "Målet er nådd." in page


def test_programme_is_the_union_of_published_events(create_event):
    create_event(eligible_regions="Nord")
    create_event(eligible_counties="46")  # Vestland, in Vest
    create_event(eligible_counties="11,46")  # adds Rogaland
    create_event(eligible_regions="Sør-Øst", status="draft")  # drafts are not the programme

    figures = coverage.totals(coverage.programme_events())

    union = [
        r for r in REGISTER if r["health_region"] == "Nord" or r["county_number"] in ("11", "46")
    ]
    assert figures.municipalities == len(union)
    assert figures.population == sum(r["population"] for r in union)


def test_one_event_by_county_and_unrestricted(create_event, signed_in):
    restricted = create_event(eligible_regions="Vest", eligible_counties="46")
    everyone = create_event()
    registered(restricted, "4601")

    vest = signed_in.get(f"/organiser/coverage?event={restricted.slug}").text
    all_of_norway = coverage.totals([everyone])

    vestland = [r for r in REGISTER if r["county_number"] == "46"]
    assert f"1 av {len(vestland)} kommuner er nådd" in vest
    assert f'<option value="{restricted.slug}" selected>' in vest
    assert (all_of_norway.municipalities, all_of_norway.reached) == (356, 0)
    # The other event's registrants do not count for this one.
    assert coverage.totals([everyone]).reached_population == 0


@pytest.fixture
def register_restored(app):
    """On PostgreSQL the register is kept between tests: undo what a test changes in it."""
    yield
    db.session.rollback()
    db.session.query(Registration).filter(Registration.municipality_number == "9999").delete()
    db.session.query(Municipality).filter(Municipality.number == "9999").delete()
    db.session.get(Municipality, "0301").active = True
    db.session.commit()


def test_retired_municipalities_are_not_eligible(create_event, register_restored):
    event = create_event(eligible_regions=AKSON)
    db.session.get(Municipality, "0301").active = False
    db.session.commit()

    assert coverage.totals([event]).municipalities == 291


def test_missing_municipalities_as_csv(create_event, signed_in, register_restored):
    event = create_event(eligible_regions=AKSON)
    registered(event, "0301")
    # A hostile name from a newer register must not run as a formula in Excel.
    db.session.add(
        Municipality(
            number="9999",
            name='=HYPERLINK("http://x")',
            county_number="18",
            county_name="Nordland",
            population=10_000_000,
            health_region="Nord",
        )
    )
    db.session.commit()

    response = signed_in.get(f"/organiser/coverage/missing.csv?event={event.slug}")
    semicolon = signed_in.get(f"/organiser/coverage/missing.csv?event={event.slug}&sep=semicolon")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="kommuner-uten-pameldte-{event.slug}.csv"'
    )
    assert response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["Kommunenummer", "Kommune", "Fylke", "Innbyggere", "Helseregion"]
    assert rows[1] == ["9999", '\'=HYPERLINK("http://x")', "Nordland", "10000000", "Nord"]
    assert rows[2] == ["4601", "Bergen", "Vestland", str(POPULATION["4601"]), "Vest"]
    assert len(rows) == 1 + 292  # 293 eligible with the new one, Oslo reached
    assert "0301" not in [row[0] for row in rows]
    assert (
        semicolon.data.decode("utf-8-sig").splitlines()[2]
        == f"4601;Bergen;Vestland;{POPULATION['4601']};Vest"
    )


def test_programme_csv_is_linked_from_the_page(create_event, signed_in):
    create_event(eligible_regions=AKSON)
    page = signed_in.get("/organiser/coverage").text
    assert 'href="/organiser/coverage/missing.csv"' in page
    rows = signed_in.get("/organiser/coverage/missing.csv").data.decode("utf-8-sig").splitlines()
    assert rows[1].startswith("0301,Oslo,Oslo,693494,")


def test_no_published_events(signed_in):
    page = signed_in.get("/organiser/coverage")
    assert page.status_code == 200
    assert "det er ingen publiserte arrangementer" in page.text


@pytest.mark.parametrize(
    "path",
    ["/organiser/coverage", "/organiser/coverage/missing.csv", "/organiser/events/x/coverage"],
)
def test_coverage_needs_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/organiser/login" in response.location


def test_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/coverage").status_code == 404
    assert signed_in.get("/organiser/coverage?event=finnes-ikke").status_code == 404


def test_queries_do_not_grow_with_registrations(app, create_event, signed_in):
    """The figures come from aggregate queries, not from a loop over registrations."""
    event = create_event(eligible_regions=AKSON)
    statements = []

    def count(*args):
        statements.append(args[2])

    def page_queries() -> int:
        db.session.remove()  # every request starts from an empty session
        statements.clear()
        sa_event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert signed_in.get("/organiser/coverage").status_code == 200
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    event_id = event.id
    registered(event_id, "0301")
    few = page_queries()
    for row in OUTSIDE_MIDT[1:151]:  # [0] is Oslo
        registered(event_id, row["number"])
    assert page_queries() == few
    assert "151 av 292 kommuner er nådd" in signed_in.get("/organiser/coverage").text
