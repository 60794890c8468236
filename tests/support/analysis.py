"""The small city the analysis tests share, and their problem+json check.

Geodesic references come from pyproj's Geod (GeographicLib); overlay areas from shapely
in a local azimuthal equidistant projection; nearest from brute force over every feature.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import box

TOKEN = "analysis-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GEOD = Geod(ellps="WGS84")
PROBLEM = "application/problem+json"


# Two districts side by side, a logistics park across their border, pipes in both.
D1, D2 = box(120.0, 36.0, 120.1, 36.1), box(120.1, 36.0, 120.2, 36.1)
PARK = box(120.08, 36.04, 120.12, 36.06)
PIPES = [  # asset, utility, (lon, lat) start, end
    ("P1", "water", (120.05, 36.05), (120.15, 36.05)),
    ("P2", "gas", (120.02, 36.02), (120.08, 36.02)),
    ("P3", "water", (120.12, 36.08), (120.18, 36.08)),
]
# A 3×3 road grid at 121.00–121.002 E, 36.5–36.502 N; node (i, j) = (121 + i/1000, 36.5 + j/1000).
STEP = 0.001


def node(i: int, j: int) -> tuple[float, float]:
    return (round(121 + i * STEP, 6), round(36.5 + j * STEP, 6))


ROADS = []  # asset, from node, to node, speed, oneway
for j in range(3):
    for i in range(2):
        ROADS.append((f"h{i}{j}", (i, j), (i + 1, j), 36.0, False))
for i in range(3):
    for j in range(2):
        ROADS.append((f"v{i}{j}", (i, j), (i, j + 1), 36.0, False))
ROADS = [r for r in ROADS if r[0] not in ("h10", "v00")]
ROADS += [
    ("h10", (2, 0), (1, 0), 36.0, True),  # one way westwards only
    ("v00", (0, 0), (0, 1), 18.0, False),  # slow
    ("island", (5, 5), (6, 5), 36.0, False),
]  # not connected to the grid


def seg(a, b) -> float:
    return GEOD.inv(*a, *b)[2]


def sites() -> list[tuple[str, float, float, str]]:
    rng = np.random.default_rng(7)
    pts = rng.uniform((120.3, 36.0), (120.5, 36.2), size=(60, 2))
    out = [(f"S{i:02d}", x, y, "5A" if i % 4 == 0 else "3A") for i, (x, y) in enumerate(pts)]
    # At 60°N a degree of longitude is half a degree of latitude: planar and geodesic
    # nearest disagree here, which the exact nearest must get right.
    return out + [("N_lat", 10.0, 60.015, "3A"), ("N_lon", 10.02, 60.0, "3A")]


def ewkt_line(a, b, z: str = "") -> str:
    return f"SRID=4490;LINESTRING({a[0]} {a[1]}{z}, {b[0]} {b[1]}{z})"


def ewkt_poly(p) -> str:
    return "SRID=4490;MULTIPOLYGON(" + shapely.to_wkt(p)[len("POLYGON ") :] + ")"


def problem(r, status: int, *words: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status
    for w in words:
        assert w in body["detail"], body["detail"]
    return body
