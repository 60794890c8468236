"""Coverage statistics per area and operator: covered km², % covered, holes, 0 % areas.

References: pyproj geodesic areas of the districts and of a geodesic disc drawn with
GEOD.fwd; the free-space radius from the formula.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping, shape

from spatial_api.analysis.coverage_grid import Grid
from spatial_api.analysis.coverage_stats import measure
from tests.spatial_api.analysis.test_coverage_model import LONLAT, sectors  # noqa: F401
from tests.support.analysis import D1, D2, GEOD, PARK, problem

R = 10 ** ((100 - 20 * math.log10(4 * math.pi * 2e9 / 299_792_458.0)) / 20)  # 1192.8 m
FSPL_D = {"model": "fspl", "threshold_dbm": -100, "cell_m": 10}  # sector D's free-space disc


def geodesic_area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))[0])


def geodesic_disc(lon: float, lat: float, r: float, n: int = 720) -> shapely.Polygon:
    az = np.linspace(0, 360, n, endpoint=False)
    x, y, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, r))
    return shapely.Polygon(np.column_stack([x, y]))


def stats(client, **body):
    r = client.post("/analysis/coverage/stats", json=body)
    assert r.status_code == 200, r.text
    fs = r.json()["features"]
    head = fs[0]["properties"]
    rows = {
        (f["properties"]["name"], f["properties"]["operator"]): f["properties"]
        for f in fs[1:]
        if f["properties"]["role"] == "stats"
    }
    holes = [f for f in fs[1:] if f["properties"]["role"] == "hole"]
    return head, rows, holes


def test_a_square_half_covered_reads_50_percent():
    # A 2 km square in EPSG:4549 metres, its bottom and top off the 25 m cells; the cells
    # whose centres lie west of its middle are covered.
    grid = Grid(x0=499_000.0, y0=3_989_000.0, cell=25.0, rows=200, cols=200)
    square = shapely.box(500_000.0, 3_990_013.0, 502_000.0, 3_992_013.0)
    centres = grid.x0 + (np.arange(grid.cols) + 0.5) * grid.cell
    covered = np.broadcast_to(centres < 501_000.0, (grid.rows, grid.cols))
    n = measure(square, covered, grid, 4549, min_hole_m2=625.0, max_holes=5)
    assert 100 * n.covered_m2 / n.area_m2 == pytest.approx(50.0, abs=0.05)
    assert n.area_m2 == pytest.approx(4e6, rel=1e-3)  # GK scale at 0.9 km from the meridian
    assert n.hole_count == 1
    assert n.holes[0].area_m2 == pytest.approx(n.area_m2 - n.covered_m2, rel=1e-6)


def test_districts_each_operator_with_areas_not_covered_at_zero(client, sectors):  # noqa: F811
    head, rows, holes = stats(client, filter={"operator": "china_unicom"}, **FSPL_D)
    assert set(rows) == {("West", "china_unicom"), ("East", "china_unicom")}
    west, east = geodesic_area(D1), geodesic_area(D2)
    disc = geodesic_area(geodesic_disc(*LONLAT["D"], R))
    w = rows[("West", "china_unicom")]
    assert w["area_km2"] == pytest.approx(west / 1e6, rel=1e-6)
    assert w["covered_km2"] == pytest.approx(disc / 1e6, rel=5e-3)
    assert w["covered_pct"] == pytest.approx(100 * disc / west, rel=5e-3)
    e = rows[("East", "china_unicom")]
    assert (e["covered_km2"], e["covered_pct"], e["holes"]) == (0.0, 0.0, 1)
    assert e["area_km2"] == pytest.approx(east / 1e6, rel=1e-6)
    # Holes: West's is the district less the disc; East's is all of East.
    by_area = {h["properties"]["name"]: h for h in holes}
    assert by_area["West"]["properties"]["area_m2"] == pytest.approx(west - disc, rel=1e-4)
    assert by_area["East"]["properties"]["area_m2"] == pytest.approx(east, rel=1e-6)
    assert shape(by_area["East"]["geometry"]).symmetric_difference(D2).area < 1e-12  # deg²
    assert head["operators"] == ["china_unicom"] and head["areas"] == 2
    assert head["terrain"].startswith("flat earth")


def test_every_operator_of_the_city_is_listed_in_every_area(client, sectors):  # noqa: F811
    _, rows, _ = stats(client, cell_m=25, areas={"layer": "districts", "filter": {"name": "East"}})
    # china_telecom's only sector has no power: it is listed, at 0 %, like the others here.
    assert set(rows) == {
        ("East", "china_mobile"),
        ("East", "china_telecom"),
        ("East", "china_unicom"),
    }
    assert all(r["covered_pct"] == 0.0 for r in rows.values())


def test_a_drawn_polygon_and_another_polygon_layer(client, sectors):  # noqa: F811
    drawn = shapely.box(120.04, 36.04, 120.06, 36.06)
    _, rows, holes = stats(
        client,
        filter={"operator": "china_unicom"},
        areas={"geometry": mapping(drawn)},
        **FSPL_D,
    )
    cut = geodesic_area(shapely.intersection(geodesic_disc(*LONLAT["D"], R), drawn))
    d = rows[("drawn polygon", "china_unicom")]
    assert d["covered_km2"] == pytest.approx(cut / 1e6, rel=5e-3)
    assert d["covered_pct"] == pytest.approx(100 * cut / geodesic_area(drawn), rel=5e-3)
    assert d["holes"] == 4  # the box's four corners outside the disc
    ranks = [h["properties"]["rank"] for h in holes]
    assert ranks == [1, 2, 3, 4]
    areas = [h["properties"]["area_m2"] for h in holes]
    assert areas == sorted(areas, reverse=True)
    _, parks, _ = stats(
        client, filter={"operator": "china_unicom"}, areas={"layer": "logistics_parks"}, **FSPL_D
    )
    p = parks[("Port park", "china_unicom")]
    assert p["covered_pct"] == 0.0
    assert p["area_km2"] == pytest.approx(geodesic_area(PARK) / 1e6, rel=1e-6)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"areas": {"layer": "sectors"}}, 400, ("sectors holds Points",)),
        ({"areas": {"geometry": {"type": "Point", "coordinates": [120, 36]}}}, 400, ("Polygon",)),
        ({"areas": {"layer": "nope"}}, 404, ("nope",)),
        ({"model": "fixed"}, 422, ("not with fixed",)),
        ({"max_holes": -1}, 422, ("max_holes",)),
    ],
)
def test_bad_stats_requests_are_4xx(client, sectors, body, status, words):  # noqa: F811
    r = client.post("/analysis/coverage/stats", json=body)
    if status == 422:
        assert r.status_code == 422, r.text
        assert all(w in r.text for w in words)
    else:
        problem(r, status, *words)
