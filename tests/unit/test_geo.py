"""The map outlines: every municipality, projected and simplified once, small enough to send."""

import re

from webinars import geo
from webinars.municipalities import read_register


def test_every_municipality_has_a_closed_outline_in_the_viewbox():
    drawn = geo.outlines()

    assert sorted(drawn.paths) == sorted(row["number"] for row in read_register())
    assert drawn.width == geo.WIDTH and 1.1 < drawn.height / drawn.width < 1.3  # Norway is tall
    for number, path in drawn.paths.items():
        assert path.startswith("M") and path.endswith("z"), number
        x, y = map(int, re.match(r"M(\d+) (\d+)", path).groups())
        assert 0 <= x <= drawn.width and 0 <= y <= drawn.height, number


def test_the_outlines_are_computed_once_and_simplified():
    assert geo.outlines() is geo.outlines()
    points = sum(path.count(" ") for path in geo.outlines().paths.values())
    assert points < 33_434 / 2  # the source has 33,434 points
    assert sum(len(path) for path in geo.outlines().paths.values()) < 100_000


def test_simplify_keeps_the_shape_within_the_tolerance():
    square = [(0, 0), (5, 0.1), (10, 0), (10, 10), (5, 10.2), (0, 10), (0, 0)]

    assert geo.simplify(square, 0.5) == [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
    assert len(geo.simplify(square, 0.01)) == len(square)
