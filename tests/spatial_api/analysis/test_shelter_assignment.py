"""Shelter assignment on the analysis grid: optimal against brute force, capacities held.

Road times for the reference come from networkx shortest paths over the grid's own road
list (geodesic lengths by pyproj, one-way and slow roads as loaded), not from pgRouting.
"""

from __future__ import annotations

import asyncio
import itertools

import networkx as nx
import numpy as np
import pytest
from sqlalchemy import text

from citygis.db import make_async_engine
from layers import Catalog
from layers.access import SYSTEM
from spatial_api.analysis.routing import build_graph
from spatial_api.analysis.shelter_assignment import min_cost_assignment
from spatial_api.analysis.travel_times import snap_all, travel_times
from tests.support.analysis import ROADS, node, problem, seg

ZONE = {  # about nodes (0, 0) and (1, 0), clear of every other node
    "type": "Polygon",
    "coordinates": [
        [
            [120.9995, 36.4995],
            [121.0015, 36.4995],
            [121.0015, 36.5005],
            [120.9995, 36.5005],
            [120.9995, 36.4995],
        ]
    ],
}
TARGETS = {"SAT1": ((0, 0), 4), "SAT2": ((1, 0), 3), "SAT3": ((2, 2), 50)}  # SAT3 is outside
SHELTERS = {  # asset: node, capacity, area_m2, status
    "SAH1": ((0, 2), 3, None, "open"),
    "SAH2": ((2, 1), 2, None, "open"),
    "SAH3": ((2, 2), None, 1.5, "open"),  # 1 person at 1 m² (emergency), none at 2 m²
    "SAH4": ((1, 0), 100, None, "open"),  # inside the zone
    "SAH5": ((0, 1), 100, None, "closed"),
}


@pytest.fixture(scope="module")
def places(engine, data):
    with engine.begin() as c:
        for a, ((i, j), pop) in TARGETS.items():
            c.execute(
                text(
                    "INSERT INTO city.protected_targets (asset_id, name, kind, population, geom) "
                    "VALUES (:a, :a, 'school', :p, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": a, "p": pop, "x": node(i, j)[0], "y": node(i, j)[1]},
            )
        for a, ((i, j), cap, area, status) in SHELTERS.items():
            c.execute(
                text(
                    "INSERT INTO city.shelters (asset_id, name, capacity, area_m2, status, geom) "
                    "VALUES (:a, :a, :c, :m, :s, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": a, "c": cap, "m": area, "s": status, "x": node(i, j)[0], "y": node(i, j)[1]},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.protected_targets WHERE asset_id LIKE 'SA%'"))
        c.execute(text("DELETE FROM city.shelters WHERE asset_id LIKE 'SA%'"))


def road_times() -> dict[tuple, dict[tuple, float]]:
    g = nx.DiGraph()
    for _, a, b, speed, oneway in ROADS:
        t = seg(node(*a), node(*b)) / (speed / 3.6)
        g.add_edge(a, b, weight=t)
        if not oneway:
            g.add_edge(b, a, weight=t)
    return dict(nx.all_pairs_dijkstra_path_length(g))


def brute_force(people, capacity, cost) -> tuple[int, float]:
    """(most people housed, least total cost among those) over every integer assignment."""
    shelters = range(len(capacity))
    splits = [
        [
            x
            for x in itertools.product(*(range(p + 1) for _ in shelters))
            if sum(x) <= p and all(x[j] == 0 or (i, j) in cost for j in shelters)
        ]
        for i, p in enumerate(people)
    ]
    best = (0, 0.0)  # the empty assignment
    for combo in itertools.product(*splits):
        if any(sum(x[j] for x in combo) > capacity[j] for j in shelters):
            continue
        housed = sum(map(sum, combo))
        total = sum(x[j] * cost[i, j] for i, x in enumerate(combo) for j in shelters if x[j])
        if (-housed, total) < (-best[0], best[1]):
            best = (housed, total)
    return best


def post(client, **kw):
    return client.post("/analysis/shelter-assignment", json={"zone": ZONE} | kw)


def roles(body) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in body["features"]:
        out.setdefault(f["properties"]["role"], []).append(f["properties"])
    return out


def test_the_assignment_is_optimal_and_within_capacity(client, places):
    r = post(client)
    assert r.status_code == 200, r.text
    got = roles(r.json())
    [summary] = got["summary"]
    assert (summary["people"], summary["assigned"], summary["unassigned"]) == (7, 6, 1)
    shelters = {s["asset_id"]: s for s in got["shelter"]}
    assert {a: s["reason"] for a, s in shelters.items()} == {
        "SAH1": None,
        "SAH2": None,
        "SAH3": None,
        "SAH4": "inside the zone",
        "SAH5": "status closed",
    }
    assert (shelters["SAH3"]["capacity_used"], shelters["SAH3"]["capacity_source"]) == (
        1,
        "area_m2 / 1 m² per person",
    )
    used = {a: 0 for a in shelters}
    for f in got["assignment"]:
        used[f["shelter"]] += f["people"]
    assert used["SAH4"] == used["SAH5"] == 0  # never a shelter in the zone or closed
    for a, s in shelters.items():
        assert s["assigned"] == used[a]
        assert s["reason"] is not None or used[a] <= s["capacity_used"]
    # Optimal: brute force over the same people, capacities and networkx road times.
    times = road_times()
    origins, usable = ["SAT1", "SAT2"], ["SAH1", "SAH2", "SAH3"]
    people = [TARGETS[o][1] for o in origins]
    capacity = [3, 2, 1]
    cost = {
        (i, j): times[TARGETS[o][0]][SHELTERS[s][0]]
        for i, o in enumerate(origins)
        for j, s in enumerate(usable)
    }
    housed, total = brute_force(people, capacity, cost)
    assert summary["assigned"] == housed
    assert summary["mean_time_s"] * housed == pytest.approx(total, abs=0.05 * housed)
    for f in got["assignment"]:
        i, j = origins.index(f["origin"]), usable.index(f["shelter"])
        assert f["duration_s"] == pytest.approx(cost[i, j], abs=0.01)
    [short] = [o for o in got["origin"] if o["unassigned"]]
    assert short["reason"] == "reachable shelters are full"
    assert {o["asset_id"] for o in got["origin"]} == {"SAT1", "SAT2"}  # SAT3 is outside


def test_fixed_shelters_need_2_m2_and_a_time_limit_leaves_people_out(client, places):
    fixed = roles(post(client, shelter_class="fixed").json())
    shelters = {s["asset_id"]: s for s in fixed["shelter"]}
    assert shelters["SAH3"]["reason"] == "capacity 0"
    assert fixed["summary"][0]["assigned"] == 5
    near = roles(post(client, max_time_s=25).json())
    times = road_times()
    assert times[(1, 0)][(2, 1)] < 25 < min(times[(0, 0)][s] for s in ((0, 2), (2, 1), (2, 2)))
    assert [(f["origin"], f["shelter"], f["people"]) for f in near["assignment"]] == [
        ("SAT2", "SAH2", 2)
    ]
    reasons = {o["asset_id"]: o["reason"] for o in near["origin"]}
    assert reasons == {
        "SAT1": "no usable shelter within reach",
        "SAT2": "reachable shelters are full",
    }


def test_bad_requests_are_refused(client, places):
    problem(post(client, search_m=0), 400, "search_m")
    problem(post(client, max_time_s=-5), 400, "max_time_s")
    problem(post(client, shelter_class="tent"), 422, "shelter_class")


@pytest.mark.parametrize("seed", range(12))
def test_min_cost_flow_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    no, ns = rng.integers(1, 4), rng.integers(1, 4)
    people = [int(p) for p in rng.integers(0, 4, no)]
    capacity = [int(c) for c in rng.integers(0, 4, ns)]
    cost = {
        (i, j): int(rng.integers(1, 100))
        for i in range(no)
        for j in range(ns)
        if rng.random() < 0.8
    }
    flows = min_cost_assignment(people, capacity, cost)
    for j, c in enumerate(capacity):
        assert sum(f for (_, s), f in flows.items() if s == j) <= c
    for i, p in enumerate(people):
        assert sum(f for (o, _), f in flows.items() if o == i) <= p
    housed, total = brute_force(people, capacity, cost)
    assert sum(flows.values()) == housed
    assert sum(f * cost[k] for k, f in flows.items()) == total


def test_places_between_nodes_drive_from_where_they_are(client, places, engine):
    """Two targets on one road, v20, a quarter and half way up: the edge is cut twice."""
    (x, y0), (_, y1) = node(2, 0), node(2, 1)
    quarter, mid = (x, y0 + 0.25 * (y1 - y0)), (x, y0 + 0.5 * (y1 - y0))
    with engine.begin() as c:
        for a, (px, py), pop in (("SAT4", mid, 2), ("SAT5", quarter, 1)):
            c.execute(
                text(
                    "INSERT INTO city.protected_targets (asset_id, name, kind, population, geom) "
                    "VALUES (:a, :a, 'school', :p, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": a, "p": pop, "x": px, "y": py},
            )
    zone = {
        "type": "Polygon",
        "coordinates": [
            [
                [x - 2e-4, y0 + 1e-4],
                [x + 2e-4, y0 + 1e-4],
                [x + 2e-4, y0 + 7e-4],
                [x - 2e-4, y0 + 7e-4],
                [x - 2e-4, y0 + 1e-4],
            ]
        ],
    }
    got = roles(client.post("/analysis/shelter-assignment", json={"zone": zone}).json())
    # The reference graph: v20 cut at the two places, pro rata by geodesic length.
    g = nx.DiGraph()
    for asset, a, b, speed, oneway in ROADS:
        chain = [node(*a), quarter, mid, node(*b)] if asset == "v20" else [node(*a), node(*b)]
        for p, q in zip(chain, chain[1:], strict=False):
            g.add_edge(p, q, weight=seg(p, q) / (speed / 3.6))
            if not oneway:
                g.add_edge(q, p, weight=seg(p, q) / (speed / 3.6))
    shelters = [s for s in got["shelter"] if s["usable"]]
    # SAH4 is outside this zone; SAH5 is still closed.
    assert {s["asset_id"] for s in shelters} == {"SAH1", "SAH2", "SAH3", "SAH4"}
    at = {a: node(*SHELTERS[a][0]) for a in ("SAH1", "SAH2", "SAH3", "SAH4")}
    origins = {"SAT4": (mid, 2), "SAT5": (quarter, 1)}
    names = sorted(at)
    cost = {
        (i, j): nx.dijkstra_path_length(g, origins[o][0], at[s])
        for i, o in enumerate(sorted(origins))
        for j, s in enumerate(names)
    }
    caps = [next(s["capacity_used"] for s in shelters if s["asset_id"] == a) for a in names]
    housed, total = brute_force([origins[o][1] for o in sorted(origins)], caps, cost)
    summary = got["summary"][0]
    assert (summary["assigned"], housed) == (3, 3)
    assert summary["mean_time_s"] * 3 == pytest.approx(total, abs=0.01)
    for f in got["assignment"]:
        i, j = sorted(origins).index(f["origin"]), names.index(f["shelter"])
        assert f["duration_s"] == pytest.approx(cost[i, j], abs=0.01)
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.protected_targets WHERE asset_id IN ('SAT4', 'SAT5')"))


def test_travel_times_agree_from_either_side(db_url, data):
    """Many origins to few shelters run on the reversed graph; both equal networkx's."""

    grid = [(i, j) for i in range(3) for j in range(3)]

    async def run() -> tuple[dict, dict, list]:
        engine = make_async_engine(db_url, pool_size=1)
        async with engine.connect() as conn, conn.begin():
            centre: tuple[str, dict] = ("ST_SetSRID(ST_MakePoint(121.001, 36.501), 4490)", {})
            await build_graph(conn, Catalog(), SYSTEM, None, centre, 1000)
            snapped = await snap_all(conn, [node(*n) for n in grid], 50)
            nodes = [s.node for s in snapped if s.node is not None]
            assert len(nodes) == len(grid)
            few = [nodes[grid.index((0, 2))], nodes[grid.index((2, 0))]]
            many_to_few = await travel_times(conn, nodes, few)
            few_to_many = await travel_times(conn, few, nodes)
        await engine.dispose()
        return many_to_few, few_to_many, nodes

    many_to_few, few_to_many, nodes = asyncio.run(run())
    ref = road_times()
    for a in grid:
        for b in ((0, 2), (2, 0)):
            va, vb = nodes[grid.index(a)], nodes[grid.index(b)]
            assert many_to_few[va, vb] == pytest.approx(ref[a][b], abs=0.001)
            assert few_to_many[vb, va] == pytest.approx(ref[b][a], abs=0.001)
    # The one-way h10 runs (2, 0) → (1, 0) only, so the two directions differ there.
    v10, v20 = nodes[grid.index((1, 0))], nodes[grid.index((2, 0))]
    assert many_to_few[v10, v20] > few_to_many[v20, v10] + 20
