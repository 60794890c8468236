"""Traces on hand-drawn networks: drainage by invert levels, water away from its source."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.support.analysis import AUTH, problem

# Drainage, Z = invert level at each end. d4 is recorded M5 → M4 but falls M4 (8 m) → M5
# (7 m): by levels it drains d3 on to d5; by from/to it would drain nothing.
# d6 is drawn against its from/to (the line starts at M7).
#   M1 -d1-\
#           M3 -d3- M4 -d4- M5 -d5- M6
#   M2 -d2-/                                  -d6- M7
DRAIN_NODES = {
    "M1": (123.000, 37.0000),
    "M2": (123.000, 37.0010),
    "M3": (123.001, 37.0005),
    "M4": (123.002, 37.0005),
    "M5": (123.003, 37.0005),
    "M6": (123.004, 37.0005),
    "M7": (123.005, 37.0005),
}
DRAIN_PIPES = [  # asset, from, to, Z at from, Z at to
    ("d1", "M1", "M3", 10.0, 9.0),
    ("d2", "M2", "M3", 10.0, 9.0),
    ("d3", "M3", "M4", 9.0, 8.0),
    ("d4", "M5", "M4", 7.0, 8.0),
    ("d5", "M5", "M6", 7.0, 6.0),
    ("d6", "M6", "M7", 6.0, 5.0),  # drawn M7 → M6: its levels are read from the nodes' ends
]
# Water from reservoir W0. w2 is recorded W2 → W1 though W1 is nearer the source.
#   W0 -w1- W1 -w3- W3 -w4- W4
#            \-w2- W2 -w5- W5        and a gas pipe x1 beside w5, never crossed.
WATER_NODES = {
    "W0": (123.500, 37.000, "reservoir"),
    "W1": (123.501, 37.000, "junction"),
    "W2": (123.501, 36.999, "junction"),
    "W3": (123.502, 37.000, "junction"),
    "W4": (123.503, 37.000, "junction"),
    "W5": (123.502, 36.999, "junction"),
}
WATER_PIPES = [("w1", "W0", "W1"), ("w2", "W2", "W1"), ("w3", "W1", "W3")]
WATER_PIPES += [("w4", "W3", "W4"), ("w5", "W2", "W5")]


def _line(a: tuple, b: tuple, za: float, zb: float) -> str:
    return f"SRID=4490;LINESTRING({a[0]} {a[1]} {za}, {b[0]} {b[1]} {zb})"


@pytest.fixture
def networks(engine):
    nodes = [(n, "drainage", "manhole", *xy) for n, xy in DRAIN_NODES.items()]
    nodes += [(n, "water", kind, x, y) for n, (x, y, kind) in WATER_NODES.items()]
    pipes = [(a, "drainage", f, t, za, zb) for a, f, t, za, zb in DRAIN_PIPES if a != "d6"]
    pipes += [(a, "water", f, t, -1.5, -1.5) for a, f, t in WATER_PIPES]
    at = {n: (x, y) for n, _, _, x, y in nodes}
    with engine.begin() as c:
        for n, utility, kind, x, y in nodes:
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, geom) "
                    "VALUES (:a, :u, :k, ST_SetSRID(ST_MakePoint(:x, :y, -1.5), 4490))"
                ),
                {"a": n, "u": utility, "k": kind, "x": x, "y": y},
            )
        gas = ("x1", "gas", "G1", "G2", (123.501, 36.99899), (123.502, 36.99899))
        rows = [(a, u, f, t, _line(at[f], at[t], za, zb)) for a, u, f, t, za, zb in pipes]
        rows.append((*gas[:4], _line(gas[4], gas[5], -1.0, -1.0)))
        rows.append(("d6", "drainage", "M6", "M7", _line(at["M7"], at["M6"], 5.0, 6.0)))
        for a, u, f, t, g in rows:
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, geom) "
                    "VALUES (:a, :u, :f, :t, ST_GeomFromEWKT(:g))"
                ),
                {"a": a, "u": u, "f": f, "t": t, "g": g},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id ~ '^[dwx][0-9]$'"))
        c.execute(text("DELETE FROM city.pipe_nodes WHERE asset_id ~ '^[MW][0-9]$'"))


def trace(client, **body) -> tuple[dict, dict[str, int], list[str]]:
    r = client.post("/analysis/trace", headers=AUTH, json=body)
    assert r.status_code == 200, r.text
    summary, *rest = r.json()["features"]
    pipes = {
        f["id"]: f["properties"]["depth"] for f in rest if f["properties"]["role"] == "traced_pipe"
    }
    nodes = [f["id"] for f in rest if f["properties"]["role"] == "traced_node"]
    return summary["properties"], pipes, nodes


def test_drainage_flows_by_invert_levels(client, networks):
    got, pipes, nodes = trace(client, pipe="d1", direction="downstream")
    assert pipes == {"d1": 0, "d3": 1, "d4": 2, "d5": 3, "d6": 4}  # d4 by levels, not from/to
    assert nodes == ["M1", "M3", "M4", "M5", "M6", "M7"]
    assert got["pipes"] == 5 and got["max_depth"] == 4 and got["complete"] is True
    assert got["utility"] == "drainage"
    _, up, _ = trace(client, pipe="d5", direction="upstream")
    assert up == {"d5": 0, "d4": 1, "d3": 2, "d1": 3, "d2": 3}
    _, up, _ = trace(client, pipe="d4", direction="downstream")
    assert up == {"d4": 0, "d5": 1, "d6": 2}
    _, from_node, _ = trace(client, node="M3", direction="downstream")
    assert from_node == {"d3": 0, "d4": 1, "d5": 2, "d6": 3}
    _, up, _ = trace(client, pipe="d6", direction="upstream")
    assert set(up) == {"d6", "d5", "d4", "d3", "d2", "d1"}
    _, up, _ = trace(client, node="M3", direction="upstream")
    assert up == {"d1": 0, "d2": 0}


def test_water_flows_away_from_its_source(client, networks):
    assert set(trace(client, pipe="w1", direction="downstream")[1]) == {
        "w1",
        "w2",
        "w3",
        "w4",
        "w5",
    }
    assert set(trace(client, pipe="w2", direction="downstream")[1]) == {"w2", "w5"}
    assert set(trace(client, pipe="w4", direction="upstream")[1]) == {"w4", "w3", "w1"}
    assert set(trace(client, pipe="w5", direction="upstream")[1]) == {"w5", "w2", "w1"}
    got, connected, nodes = trace(client, pipe="w5", direction="connected")
    assert set(connected) == {"w1", "w2", "w3", "w4", "w5"}  # not the gas pipe x1
    assert nodes == ["W0", "W1", "W2", "W3", "W4", "W5"]
    r = client.post("/analysis/trace", headers=AUTH, json={"pipe": "w5", "direction": "connected"})
    lengths = [f["properties"]["length_m"] for f in r.json()["features"][1:6]]
    assert got["length_m"] == pytest.approx(sum(lengths))


def test_a_point_snaps_to_the_utility_named(client, networks):
    # Nearer the gas pipe x1 than to w5: the water trace still starts on w5.
    got, pipes, _ = trace(
        client, point=[123.5015, 36.998993], utility="water", direction="downstream"
    )
    assert got["start_pipe"] == "w5" and set(pipes) == {"w5"}
    got, _, _ = trace(client, point=[123.5015, 36.99899], utility="gas", direction="connected")
    assert got["start_pipe"] == "x1"


def test_trace_saved_as_a_result_layer(client, networks):
    r = client.post(
        "/analysis/trace", headers=AUTH, json={"pipe": "d1", "direction": "upstream", "save": True}
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"]["collection"].startswith("/collections/result-")


def test_trace_errors(client, networks):
    problem(
        client.post("/analysis/trace", json={"pipe": "d1", "direction": "upstream"}),
        403,
        "restricted",
    )
    bad = [
        ({"pipe": "d1"}, "direction"),
        ({"pipe": "d1", "direction": "sideways"}, "direction"),
        ({"pipe": "d1", "node": "M1", "direction": "upstream"}, "exactly one"),
        ({"point": [123.0, 37.0], "direction": "upstream"}, "utility"),
    ]
    for body, word in bad:
        problem(client.post("/analysis/trace", headers=AUTH, json=body), 422, word)
    period = {"pipe": "d1", "direction": "upstream", "datetime": "2024-01-01/2025-01-01"}
    problem(client.post("/analysis/trace", headers=AUTH, json=period), 400, "an instant")
    # As of a time before the network was laid, there is nothing to trace.
    past = {"pipe": "d1", "direction": "upstream", "datetime": "2000-01-01T00:00:00Z"}
    problem(client.post("/analysis/trace", headers=AUTH, json=past), 404, "'d1'")
    wrong = {"pipe": "d1", "utility": "water", "direction": "upstream"}
    problem(client.post("/analysis/trace", headers=AUTH, json=wrong), 400, "a drainage pipe")
    problem(
        client.post("/analysis/trace", headers=AUTH, json={"node": "Q9", "direction": "upstream"}),
        404,
        "Q9",
    )


def test_a_pump_flows_from_node_to_node_only(client, networks, engine):
    # Pump w6 recorded W6 → W4: it feeds W4, and the source's water cannot pass it to W6.
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, geom) VALUES "
                "('W6', 'water', 'junction', ST_SetSRID(ST_MakePoint(123.504, 37, -1.5), 4490))"
            )
        )
        c.execute(
            text(
                "INSERT INTO city.pipelines (asset_id, utility, link_kind, from_node, to_node, "
                "geom) VALUES ('w6', 'water', 'pump', 'W6', 'W4', ST_GeomFromEWKT(:g))"
            ),
            {"g": _line((123.504, 37.0), (123.503, 37.0), -1.5, -1.5)},
        )
    assert set(trace(client, pipe="w4", direction="downstream")[1]) == {"w4"}
    assert set(trace(client, node="W4", direction="upstream")[1]) == {"w4", "w3", "w1", "w6"}
    assert set(trace(client, node="W6", direction="downstream")[1]) == {"w6"}  # W4 is a leaf
