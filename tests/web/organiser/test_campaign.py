"""The coverage pages: reached municipalities and inhabitants against the goal, by county,
and the municipalities still missing, as a page and as CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import event as sa_event

from tests.support import within
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.models import Event, Municipality, Registration
from webinars.municipalities import read_register

AKSON = "Nord,Vest,Sør-Øst"
NBSP = "\xa0"
REGISTER = read_register()
POPULATION = {row["number"]: row["population"] for row in REGISTER}
OUTSIDE_MIDT = [row for row in REGISTER if row["health_region"] != "Midt-Norge"]


def nb(value: int) -> str:
    """A number as the page writes it: groups of three split by no-break spaces."""
    return f"{value:,}".replace(",", NBSP)


def test_the_akson_goal_is_shown_against_the_register(create_event, signed_in):
    create_event(slug="akson-stormote", eligible_regions=AKSON)

    page = signed_in.get("/organiser/coverage").text

    assert "<title>Dekning i hele programmet – Arrangør" in page
    assert "0 av 292 kommuner er nådd" in page
    assert f"minst 2{NBSP}316{NBSP}821 av 4{NBSP}633{NBSP}640" in page
    assert f"Det mangler 2{NBSP}316{NBSP}821 innbyggere" in page
    # The goal line of the bar sits at half the eligible inhabitants.
    assert '<line class="goal" x1="50.000" x2="50.000"' in page


def test_active_registrants_count_and_cancelled_or_ineligible_do_not(
    app, create_event, signed_in, registered
):
    meeting = create_event(slug="akson-stormote", eligible_regions=AKSON)
    webinar = create_event(slug="akson-webinar-1", eligible_regions=AKSON)
    registered(meeting, "0301")  # Oslo, confirmed
    registered(meeting, "0301")  # twice from Oslo still counts once
    registered(webinar, "4601", status=Registration.WAITLISTED)  # Bergen, waiting list
    registered(meeting, "1103", status=Registration.CANCELLED)  # Stavanger, cancelled
    registered(meeting, "5001")  # Trondheim is in Midt-Norge: not in the goal at all

    page = signed_in.get("/organiser/coverage").text

    people = POPULATION["0301"] + POPULATION["4601"]
    assert "2 av 292 kommuner er nådd" in page
    assert f"De har {nb(people)} av 4{NBSP}633{NBSP}640 innbyggere (21,1{NBSP}%)" in page
    assert f'<rect class="done" width="{people / 4_633_640 * 100:.3f}"' in page

    # By county: Oslo fully reached, Vestland partly, Trøndelag not listed at all.
    assert re.search(r"<th scope=\"row\">Oslo</th>\s*<td>1 / 1</td>", page)
    vestland = [r for r in OUTSIDE_MIDT if r["county_number"] == "46"]
    assert f"<td>1 / {len(vestland)}</td>" in page
    assert "Trøndelag" not in page.split("<h2>Fylker</h2>")[1].split("</table>")[0]

    # Missing, largest first: Stavanger (the cancelled one) comes before Bærum.
    assert page.index("Stavanger") < page.index("Bærum")


def test_goal_reached_when_more_than_half_the_inhabitants_are_covered(
    app, create_event, signed_in, registered
):
    event = create_event(eligible_regions=AKSON)
    covered = 0
    for row in sorted(OUTSIDE_MIDT, key=lambda r: -r["population"]):
        if covered >= 4_633_640 // 2 + 1:
            break
        registered(event, row["number"])
        covered += row["population"]

    page = signed_in.get(f"/organiser/events/{event.slug}/coverage")

    assert page.status_code == 200
    assert "Målet er nådd." in page.text
    assert '<span class="status ok">Målet er nådd.</span>' in page.text
    assert "Det mangler" not in page.text


def test_one_event_by_county(app, create_event, signed_in, registered):
    restricted = create_event(eligible_regions="Vest", eligible_counties="46")
    create_event()
    registered(restricted, "4601")

    vest = signed_in.get(f"/organiser/coverage?event={restricted.slug}").text

    vestland = [r for r in REGISTER if r["county_number"] == "46"]
    assert f"1 av {len(vestland)} kommuner er nådd" in vest
    assert f'<option value="{restricted.slug}" selected>' in vest


def test_missing_municipalities_as_csv(app, create_event, signed_in, restore_register, registered):
    event = create_event(eligible_regions=AKSON)
    registered(event, "0301")
    # A hostile name from a newer register must not run as a formula in Excel.
    with within(app), write_transaction():
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
    response = signed_in.get("/organiser/coverage/missing.csv")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="kommuner-uten-pameldte-programmet.csv"'
    )
    rows = response.data.decode("utf-8-sig").splitlines()
    assert rows[1].startswith("0301,Oslo,Oslo,693494,")


def test_no_published_events(signed_in):
    page = signed_in.get("/organiser/coverage")
    assert page.status_code == 200
    assert "det er ingen publiserte arrangementer" in page.text


def test_coverage_page_in_english(create_event, signed_in):
    create_event(eligible_regions=AKSON)

    page = signed_in.get("/organiser/coverage?lang=en").text

    assert '<html lang="en">' in page
    assert "2,316,821" in page and "4,633,640" in page


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
    assert signed_in.get("/organiser/coverage/missing.csv?event=finnes-ikke").status_code == 404


def test_queries_do_not_grow_with_registrations(app, create_event, signed_in, registered):
    """The figures come from aggregate queries, not from a loop over registrations."""
    event = create_event(eligible_regions=AKSON)
    with app.app_context():
        engine = db.engine
    statements = []

    def count(*args):
        statements.append(args[2])

    def page_queries() -> int:
        statements.clear()  # every request starts from an empty session of its own
        sa_event.listen(engine, "before_cursor_execute", count)
        try:
            assert signed_in.get("/organiser/coverage").status_code == 200
        finally:
            sa_event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    event_id = event.id
    registered(event_id, "0301")
    few = page_queries()
    for row in OUTSIDE_MIDT[1:151]:  # [0] is Oslo
        registered(event_id, row["number"])
    assert page_queries() == few
    assert "151 av 292 kommuner er nådd" in signed_in.get("/organiser/coverage").text


def test_a_draft_event_has_its_own_coverage_page(app, create_event, signed_in):
    draft = create_event(status=Event.DRAFT, eligible_counties="46")

    page = signed_in.get(f"/organiser/events/{draft.slug}/coverage")

    assert page.status_code == 200
    vestland = [r for r in REGISTER if r["county_number"] == "46"]
    assert f"0 av {len(vestland)} kommuner er nådd" in page.text
