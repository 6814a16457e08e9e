"""The campaign's pictures: the map coloured by step with its legend, and the charts' lines
stopping today."""

from datetime import date, timedelta

from webinars import charts
from webinars.campaign import Place
from webinars.timeline import Timeline


def place(number, *, eligible=True, invited=False, registered=False, signed=None):
    return Place(
        number, f"K{number}", "03", "Oslo", 1000, eligible, invited, registered, False, signed
    )


def test_the_map_colours_each_municipality_by_its_step_and_greys_the_rest():
    view = charts.map_view(
        [
            place("0301", signed=date(2020, 6, 1)),
            place("4601", invited=True),
            place("5001", eligible=False),
        ],
        "Ikke med",
    )

    shapes = {shape.place.number: shape for shape in view.shapes}
    assert shapes["0301"].fill == charts.FILLS["signed"]
    assert shapes["4601"].fill == charts.FILLS["invited"]
    assert (shapes["5001"].fill, shapes["5001"].label) == (charts.FILLS["not_eligible"], "Ikke med")
    legend = {key.step: key.count for key in view.legend}
    assert legend == {
        "not_invited": 0,
        "invited": 1,
        "registered": 0,
        "attended": 0,
        "signed": 1,
        "not_eligible": 1,
    }


def test_a_municipality_without_an_outline_is_left_off_the_map():
    view = charts.map_view([place("9999")], "Ikke med")

    assert view.shapes == []


def test_the_lines_stop_today_and_the_markers_sit_on_their_days():
    days = [date(2020, 5, 1) + timedelta(days=n) for n in range(11)]
    timeline = Timeline(days, [n / 20 for n in range(11)], 0.5, date(2020, 5, 11), [])

    chart = charts.signed_chart(timeline, date(2020, 5, 6), str, str)

    [line] = chart.lines
    assert len(line.points.split()) == 6  # 1 to 6 May
    assert chart.deadline_x == charts.RIGHT
    assert chart.goal_y == (charts.BOTTOM + charts.TOP) / 2


def test_round_axis_tops():
    assert [charts._round_up(n) for n in (1, 3, 7, 11, 45, 120, 999)] == [
        1,
        4,
        10,
        20,
        50,
        200,
        1000,
    ]
