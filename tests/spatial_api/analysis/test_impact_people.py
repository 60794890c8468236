"""Impact's people from the population layer, its gas valves to close, and shelter
assignment fed by population cells, on constructed data.

People: two cells at 125 E, 39 N, one half inside the zone (split along a meridian
through its centre, so its halves have equal geodesic areas: half its people).
Gas: a hand-drawn network at 124 E, 38 N whose valve segments are known by hand.
"""

from __future__ import annotations

import pytest
from shapely.geometry import box, mapping
from sqlalchemy import text

from spatial_api.analysis import gas_valves
from spatial_api.analysis.segments import segment_network
from tests.support.analysis import AUTH, GEOD, ewkt_line, ewkt_poly, node, problem

CELLS = {  # asset: polygon, people, basis
    "PPC1": (box(125.000, 39.000, 125.002, 39.002), 1000, "residents"),
    "PPC2": (box(125.002, 39.000, 125.004, 39.002), 400, "residents"),
    "PPC3": (box(125.010, 39.000, 125.012, 39.002), 999, "daytime"),  # outside
    # For the shelter assignment on the analysis road grid (tests.support.analysis):
    "PPQ1": (box(120.9995, 36.4995, 121.0005, 36.5005), 4, "residents"),  # inside
    "PPQ2": (box(121.0010, 36.4995, 121.0020, 36.5005), 6, "residents"),  # half inside
}
SOURCE = "constructed grid (test)"
INNER = box(125.001, 38.999, 125.002, 39.003)  # the east half of PPC1
OUTER = box(125.001, 38.999, 125.0045, 39.003)  # and the whole of PPC2

# Gas along 38 N: N0 (source) -G1- N1 (valve) -G2- N2 -G3- N3 -G4- N4 (valve) -G5- N5,
# and G6 from N2 south to N6 with the valve point V7 half-way along it.
GAS_NODES = {  # asset: kind, (lon, lat)
    "GN0": ("source", (124.000, 38.0)),
    "GN1": ("valve", (124.001, 38.0)),
    "GN2": ("junction", (124.002, 38.0)),
    "GN3": ("junction", (124.003, 38.0)),
    "GN4": ("valve", (124.004, 38.0)),
    "GN5": ("junction", (124.005, 38.0)),
    "GN6": ("junction", (124.002, 37.998)),
    "GV7": ("valve", (124.002, 37.999)),  # on G6, not a node of the topology
}
GAS_PIPES = {
    "GG1": ("GN0", "GN1"),
    "GG2": ("GN1", "GN2"),
    "GG3": ("GN2", "GN3"),
    "GG4": ("GN3", "GN4"),
    "GG5": ("GN4", "GN5"),
    "GG6": ("GN2", "GN6"),
}
ACROSS_G3 = box(124.0025, 37.9995, 124.0028, 38.0005)
ACROSS_G3_TO_G5 = box(124.0025, 37.9995, 124.0045, 38.0005)
SHELTER_ZONE = box(120.9995, 36.4995, 121.0015, 36.5005)  # test_shelter_assignment's ZONE


def geod(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(*a, *b)[2]


@pytest.fixture(scope="module")
def city(engine, data):
    with engine.begin() as c:
        for a, (poly, people, basis) in CELLS.items():
            c.execute(
                text(
                    "INSERT INTO city.population (asset_id, people, basis, source_name, geom) "
                    "VALUES (:a, :p, :b, :s, ST_GeomFromEWKT(:g))"
                ),
                {"a": a, "p": people, "b": basis, "s": SOURCE, "g": ewkt_poly(poly)},
            )
        for a, (kind, (x, y)) in GAS_NODES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valve_state, "
                    "geom) VALUES (:a, 'gas', :k, :s, ST_SetSRID(ST_MakePoint(:x, :y, -1), 4490))"
                ),
                {"a": a, "k": kind, "s": "open" if kind == "valve" else None, "x": x, "y": y},
            )
        for a, (f, t) in GAS_PIPES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, geom) "
                    "VALUES (:a, 'gas', :f, :t, ST_GeomFromEWKT(:g))"
                ),
                {"a": a, "f": f, "t": t, "g": ewkt_line(GAS_NODES[f][1], GAS_NODES[t][1], " -1")},
            )
        for a, (i, j), cap in (("PPH1", (0, 2), 3), ("PPH2", (2, 1), 10)):
            c.execute(
                text(
                    "INSERT INTO city.shelters (asset_id, name, capacity, status, geom) "
                    "VALUES (:a, :a, :c, 'open', ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": a, "c": cap, "x": node(i, j)[0], "y": node(i, j)[1]},
            )
        for a, kind, (i, j) in (("PPF1", "fire_station", (0, 2)), ("PPF2", "hospital", (2, 1))):
            c.execute(
                text(
                    "INSERT INTO city.emergency_resources (asset_id, name, kind, geom) "
                    "VALUES (:a, :a, :k, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": a, "k": kind, "x": node(i, j)[0], "y": node(i, j)[1]},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.emergency_resources WHERE asset_id LIKE 'PP%'"))
        c.execute(text("DELETE FROM city.population WHERE asset_id LIKE 'PP%'"))
        c.execute(text("DELETE FROM city.pipe_nodes WHERE asset_id LIKE 'G%'"))
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id LIKE 'GG%'"))
        c.execute(text("DELETE FROM city.shelters WHERE asset_id LIKE 'PPH%'"))


def impact(client, zone, **kw) -> dict:
    r = client.post("/analysis/impact", json={"zone": zone} | kw, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def rings(inner, outer) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": mapping(g), "properties": {"zone": name}}
            for name, g in (("inner", inner), ("outer", outer))
        ],
    }


def summaries(body: dict) -> list[dict]:
    return [
        f["properties"] for f in body["features"] if f["properties"]["role"] in ("ring", "total")
    ]


def test_a_half_covered_cell_counts_half_its_people(client, city):
    inner, outer, total = summaries(impact(client, rings(INNER, OUTER)))
    assert inner["population"] == pytest.approx(500, rel=0.005)
    assert outer["population"] == pytest.approx(400, rel=0.005)
    assert total["population"] == pytest.approx(900, rel=0.005)
    assert (inner["population_cells"], outer["population_cells"], total["population_cells"]) == (
        1,
        1,
        2,
    )
    assert total["population_basis"] == ["residents"]
    assert total["population_sources"] == [SOURCE]
    assert "area-weighted" in total["population_method"]
    assert total["people"] == 0  # protected targets' occupants: none here


def test_with_no_population_cells_people_are_null_not_zero(client, city):
    # The cells are valid from their insertion: in 2000 the layer held none.
    [_, zone] = summaries(impact(client, mapping(OUTER), datetime="2000-01-01T00:00:00Z"))
    assert zone["population"] is None and zone["population_cells"] is None
    assert "no cells" in zone["population_method"]
    # Cells loaded, but none in the zone: nobody counted there is 0.
    empty = box(125.02, 39.02, 125.03, 39.03)
    [_, far] = summaries(impact(client, mapping(empty)))
    assert (far["population"], far["population_cells"]) == (0, 0)
    # Not asked for: null too.
    [_, other] = summaries(impact(client, mapping(OUTER), layers=["roads"]))
    assert other["population"] is None and other["population_method"] is None


def gas(body: dict) -> tuple[dict, dict[str, str]]:
    total = next(p for p in summaries(body) if p["role"] == "total")
    valves = {
        f["properties"]["asset_id"]: f["properties"]["action"]
        for f in body["features"]
        if f["properties"]["role"] == "gas_valve"
    }
    return total, valves


def test_gas_valves_to_close_cut_every_gas_pipe_crossing_the_zone(client, city):
    total, valves = gas(impact(client, mapping(ACROSS_G3), layers=["pipelines"]))
    assert total["gas_pipes_crossing"] == 1
    assert total["gas_close"] == ["GN1", "GN4", "GV7"]
    assert valves == {"GN1": "close", "GN4": "close", "GV7": "close"}
    assert total["gas_pipe_ids"] == ["GG2", "GG3", "GG4", "GG6"]
    x = lambda n: GAS_NODES[n][1]  # noqa: E731
    length = geod(x("GN1"), x("GN4")) + geod(x("GN2"), x("GV7"))
    assert total["gas_shut_off_m"] == pytest.approx(length, rel=1e-4)
    # Downstream of the closures, with no path to the source GN0: G5 and G6 past GV7.
    assert (total["gas_cut_off_zones"], total["gas_cut_off_pipes"]) == (2, 2)
    cut = geod(x("GN4"), x("GN5")) + geod(x("GV7"), x("GN6"))
    assert total["gas_cut_off_m"] == pytest.approx(cut, rel=1e-4)
    assert (total["gas_shut_off_nodes"], total["gas_cut_off_nodes"]) == (2, 2)  # GN2-3, GN5-6
    assert total["gas_complete"] is True
    # G3, G4 and G5 cross: G5's segment joins the shut region, so GN4, with shut pipes on
    # both sides, needs no closing.
    total, valves = gas(impact(client, mapping(ACROSS_G3_TO_G5), layers=["pipelines"]))
    assert total["gas_pipes_crossing"] == 3
    assert total["gas_close"] == ["GN1", "GV7"]
    assert total["gas_pipe_ids"] == ["GG2", "GG3", "GG4", "GG5", "GG6"]
    # A stuck valve is passed through to the next one out (there is none beyond GV7).
    stuck = {"inoperable_valves": ["GV7"]}
    total, valves = gas(impact(client, mapping(ACROSS_G3), layers=["pipelines"], gas=stuck))
    assert (total["gas_close"], total["gas_stuck_passed"]) == (["GN1", "GN4"], ["GV7"])
    assert valves["GV7"] == "stuck_passed"
    length = geod(x("GN1"), x("GN4")) + geod(x("GN2"), x("GN6"))
    assert total["gas_shut_off_m"] == pytest.approx(length, rel=1e-4)


def test_the_gas_network_is_segmented_once_per_request(client, city, monkeypatch):
    calls = []

    def counted(*args, **kw):
        calls.append(1)
        return segment_network(*args, **kw)

    monkeypatch.setattr(gas_valves, "segment_network", counted)
    total, _ = gas(impact(client, mapping(ACROSS_G3_TO_G5), layers=["pipelines"]))
    assert (total["gas_pipes_crossing"], len(calls)) == (3, 1)


def test_gas_valves_need_the_pipes_and_an_instant(client, city):
    anon = client.post("/analysis/impact", json={"zone": mapping(ACROSS_G3)}).json()
    total = next(p for p in summaries(anon) if p["role"] == "total")
    assert total["gas_valves_to_close"] is None and total["withheld"] == [
        "hazard_sources",
        "pipelines",
    ]
    during = "2020-01-01T00:00:00Z/2030-01-01T00:00:00Z"
    total, _ = gas(impact(client, mapping(ACROSS_G3), layers=["pipelines"], datetime=during))
    assert total["gas_valves_to_close"] is None and "instant" in total["gas_note"]
    problem(
        client.post(
            "/analysis/impact",
            json={"zone": mapping(ACROSS_G3), "gas": {"inoperable_valves": ["NOPE"]}},
            headers=AUTH,
        ),
        400,
        "NOPE",
    )


def test_shelters_take_the_people_of_the_population_cells_in_the_zone(client, city):
    r = client.post("/analysis/shelter-assignment", json={"zone": mapping(SHELTER_ZONE)})
    assert r.status_code == 200, r.text
    props = [f["properties"] for f in r.json()["features"]]
    [summary] = [p for p in props if p["role"] == "summary"]
    assert (summary["people"], summary["people_source"]) == (7, "population")  # 4 + 6/2
    origins = {p["asset_id"]: p for p in props if p["role"] == "origin"}
    assert {k: o["people"] for k, o in origins.items()} == {"PPQ1": 4, "PPQ2": 3}
    assert origins["PPQ2"]["share"] == pytest.approx(0.5, rel=0.005)
    used: dict[str, int] = {}
    for p in props:
        if p["role"] == "assignment":
            used[p["shelter"]] = used.get(p["shelter"], 0) + p["people"]
    assert summary["assigned"] == sum(used.values()) == 7
    assert used.get("PPH1", 0) <= 3
    typed = {"zone": mapping(SHELTER_ZONE), "origins": [{"point": node(0, 0), "people": 5}]}
    body = client.post("/analysis/shelter-assignment", json=typed).json()
    [summary] = [f["properties"] for f in body["features"] if f["properties"]["role"] == "summary"]
    assert (summary["people"], summary["people_source"], summary["assigned"]) == (5, "origins", 5)


def test_responders_come_from_emergency_resources_by_default(client, city):
    body = {"scene": list(node(1, 1)), "filter": {"kind": "fire_station"}, "k": 2}
    r = client.post("/analysis/responders", json=body)
    assert r.status_code == 200, r.text
    points = [
        f["properties"] for f in r.json()["features"] if f["properties"]["role"] == "responder"
    ]
    assert [(p["asset_id"], p["kind"]) for p in points] == [("PPF1", "fire_station")]
