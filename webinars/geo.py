"""Municipality outlines for the campaign map: read, projected and simplified once per process.

The outlines ship with the package (`data/kommuner-2020.geojson`, © Kartverket, CC BY 4.0).
The projection that looks right for Norway: x = longitude × cos(65°), y = −latitude, scaled
to a viewBox WIDTH units wide. Each ring is simplified with Douglas–Peucker to what a map of
that size can show, and written as an SVG path once; requests only look the paths up.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

OUTLINES = "kommuner-2020.geojson"
#: The map's width in viewBox units: whole units are fine enough for a map shown ~600 px wide.
WIDTH = 1200
#: Points closer than this to the simplified line (in viewBox units) are dropped.
TOLERANCE = 1.2
#: Rings smaller than this across (viewBox units) are left out, except a municipality's largest.
MIN_RING = 2.5
_COS = math.cos(math.radians(65))


@dataclass(frozen=True)
class Outlines:
    """Every municipality's outline as an SVG path, in one viewBox."""

    width: int
    height: int
    #: Municipality number → path data.
    paths: dict[str, str]


@lru_cache(maxsize=1)
def outlines() -> Outlines:
    """The projected, simplified outlines (computed on first use, then kept)."""
    data = json.loads(resources.files("webinars.data").joinpath(OUTLINES).read_text("utf-8"))
    features = [
        (feature["properties"]["number"], _polygons(feature["geometry"]))
        for feature in data["features"]
    ]
    points = [
        p for _, polygons in features for polygon in polygons for ring in polygon for p in ring
    ]
    xs = [lon * _COS for lon, _lat in points]
    ys = [-lat for _lon, lat in points]
    left, top = min(xs), min(ys)
    scale = WIDTH / (max(xs) - left)
    height = math.ceil((max(ys) - top) * scale)

    def project(ring: list[list[float]]) -> list[tuple[float, float]]:
        return [((lon * _COS - left) * scale, (-lat - top) * scale) for lon, lat in ring]

    paths = {}
    for number, polygons in features:
        rings = [project(ring) for polygon in polygons for ring in polygon]
        largest = max(rings, key=_extent)
        kept = [ring for ring in rings if ring is largest or _extent(ring) >= MIN_RING]
        paths[number] = "".join(_path(simplify(ring, TOLERANCE)) for ring in kept)
    return Outlines(WIDTH, height, paths)


def _polygons(geometry: dict) -> list:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return geometry["coordinates"]


def _extent(ring: list[tuple[float, float]]) -> float:
    xs, ys = [x for x, _ in ring], [y for _, y in ring]
    return max(max(xs) - min(xs), max(ys) - min(ys))


def _path(ring: list[tuple[float, float]]) -> str:
    """A closed ring as compact path data: whole units, each point relative to the last."""
    points = [(round(x), round(y)) for x, y in ring]
    (x0, y0), steps = points[0], []
    last = (x0, y0)
    for x, y in points[1:]:
        if (x, y) != last:
            steps.append(f"{x - last[0]} {y - last[1]}")
            last = (x, y)
    if len(steps) < 2:  # smaller than a unit: a dot the size of one
        steps = ["1 0", "0 1", "-1 0"]
    return f"M{x0} {y0}l{' '.join(steps)}z".replace(" -", "-")


def simplify(ring: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas–Peucker: the fewest points of `ring` that stay within `tolerance` of it.

    A closed ring is split at the point farthest from its start, so both halves keep their
    ends; a ring always keeps at least four points (a triangle, closed).
    """
    ring = _thin(ring, tolerance)
    if len(ring) <= 4:
        return ring
    start = ring[0]
    far = max(
        range(len(ring)), key=lambda i: (ring[i][0] - start[0]) ** 2 + (ring[i][1] - start[1]) ** 2
    )
    keep = [False] * len(ring)
    keep[0] = keep[far] = keep[-1] = True
    stack = [(0, far), (far, len(ring) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        index, distance = _farthest(ring, first, last)
        if distance > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    kept = [point for point, wanted in zip(ring, keep, strict=True) if wanted]
    if len(kept) < 4:
        step = max(len(ring) // 3, 1)
        kept = [ring[0], ring[step], ring[2 * step], ring[-1]]
    return kept


def _thin(ring: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Drop points closer than `tolerance` to the last one kept (cheap, before Douglas–Peucker)."""
    kept = [ring[0]]
    for point in ring[1:-1]:
        last = kept[-1]
        if abs(point[0] - last[0]) > tolerance or abs(point[1] - last[1]) > tolerance:
            kept.append(point)
    kept.append(ring[-1])
    return kept if len(kept) >= 4 else ring


def _farthest(ring, first: int, last: int) -> tuple[int, float]:
    """The point between `first` and `last` farthest from the line joining them."""
    (x1, y1), (x2, y2) = ring[first], ring[last]
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy)
    best, best_distance = first, -1.0
    for i in range(first + 1, last):
        x, y = ring[i]
        if length:
            distance = abs(dy * x - dx * y + x2 * y1 - y2 * x1) / length
        else:
            distance = math.hypot(x - x1, y - y1)
        if distance > best_distance:
            best, best_distance = i, distance
    return best, best_distance
