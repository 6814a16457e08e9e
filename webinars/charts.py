"""The campaign's pictures, drawn on the server as SVG: the map and the charts over time.

These builders turn campaign figures into coordinates and colours; the templates
(`templates/organiser/campaign/_svg.html`) write the SVG elements, so every text in them is
escaped by Jinja. Colours are SVG presentation attributes, never style attributes: the
Content-Security-Policy allows no inline styles, and `map.svg` must look right on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from .campaign import STEP_LABELS, STEPS, Place
from .geo import outlines
from .timeline import Timeline

NOT_ELIGIBLE = "not_eligible"
#: Fill colours by step: a sequential scale that reads in greyscale too (ColorBrewer
#: YlGnBu), and grey for municipalities outside the campaign.
FILLS = {
    NOT_ELIGIBLE: "#d0d3d6",
    STEPS[0]: "#ffffcc",
    STEPS[1]: "#a1dab4",
    STEPS[2]: "#41b6c4",
    STEPS[3]: "#2c7fb8",
    STEPS[4]: "#253494",
}
#: Line colours for up to six events in the registrations chart (then they repeat).
SERIES = ("#00587a", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#4d7c0f")


# --- the map --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One municipality on the map."""

    place: Place
    d: str
    step: str
    fill: str
    #: What the step is called, and the tooltip ("Bergen: 283 929 innbyggere – Signert").
    label: str
    title: str


@dataclass(frozen=True)
class Key:
    """A legend entry: the colour, what it means and how many municipalities have it."""

    step: str
    label: object
    fill: str
    count: int


@dataclass(frozen=True)
class MapView:
    width: int
    height: int
    shapes: list[Shape]
    legend: list[Key]


def map_view(
    places: list[Place], not_eligible_label: str, people: Callable[[int], str] = str
) -> MapView:
    """Every municipality with an outline, coloured by the furthest step it has reached.

    `people` writes a population out ("283 929 innbyggere"); labels are made strings here,
    once each, since the map has 356 tooltips.
    """
    drawn = outlines()
    labels = {step: str(label) for step, label in STEP_LABELS.items()}
    labels[NOT_ELIGIBLE] = str(not_eligible_label)
    shapes = []
    counts = dict.fromkeys(labels, 0)
    for place in places:
        d = drawn.paths.get(place.number)
        if d is None:  # a municipality newer than the outlines: it is in the table
            continue
        step = place.step if place.eligible else NOT_ELIGIBLE
        counts[step] += 1
        title = f"{place.name}: {people(place.population)} – {labels[step]}"
        shapes.append(Shape(place, d, step, FILLS[step], labels[step], title))
    legend = [Key(step, labels[step], FILLS[step], counts[step]) for step in labels]
    return MapView(drawn.width, drawn.height, shapes, legend)


# --- charts over time -----------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Line:
    """A polyline of a chart, with what its legend says."""

    points: str
    colour: str
    label: str = ""


@dataclass(frozen=True)
class Chart:
    """A chart's frame (plot area, ticks) and its lines, in viewBox units."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    lines: list[Line]
    #: A horizontal marker (the goal) and a vertical one (the deadline), when the chart has them.
    goal_y: float | None = None
    deadline_x: float | None = None
    today_x: float | None = None


WIDTH, HEIGHT = 760, 300
LEFT, TOP, RIGHT, BOTTOM = 56, 18, 740, 262


def _x(index: int, count: int) -> float:
    return LEFT + (RIGHT - LEFT) * (index / (count - 1) if count > 1 else 0.5)


def _y(value: float, top_value: float) -> float:
    return BOTTOM - (BOTTOM - TOP) * (value / top_value if top_value else 0)


def _day_ticks(days: list[date], day_label) -> list[Tick]:
    """About six labelled days: the first, then evenly spaced ones."""
    if not days:
        return []
    step = max(len(days) // 6, 1)
    return [Tick(_x(i, len(days)), day_label(days[i])) for i in range(0, len(days), step)]


def _known(days: list[date], today: date) -> int:
    """How many of the days have happened (the lines stop today)."""
    return sum(1 for day in days if day <= today)


def _marker(days: list[date], day: date) -> float | None:
    if not days or not days[0] <= day <= days[-1]:
        return None
    return _x((day - days[0]).days, len(days))


def signed_chart(timeline: Timeline, today: date, day_label, percent) -> Chart:
    """The signed share of the eligible population per day, against the goal and deadline."""
    days, shares = timeline.days, timeline.signed_share[: _known(timeline.days, today)]
    top = max(1.0, *shares) if shares else 1.0
    points = " ".join(
        f"{_x(i, len(days)):.1f},{_y(share, top):.1f}" for i, share in enumerate(shares)
    )
    y_ticks = [Tick(_y(v, top), percent(v)) for v in (0, 0.25, 0.5, 0.75, 1.0)]
    return Chart(
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        RIGHT,
        BOTTOM,
        _day_ticks(days, day_label),
        y_ticks,
        [Line(points, SERIES[0])],
        goal_y=_y(timeline.goal_share, top),
        deadline_x=_marker(days, timeline.deadline),
        today_x=_marker(days, today),
    )


def registrations_chart(timeline: Timeline, today: date, day_label, number) -> Chart:
    """New registrations per day, one line per event of the programme."""
    days = timeline.days
    top = max([1, *(n for _, counts in timeline.registrations for n in counts)])
    top = _round_up(top)
    lines = []
    known = _known(days, today)
    for index, (event, counts) in enumerate(timeline.registrations):
        points = " ".join(
            f"{_x(i, len(days)):.1f},{_y(n, top):.1f}" for i, n in enumerate(counts[:known])
        )
        lines.append(Line(points, SERIES[index % len(SERIES)], event.title))
    y_ticks = [Tick(_y(v, top), number(v)) for v in (0, top // 4, top // 2, 3 * top // 4, top)]
    return Chart(
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        RIGHT,
        BOTTOM,
        _day_ticks(days, day_label),
        y_ticks,
        lines,
        deadline_x=_marker(days, timeline.deadline),
        today_x=_marker(days, today),
    )


def _round_up(value: int) -> int:
    """A round top for an axis: 1, 2, 4 or 5 times a power of ten, at least `value`."""
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for factor in (1, 2, 4, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude
