"""Routes and isochrones on a small road grid with a one-way street and a slow one."""

from __future__ import annotations

import networkx as nx
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import text

from spatial_api.analysis.route_steps import steps, turn
from tests.support.analysis import GEOD, ROADS, node, problem, seg


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


def circle_zone(client, centre, radius_m: float) -> dict:
    """A hazard-zone answer: the custom circle about a node, as the client would post it."""
    body = {"preset": "custom", "point": list(centre), "radius_m": radius_m}
    r = client.post("/analysis/hazard-zone", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def outside_only(route_geometry: dict, zone: dict) -> bool:
    """The route meets the zone at most on its edge: no length inside it."""
    poly = shape(zone["features"][0]["geometry"])
    return shape(route_geometry).intersection(poly).length < 1e-9


def test_route_around_a_zone_keeps_out_of_it(client):
    zone = circle_zone(client, node(1, 1), 30)
    r = route(client, (0, 1), (2, 1), avoid=zone)
    assert r.status_code == 200, r.text
    [f] = r.json()["features"]
    p = f["properties"]
    assert p["roads"] == ["v01", "h02", "h12", "v21"]  # the middle row crosses the zone
    assert (p["avoided"], p["ends_at_zone_edge"], p["starts_at_zone_edge"]) == (True, False, False)
    path = [(0, 1), (0, 2), (1, 2), (2, 2), (2, 1)]
    length = sum(seg(node(*a), node(*b)) for a, b in zip(path, path[1:], strict=False))
    assert p["length_m"] == pytest.approx(length, abs=0.01)
    assert p["duration_s"] == pytest.approx(length / 10, abs=0.01)
    assert outside_only(f["geometry"], zone)
    # Without the zone, straight through.
    assert route(client, (0, 1), (2, 1)).json()["features"][0]["properties"]["roads"] == [
        "h01",
        "h11",
    ]


def test_a_route_to_a_scene_inside_the_zone_stops_at_its_edge(client):
    zone = circle_zone(client, node(1, 1), 30)
    r = route(client, (0, 0), (1, 1), avoid=zone)
    assert r.status_code == 200, r.text
    main, approach = r.json()["features"]
    p, a = main["properties"], approach["properties"]
    assert (p["role"], a["role"]) == ("route", "approach")
    assert p["roads"] == ["h00", "v10"] and a["roads"] == ["v10"]
    assert p["ends_at_zone_edge"] is True
    edge = GEOD.fwd(*node(1, 1), 180, 30)[:2]  # where v10 meets the circle, 30 m south
    assert main["geometry"]["coordinates"][-1] == pytest.approx(list(edge), abs=1e-7)
    assert approach["geometry"]["coordinates"][0] == pytest.approx(list(edge), abs=1e-7)
    assert p["length_m"] == pytest.approx(
        seg(node(0, 0), node(1, 0)) + seg(node(1, 0), edge), abs=0.01
    )
    assert a["length_m"] == pytest.approx(30, abs=0.01)
    assert (p["approach_m"], p["approach_s"]) == pytest.approx((30, 3), abs=0.01)
    assert outside_only(main["geometry"], zone)


def test_from_inside_the_zone_the_route_leaves_it_first(client):
    zone = circle_zone(client, node(1, 1), 30)
    r = route(client, (1, 1), (0, 0), avoid=zone)
    assert r.status_code == 200, r.text
    main, departure = r.json()["features"]
    assert departure["properties"]["role"] == "departure"
    assert departure["properties"]["length_m"] == pytest.approx(30, abs=0.01)
    assert main["properties"]["roads"] == ["v10", "h00"]
    assert main["properties"]["starts_at_zone_edge"] is True
    assert outside_only(main["geometry"], zone)


def test_a_zone_across_the_grid_leaves_no_route_and_closed_roads_are_left_out(client):
    wall = {
        "type": "Polygon",
        "coordinates": [
            [
                [121.0007, 36.4995],
                [121.0013, 36.4995],
                [121.0013, 36.5025],
                [121.0007, 36.5025],
                [121.0007, 36.4995],
            ]
        ],
    }
    problem(route(client, (0, 1), (2, 1), avoid=wall), 404, "outside the avoided zone")
    closed = route(client, (0, 1), (2, 1), closed_roads=["h01"]).json()["features"][0]
    assert closed["properties"]["roads"] == ["v01", "h02", "h12", "v21"]
    problem(
        route(client, (0, 1), (2, 1), avoid={"type": "Point", "coordinates": [121, 36.5]}),
        422,
        "avoid",
    )


def test_isochrone_keeps_out_of_the_zone_and_off_closed_roads(client):
    def reached(**kw) -> set:
        r = client.post(
            "/lbs/isochrone",
            json={"from": list(node(0, 0)), "distance_m": 150, "include_nodes": True} | kw,
        )
        assert r.status_code == 200, r.text
        area, *nodes = r.json()["features"]
        grid = {node(i, j) for i in range(3) for j in range(3)}
        got = {tuple(round(c, 6) for c in f["geometry"]["coordinates"]) for f in nodes}
        assert {n for n in grid if shape(area["geometry"]).contains(shapely.Point(n))} == got & grid
        return got & grid

    assert reached() == {node(0, 0), node(1, 0), node(0, 1)}
    assert reached(avoid=circle_zone(client, node(1, 0), 30)) == {node(0, 0), node(0, 1)}
    assert reached(closed_roads=["v00"]) == {node(0, 0), node(1, 0)}
    inside = client.post(
        "/lbs/isochrone",
        json={
            "from": list(node(1, 0)),
            "distance_m": 150,
            "avoid": circle_zone(client, node(1, 0), 30),
        },
    )
    problem(inside, 404, "inside the avoided zone")


def point_on(a, b, f: float) -> tuple[float, float]:
    (x0, y0), (x1, y1) = node(*a), node(*b)
    return (x0 + f * (x1 - x0), y0 + f * (y1 - y0))


RESOURCES = {  # base stations standing in for fire stations: asset → where
    "RC": point_on((2, 1), (2, 2), 0.25),
    "RA": point_on((0, 2), (1, 2), 0.5),
    "RB": node(0, 0),
    "RD": node(5, 5),  # on the island: no road to the scene
}


@pytest.fixture
def resources(engine):
    with engine.begin() as c:
        for a, (x, y) in RESOURCES.items():
            c.execute(
                text(
                    "INSERT INTO city.base_stations (asset_id, name, geom) "
                    "VALUES (:a, :a, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": a, "x": x, "y": y},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.base_stations WHERE asset_id LIKE 'R_'"))


def times_to_centre_around_zone() -> dict[str, float]:
    """networkx: outside the zone to a neighbour of (1, 1), then that road in (the approach)."""
    cuts = {"v21": [RESOURCES["RC"]], "h02": [RESOURCES["RA"]]}
    g = nx.DiGraph()
    for asset, a, b, speed, oneway in ROADS:
        chain = [node(*a), *cuts.get(asset, []), node(*b)]
        for p, q in zip(chain, chain[1:], strict=False):
            t = seg(p, q) / (speed / 3.6)
            g.add_edge(p, q, weight=t)
            if not oneway:
                g.add_edge(q, p, weight=t)
    centre = node(1, 1)
    approach = {u: g[u][centre]["weight"] for u in g.predecessors(centre)}
    g.remove_node(centre)
    out = {}
    for asset, p in RESOURCES.items():
        d = nx.single_source_dijkstra_path_length(g, p) if p in g else {}
        ts = [d[u] + t for u, t in approach.items() if u in d]
        if ts:
            out[asset] = min(ts)
    return out


def test_responders_are_the_nearest_by_road_time_around_the_zone(client, resources):
    zone = circle_zone(client, node(1, 1), 30)
    body = {"scene": list(node(1, 1)), "layer": "base_stations", "k": 3, "avoid": zone}
    r = client.post("/analysis/responders", json=body)
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    points = [f["properties"] for f in features if f["properties"]["role"] == "responder"]
    ref = times_to_centre_around_zone()
    expected = sorted(ref, key=ref.get)
    assert expected == ["RC", "RA", "RB"] and "RD" not in ref
    assert [p["asset_id"] for p in points] == expected
    for p in points:
        assert p["duration_s"] == pytest.approx(ref[p["asset_id"]], abs=0.01)
    routes = {
        f["properties"]["responder"]: f for f in features if f["properties"]["role"] == "route"
    }
    for asset, f in routes.items():
        p = f["properties"]
        assert p["duration_s"] + p["approach_s"] == pytest.approx(ref[asset], abs=0.01)
        assert p["ends_at_zone_edge"] and outside_only(f["geometry"], zone)
    k1 = client.post("/analysis/responders", json=body | {"k": 1}).json()["features"]
    assert [f["id"] for f in k1] == ["RC", "RC:route", "RC:approach"]
    problem(client.post("/analysis/responders", json=body | {"layer": "roads"}), 400, "not points")
    problem(
        client.post("/analysis/responders", json=body | {"search_m": 1}),
        404,
        "no base_stations within 1 m",
    )


def test_a_route_gives_turn_by_turn_steps(client):
    f = route(client, (0, 0), (2, 0)).json()["features"][0]
    got = [(s["instruction"], s["roads"]) for s in f["properties"]["steps"]]
    assert got == [
        ("depart", ["h00"]),
        ("turn left", ["v10"]),
        ("turn right", ["h11"]),
        ("turn right", ["v20"]),
        ("arrive", []),
    ]
    first = f["properties"]["steps"][0]
    assert first["heading_deg"] == pytest.approx(90, abs=0.01)  # east along h00
    assert first["length_m"] == pytest.approx(seg(node(0, 0), node(1, 0)), abs=0.01)
    assert sum(s["duration_s"] for s in f["properties"]["steps"]) == pytest.approx(
        f["properties"]["duration_s"], abs=1e-6
    )


@pytest.mark.parametrize(
    ("heading_in", "heading_out", "instruction"),
    [
        (90, 95, "continue"),
        (90, 130, "turn slight right"),
        (90, 0, "turn left"),
        (350, 80, "turn right"),  # across north
        (90, 250, "turn sharp right"),  # through south
        (90, 290, "turn sharp left"),
        (0, 180, "make a U-turn"),
        (None, 10, "continue"),
    ],
)
def test_turns_by_the_change_of_heading(heading_in, heading_out, instruction):
    assert turn(heading_in, heading_out) == instruction


def test_steps_merge_the_edges_of_one_named_road():
    legs = [
        {"road": "a1", "m": 10.0, "s": 1.0, "b0": 0.0, "b1": 0.0},
        {"road": "a2", "m": 20.0, "s": 2.0, "b0": 5.0, "b1": 10.0},
        {"road": "b1", "m": 5.0, "s": 0.5, "b0": 100.0, "b1": 100.0},
    ]
    got = steps(legs, {"a1": "香港中路", "a2": "香港中路", "b1": None})
    assert [(s["text"], s["roads"], s["length_m"]) for s in got] == [
        ("Depart onto 香港中路", ["a1", "a2"], 30.0),
        ("Turn right", ["b1"], 5.0),
        ("Arrive", [], 0.0),
    ]
