"""Isolation with valves drawn as points on the pipes, a reservoir, stuck valves and
cut-off zones, on a network drawn by hand in metres (a local plane near 121.5 E, 37.5 N).

    R --q1-- A --q2-- B --q3-- C        w1 on q1 0.5 m from A; w2 on q2 100 m from A
             ·        |                 (splits it); w3 on q3 0.4 m from B; w4 on q4
             ·       q4                 0.3 m from B; w5 (closed) on q5 0.6 m from E;
             ·        |                 w7 1.5 m beside C, beyond the 1 m tolerance.
             ·        D --q5-- E        g1: a gas pipe 2 m north of q2, no valves.

R is the reservoir. E is behind a closed valve: dry before any break, so never a
cut-off zone of one. q3 is drawn from C to B, against its from_node/to_node.
"""

from __future__ import annotations

import math

import pytest
from pyproj import Transformer
from sqlalchemy import text

from tests.support.analysis import AUTH, problem

PLANE = Transformer.from_crs(
    "+proj=aeqd +lat_0=37.5 +lon_0=121.5 +ellps=GRS80 +units=m", 4490, always_xy=True
)
XY = {"R": (0, 0), "A": (200, 0), "B": (500, 0), "C": (800, 0), "D": (500, -300)}
XY["E"] = (800, -300)
KINDS = {"R": "reservoir"}
PIPES = {  # id: from, to, diameter
    "q1": ("R", "A", 300),
    "q2": ("A", "B", 200),
    "q3": ("B", "C", 150),
    "q4": ("B", "D", 100),
    "q5": ("D", "E", 100),
}
VALVES = {
    "w1": ((199.5, 0), "open"),
    "w2": ((300, 0), "open"),
    "w3": ((500.4, 0), "open"),
    "w4": ((500, -0.3), "open"),
    "w5": ((799.4, -300), "closed"),
    "w7": ((800, 1.5), "open"),
}


def lonlat(x: float, y: float) -> tuple[float, float]:
    return PLANE.transform(x, y)


def ewkt(*points: tuple[float, float]) -> str:
    coords = ", ".join("{} {} -1.2".format(*lonlat(*p)) for p in points)
    return f"SRID=4490;LINESTRING Z ({coords})"


def drawn_ends(pipe: str, a: str, b: str) -> tuple[tuple[float, float], ...]:
    """q3 is drawn from C to B, against its from/to: w3 must still act at B."""
    return (XY[b], XY[a]) if pipe == "q3" else (XY[a], XY[b])


def volume(d_mm: float, length: float) -> float:
    return math.pi * (d_mm / 1000) ** 2 / 4 * length


@pytest.fixture(scope="module")
def drawn(engine, client):
    with engine.begin() as c:
        for n, (x, y) in XY.items():
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, geom) VALUES "
                    "(:a, 'water', :k, ST_SetSRID(ST_MakePoint(:x, :y, -1.2), 4490))"
                ),
                {"a": n, "k": KINDS.get(n, "junction"), "x": lonlat(x, y)[0], "y": lonlat(x, y)[1]},
            )
        for v, ((x, y), state) in VALVES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valve_state, "
                    "geom) VALUES (:a, 'water', 'valve', :s, "
                    "ST_SetSRID(ST_MakePoint(:x, :y, -1.2), 4490))"
                ),
                {"a": v, "s": state, "x": lonlat(x, y)[0], "y": lonlat(x, y)[1]},
            )
        for k, (a, b, d) in PIPES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, "
                    "diameter_mm, geom) VALUES (:k, 'water', :a, :b, :d, ST_GeomFromEWKT(:g))"
                ),
                {"k": k, "a": a, "b": b, "d": d, "g": ewkt(*drawn_ends(k, a, b))},
            )
        c.execute(
            text(
                "INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, geom) "
                "VALUES ('g1', 'gas', 'G1', 'G2', ST_GeomFromEWKT(:g))"
            ),
            {"g": ewkt((200, 2), (500, 2))},
        )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id ~ '^(q[0-9]|g1)$'"))
        c.execute(text("DELETE FROM city.pipe_nodes WHERE asset_id ~ '^([RA-E]|w[0-9])$'"))


def isolate(client, **body) -> tuple[dict, list[dict]]:
    r = client.post("/analysis/isolate", headers=AUTH, json=body)
    assert r.status_code == 200, r.text
    summary, *rest = r.json()["features"]
    return summary["properties"], [f["properties"] for f in rest]


def by_role(rest: list[dict], role: str) -> dict[str, dict]:
    return {f["asset_id"]: f for f in rest if f["role"] == role}


BEYOND_B = 400  # a break on q2, on B's side of w2
CUT_OFF = {"q3": 300.0, "q4": 300.0, "q5": 300.0}


def test_a_valve_along_a_pipe_splits_it_and_cut_off_zones_are_counted(client, drawn):
    got, rest = isolate(client, point=lonlat(BEYOND_B, 0.5), utility="water")
    assert (got["broken_pipe"], got["close"], got["already_closed"]) == (
        "q2",
        ["w2", "w3", "w4"],
        [],
    )
    (q2,) = by_role(rest, "isolated_pipe").values()
    assert (q2["asset_id"], q2["whole_pipe"]) == ("q2", False)
    assert (q2["from_m"], q2["to_m"]) == pytest.approx((100.0, 300.0), abs=1e-3)
    assert q2["volume_m3"] == pytest.approx(volume(200, 200), rel=1e-5)
    assert got["isolated_node_ids"] == ["B"]
    # Past w3, C is a dead end; past w4, D and q5 (E is behind the closed w5): both dry.
    dry = by_role(rest, "cut_off_pipe")
    assert {k: f["length_m"] for k, f in dry.items()} == pytest.approx(CUT_OFF, abs=1e-3)
    assert {k: f["zone"] for k, f in dry.items()} == {"q3": 1, "q4": 2, "q5": 2}
    assert (got["cut_off_zones"], got["cut_off_node_ids"]) == (2, ["C", "D"])
    assert got["cut_off_volume_m3"] == pytest.approx(
        volume(150, 300) + 2 * volume(100, 300), rel=1e-5
    )
    assert (got["total_pipes"], got["total_nodes"]) == (4, 3)
    assert got["total_length_m"] == pytest.approx(1100.0, abs=1e-3)
    valves = by_role(rest, "close")
    assert {k: v["leads_to_cut_off"] for k, v in valves.items()} == {
        "w2": False,
        "w3": True,
        "w4": True,
    }
    assert {k: (v["placed"], v["pipe"], v["node"]) for k, v in valves.items()} == {
        "w2": ("along_pipe", "q2", None),
        "w3": ("pipe_end", "q3", "B"),
        "w4": ("pipe_end", "q4", "B"),
    }
    assert got["valves_beyond_tolerance"] == [
        {"valve": "w7", "nearest_pipe": "q3", "distance_m": pytest.approx(1.5, abs=1e-3)}
    ]
    assert (got["sources_in_reach"], got["cut_off_checked"], got["complete"]) == (1, True, True)


def test_a_break_by_pipe_id_shuts_the_whole_pipe(client, drawn):
    got, rest = isolate(client, pipe="q2")
    # w2 is inside what is shut: both its sides are out, so it need not close.
    assert (got["close"], got["isolated_node_ids"]) == (["w1", "w3", "w4"], ["A", "B"])
    assert got["isolated_length_m"] == pytest.approx(300.0, abs=1e-3)
    assert by_role(rest, "isolated_pipe")["q2"]["whole_pipe"] is True
    assert got["cut_off_zones"] == 2


def test_a_stuck_valve_adds_the_segment_beyond_and_the_next_valves_out(client, drawn):
    got, rest = isolate(
        client, point=lonlat(BEYOND_B, 0.5), utility="water", inoperable_valves=["w2"]
    )
    assert got["close"] == ["w1", "w3", "w4"]
    assert got["extensions"] == [
        {
            "valve": "w2",
            "cause": "inoperable",
            "pipes": ["q2"],
            "length_m": pytest.approx(100.0, abs=1e-3),
            "next_valves": ["w1"],
            "already_closed": [],
        }
    ]
    valves = {f["asset_id"]: f for f in rest if "valve_state" in f}
    assert valves["w2"]["role"] == "stuck_passed"
    assert {k: v["alternate_for"] for k, v in valves.items() if v["role"] == "close"} == {
        "w1": ["w2"],
        "w3": [],
        "w4": [],
    }
    stretches = sorted(
        (f["from_m"], f["to_m"], f["added_by"]) for f in rest if f["role"] == "isolated_pipe"
    )
    # The part w2 added is its own stretch, named by the stuck valve.
    assert [s[2] for s in stretches] == ["w2", None]
    assert [s[:2] for s in stretches] == [
        pytest.approx((0.0, 100.0), abs=1e-3),
        pytest.approx((100.0, 300.0), abs=1e-3),
    ]
    assert got["isolated_length_m"] == pytest.approx(300.0, abs=1e-3)

    # Stuck w4: D's side is added; w5 beyond it is already closed, so nothing more to close.
    got, _ = isolate(client, point=lonlat(BEYOND_B, 0.5), utility="water", inoperable_valves=["w4"])
    assert (got["close"], got["already_closed"]) == (["w2", "w3"], ["w5"])
    ext = got["extensions"][0]
    assert (ext["pipes"], ext["next_valves"], ext["already_closed"]) == (["q4", "q5"], [], ["w5"])
    assert (got["cut_off_zones"], got["cut_off_node_ids"]) == (1, ["C"])


def test_unknown_inoperable_valve_is_refused(client, drawn):
    problem(
        client.post(
            "/analysis/isolate", headers=AUTH, json={"pipe": "q2", "inoperable_valves": ["zz"]}
        ),
        400,
        "inoperable_valves: zz not among the network's valves within 3000 m of the break",
    )


def test_a_wider_tolerance_places_the_valve_beside_c(client, drawn):
    got, _ = isolate(client, pipe="q3", valve_tolerance_m=2)
    assert (got["close"], got["valves_beyond_tolerance"]) == (["w3", "w7"], [])
    # C is now behind w7: a node alone, out of water, without a pipe of its own.
    assert (got["cut_off_zones"], got["cut_off_pipes"], got["cut_off_node_ids"]) == (1, 0, ["C"])


def test_a_click_on_the_gas_pipe_isolates_the_utility_named(client, drawn):
    got, _ = isolate(client, point=lonlat(BEYOND_B, 1.8), utility="water")
    assert got["broken_pipe"] == "q2"
    problem(
        client.post(
            "/analysis/isolate",
            headers=AUTH,
            json={"point": lonlat(BEYOND_B, 0.2), "utility": "gas"},
        ),
        400,
        "no operable valve of the gas network within 3000 m of the break",
    )


def test_the_answer_saves_as_a_result_layer(client, drawn):
    r = client.post("/analysis/isolate", headers=AUTH, json={"pipe": "q2", "save": True})
    assert r.status_code == 200, r.text
    saved = client.get(r.json()["result"]["href"], headers=AUTH)
    assert saved.status_code == 200, saved.text
