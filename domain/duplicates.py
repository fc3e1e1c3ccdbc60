"""Where a report may repeat an open case (重复案件候选): the city's rule and the distance.

A report's candidates are the open cases of the same category reported within
`window_hours` of it and, where both have coordinates, within `radius_m` metres (great
circle); without coordinates on either side, in the same grid cell. City file section
`duplicates` (adapters/cities/sample.yaml); the read is projections/duplicates.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class DuplicateRule:
    """The city's duplicate-detection rule."""

    radius_m: float = 100.0  # metres between the two reports' coordinates
    window_hours: float = 72.0  # hours between their report times
    limit: int = 10  # candidates shown at most, nearest first


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
