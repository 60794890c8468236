"""Valve isolation: which valves close a pipe break off, on a hand-drawn network."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.support.analysis import AUTH, ewkt_line, problem

# N1 -p1- N2(open) -p2- N3 -p3- N4(broken) -p4- N5 -p5- N6(open) ; N3 -p6- N7(closed) -p7- N8
# and a gas pipe g1 from N3: another network, never crossed.
NET_NODES = {
    "N1": None,
    "N2": "open",
    "N3": None,
    "N4": "broken",
    "N5": None,
    "N6": "open",
    "N7": "closed",
    "N8": None,
}
NET_PIPES = [
    ("p1", "N1", "N2"),
    ("p2", "N2", "N3"),
    ("p3", "N3", "N4"),
    ("p4", "N4", "N5"),
    ("p5", "N5", "N6"),
    ("p6", "N3", "N7"),
    ("p7", "N7", "N8"),
]


SUMMARY = (
    "broken_pipe",
    "utility",
    "valves_to_close",
    "close",
    "already_closed",
    "isolated_pipes",
    "isolated_node_ids",
    "cut_off_zones",
    "complete",
)


def net_xy(n: str) -> tuple[float, float]:
    i = int(n[1:])
    return (122.0 + 0.001 * min(i, 6), 37.0) if i <= 6 else (122.002, 37.0 - 0.001 * (i - 6))


@pytest.fixture
def network(engine):
    with engine.begin() as c:
        for n, state in NET_NODES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valve_state, geom) "
                    "VALUES (:a, 'water', :k, :s, ST_SetSRID(ST_MakePoint(:x, :y, -1.5), 4490))"
                ),
                {
                    "a": n,
                    "k": "valve" if state else "junction",
                    "s": state,
                    "x": net_xy(n)[0],
                    "y": net_xy(n)[1],
                },
            )
        for asset, a, b, utility in [
            *(p + ("water",) for p in NET_PIPES),
            ("g1", "N3", "N9", "gas"),
        ]:
            (x0, y0), (x1, y1) = net_xy(a), net_xy(b if b != "N9" else "N1")
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, "
                    "geom) VALUES (:a, :u, :f, :t, ST_GeomFromEWKT(:g))"
                ),
                {
                    "a": asset,
                    "u": utility,
                    "f": a,
                    "t": b,
                    "g": ewkt_line((x0, y0), (x1, y1 - 0.0001), " -1.5"),
                },
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id ~ '^[pg][0-9]$'"))
        c.execute(text("DELETE FROM city.pipe_nodes WHERE asset_id ~ '^N[0-9]$'"))


def test_isolating_a_break_closes_the_nearest_operable_valves(client, network):
    r = client.post("/analysis/isolate", headers=AUTH, json={"pipe": "p3"})
    assert r.status_code == 200, r.text
    summary, *rest = r.json()["features"]
    roles = {f["properties"]["asset_id"]: f["properties"]["role"] for f in rest}
    assert {a for a, role in roles.items() if role == "close"} == {"N2", "N6"}
    assert {a for a, role in roles.items() if role == "already_closed"} == {"N7"}
    assert {a for a, role in roles.items() if role == "broken_passed"} == {"N4"}
    pipes = {a for a, role in roles.items() if role == "isolated_pipe"}
    assert pipes == {"p2", "p3", "p4", "p5", "p6"}  # not p1, p7 (beyond valves), not gas g1
    lengths = {
        f["properties"]["asset_id"]: f["properties"]["length_m"]
        for f in rest
        if f["properties"]["role"] == "isolated_pipe"
    }
    assert summary["properties"]["isolated_length_m"] == pytest.approx(sum(lengths.values()))
    got = summary["properties"]
    assert {k: got[k] for k in SUMMARY} == {
        "broken_pipe": "p3",
        "utility": "water",
        "valves_to_close": 2,
        "close": ["N2", "N6"],
        "already_closed": ["N7"],
        "isolated_pipes": 5,
        "isolated_node_ids": ["N3", "N4", "N5"],
        "cut_off_zones": 0,
        "complete": True,
    }
    # N4 is broken: passed through, to N6 beyond it.
    assert got["extensions"] == [
        {
            "valve": "N4",
            "cause": "broken",
            "pipes": ["p4", "p5"],
            "length_m": pytest.approx(lengths["p4"] + lengths["p5"]),
            "next_valves": ["N6"],
            "already_closed": [],
        }
    ]
    # A point beside p5 finds p5: the same section, bounded by the same valves.
    x, y = net_xy("N5")
    near = client.post(
        "/analysis/isolate",
        headers=AUTH,
        json={"point": [x + 0.0005, y + 0.0001], "utility": "water"},
    ).json()["features"]
    assert near[0]["properties"]["broken_pipe"] == "p5"
    assert {
        f["properties"]["asset_id"] for f in near[1:] if f["properties"]["role"] == "close"
    } == {"N2", "N6"}
    # A search radius that stops inside the section (N2 in reach, N6 not) says it is incomplete.
    small = client.post(
        "/analysis/isolate", headers=AUTH, json={"pipe": "p3", "max_radius_m": 150}
    ).json()["features"]
    assert small[0]["properties"]["complete"] is False


def test_isolation_errors(client, network):
    problem(client.post("/analysis/isolate", json={"pipe": "p3"}), 403, "restricted")
    problem(
        client.post("/analysis/isolate", headers=AUTH, json={"pipe": "nope"}), 404, "no pipe 'nope'"
    )
    problem(
        client.post(
            "/analysis/isolate", headers=AUTH, json={"point": [100.0, 10.0], "utility": "water"}
        ),
        404,
        "no water pipe within 50 m of the point (nearest is",
    )
    r = client.post("/analysis/isolate", headers=AUTH, json={"pipe": "p3", "point": [1, 2]})
    assert r.status_code == 422
    problem(
        client.post("/analysis/isolate", headers=AUTH, json={"pipe": "p3", "max_radius_m": 10**6}),
        400,
        "max_radius_m",
    )


# On g1 (gas), 2 m from p1 (water): the click is where a crew would put it on a street.
ON_GAS_BESIDE_WATER = [122.0018, 36.99994]


def test_a_break_at_a_point_isolates_the_utility_named(client, network):
    water = client.post(
        "/analysis/isolate", headers=AUTH, json={"point": ON_GAS_BESIDE_WATER, "utility": "water"}
    ).json()["features"]
    assert (water[0]["properties"]["broken_pipe"], water[0]["properties"]["utility"]) == (
        "p1",
        "water",
    )
    close = {f["properties"]["asset_id"] for f in water[1:] if f["properties"]["role"] == "close"}
    pipes = {
        f["properties"]["asset_id"] for f in water[1:] if f["properties"]["role"] == "isolated_pipe"
    }
    assert (close, pipes) == ({"N2"}, {"p1"})


def test_a_break_at_a_point_needs_its_utility(client, network):
    r = client.post("/analysis/isolate", headers=AUTH, json={"point": ON_GAS_BESIDE_WATER})
    assert r.status_code == 422
    assert "needs its `utility`" in r.json()["detail"]
    bad = client.post(
        "/analysis/isolate", headers=AUTH, json={"point": ON_GAS_BESIDE_WATER, "utility": "oil"}
    )
    assert bad.status_code == 422 and "utility" in bad.json()["detail"]


def test_a_network_without_operable_valves_is_refused_saying_so(client, network):
    problem(
        client.post(
            "/analysis/isolate", headers=AUTH, json={"point": ON_GAS_BESIDE_WATER, "utility": "gas"}
        ),
        400,
        "no operable valve of the gas network within 3000 m of the break",
    )
    problem(
        client.post("/analysis/isolate", headers=AUTH, json={"pipe": "g1"}),
        400,
        "cannot be isolated by valves",
    )


def test_a_pipe_without_topology_is_refused_saying_so(client, network, engine):
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO city.pipelines (asset_id, utility, geom) "
                "VALUES ('x1', 'water', ST_GeomFromEWKT(:g))"
            ),
            {"g": ewkt_line((122.001, 37.0002), (122.002, 37.0002), " -1.5")},
        )
    try:
        problem(
            client.post("/analysis/isolate", headers=AUTH, json={"pipe": "x1"}),
            400,
            "pipe 'x1' has no from_node/to_node: the network's topology is unknown",
        )
        # Beside a pipe that has topology, it is left out and counted.
        r = client.post("/analysis/isolate", headers=AUTH, json={"pipe": "p3"})
        assert r.json()["features"][0]["properties"]["pipes_without_topology"] == 1
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM city.pipelines WHERE asset_id = 'x1'"))


def test_a_pipe_of_another_utility_than_named_is_refused(client, network):
    problem(
        client.post("/analysis/isolate", headers=AUTH, json={"pipe": "p3", "utility": "gas"}),
        400,
        "utility: pipe 'p3' is a water pipe, not gas",
    )
