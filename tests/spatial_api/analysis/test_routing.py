"""Routes and isochrones on a small road grid with a one-way street and a slow one."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import shape

from tests.support.analysis import node, problem, seg


def route(client, a, b, **kw):
    return client.post("/lbs/route", json={"from": list(node(*a)), "to": list(node(*b))} | kw)


def test_route_respects_oneway_and_speed(client):
    r = route(client, (0, 0), (2, 0))
    assert r.status_code == 200, r.text
    [f] = r.json()["features"]
    path = [(0, 0), (1, 0), (1, 1), (2, 1), (2, 0)]  # h10 is one way westwards; v00 is slow
    assert [tuple(round(c, 6) for c in xy) for xy in f["geometry"]["coordinates"]] == [
        node(*n) for n in path
    ]
    length = sum(seg(node(*a), node(*b)) for a, b in zip(path, path[1:], strict=False))
    assert f["properties"]["length_m"] == pytest.approx(length, abs=0.01)
    assert f["properties"]["duration_s"] == pytest.approx(length / 10, abs=0.01)
    assert f["properties"]["roads"] == ["h00", "v10", "h11", "v20"]
    back = route(client, (2, 0), (0, 0)).json()["features"][0]
    assert back["properties"]["roads"] == ["h10", "h00"]


def along(a, b, f: float, south_m: float = 0.0) -> tuple[float, float]:
    """The point a fraction f from node a to node b, moved south_m metres south."""
    (x0, y0), (x1, y1) = node(*a), node(*b)
    return (x0 + f * (x1 - x0), y0 + f * (y1 - y0) - south_m / 110_950)


def test_route_starts_and_ends_on_the_road_not_at_the_nearest_node(client):
    start = along((0, 1), (1, 1), 0.5, south_m=5)  # beside the middle of h01
    r = client.post("/lbs/route", json={"from": start, "to": list(node(2, 1))})
    assert r.status_code == 200, r.text
    f = r.json()["features"][0]
    mid = along((0, 1), (1, 1), 0.5)
    assert f["geometry"]["coordinates"][0] == pytest.approx(list(mid), abs=1e-7)
    assert f["properties"]["roads"] == ["h01", "h11"]
    length = seg(mid, node(1, 1)) + seg(node(1, 1), node(2, 1))
    assert f["properties"]["length_m"] == pytest.approx(length, abs=0.01)
    assert f["properties"]["duration_s"] == pytest.approx(length / 10, abs=0.01)
    assert f["properties"]["snap_from_m"] == pytest.approx(5, abs=0.05)

    # Both ends on one edge: only the stretch between them is driven.
    a, b = along((0, 1), (1, 1), 0.25), along((0, 1), (1, 1), 0.75)
    same = client.post("/lbs/route", json={"from": a, "to": b}).json()["features"][0]
    assert same["properties"]["roads"] == ["h01"]
    assert same["properties"]["length_m"] == pytest.approx(seg(a, b), abs=0.01)

    # h10 runs one way, westwards: from its middle west is direct, east goes round.
    mid10 = along((2, 0), (1, 0), 0.5)
    west = client.post("/lbs/route", json={"from": mid10, "to": list(node(1, 0))}).json()
    assert west["features"][0]["properties"]["roads"] == ["h10"]
    east = client.post("/lbs/route", json={"from": mid10, "to": list(node(2, 0))}).json()
    assert east["features"][0]["properties"]["roads"] == ["h10", "v10", "h11", "v20"]


@pytest.mark.parametrize("budget", [{"distance_m": 150}, {"time_s": 15}])
def test_isochrone_contains_exactly_the_reachable_nodes(client, budget):
    r = client.post(
        "/lbs/isochrone", json={"from": list(node(0, 0)), "include_nodes": True} | budget
    )
    assert r.status_code == 200, r.text
    area, *nodes = r.json()["features"]
    reached = {tuple(round(c, 6) for c in f["geometry"]["coordinates"]) for f in nodes}
    expected = (
        {node(0, 0), node(1, 0), node(0, 1)} if "distance_m" in budget else {node(0, 0), node(1, 0)}
    )
    assert reached == expected
    polygon = shape(area["geometry"])
    grid = {node(i, j) for i in range(3) for j in range(3)}
    assert {n for n in grid if polygon.contains(shapely.Point(n))} == expected
    assert area["properties"]["area_m2"] > 0


def test_no_route_is_a_404_with_a_reason(client):
    problem(route(client, (0, 0), (5, 5)), 404, "not connected")
    far = client.post("/lbs/route", json={"from": [121.5, 36.9], "to": list(node(0, 0))})
    problem(far, 404, "no road within 500 m of from")
    problem(route(client, (0, 0), (0, 0)), 404, "at the same point")
    problem(route(client, (0, 0), (2, 0), datetime="1990-01-01"), 404, "no segments")
    problem(route(client, (0, 0), (2, 0), datetime="2020-01-01/2021-01-01"), 400, "instant")
