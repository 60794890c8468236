"""Customers out in POST /analysis/isolate: service connections per stretch shut, or
WNTR's population estimate from EPANET demand, on a network drawn by hand in metres (a
local plane near 121.6 E, 37.6 N):

    R --sc1-- A --sc2-- B --sc3-- C      v1 on sc1 0.5 m from A; v2 on sc2 100 m from A
              ·         |                (splits it); v3 on sc3 0.4 m from B; v4 on sc4
              ·        sc4               0.3 m from B. R is the reservoir.
              ·         |
              ·         D

A break on sc2 beyond v2 shuts sc2's 100–300 m stretch (closing v2, v3, v4): sc3 and sc4
are left with no path to R, two cut-off zones. Customers: K1 on sc2 before v2 (stays on),
K2 on sc2 after v2 (isolated), K3 a hospital on sc3 (cut off), K4 with no pipe_id 10 m
beside sc4 (snapped; cut off), K5 on sc1 (on), K6 with no pipe_id 60 m from any pipe (not
placed), K7 a gas customer (another network), K8 on sc2 after v2 until 2020.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import wntr
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import text

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from loaders import load_frames
from loaders.epanet import read_epanet
from loaders.valve_layer import valve_points
from spatial_api import create_app
from spatial_api.analysis.isolation_customers import R_M3S_PER_PERSON
from tests.support.analysis import AUTH

PLANE = Transformer.from_crs(
    "+proj=aeqd +lat_0=37.6 +lon_0=121.6 +ellps=GRS80 +units=m", 4490, always_xy=True
)
SINCE = "tstzrange('2000-01-01', NULL)"
XY = {"scR": (0, 0), "scA": (200, 0), "scB": (500, 0), "scC": (800, 0), "scD": (500, -300)}
PIPES = {"sc1": ("scR", "scA"), "sc2": ("scA", "scB"), "sc3": ("scB", "scC"), "sc4": ("scB", "scD")}
VALVES = {"scv1": (199.5, 0), "scv2": (300, 0), "scv3": (500.4, 0), "scv4": (500, -0.3)}
# asset: (x, y), customer_id, kind, utility, pipe_id, people, critical_kind, name, valid
CUSTOMERS = {
    "K1": ((250, 5), "residential", "water", "sc2", 4, None, None, SINCE),
    "K2": ((450, -5), "residential", "water", "sc2", 120, None, "2号楼", SINCE),
    "K3": ((650, 8), "critical", "water", "sc3", 800, "hospital", "测试医院 (synthetic)", SINCE),
    "K4": ((490, -150), "commercial", "water", None, None, None, "便利店", SINCE),
    "K5": ((100, 3), "commercial", "water", "sc1", 30, None, None, SINCE),
    "K6": ((650, 60), "residential", "water", None, 7, None, None, SINCE),
    "K7": ((450, 0), "residential", "gas", "sc2", 999, None, None, SINCE),
    "K8": (
        (460, 5),
        "residential",
        "water",
        "sc2",
        50,
        None,
        None,
        "tstzrange('2005-01-01', '2020-01-01')",
    ),
}
BREAK = (400, 0)


def lonlat(x: float, y: float) -> tuple[float, float]:
    return PLANE.transform(x, y)


def point(x: float, y: float, z: str = "") -> str:
    lon, lat = lonlat(x, y)
    return f"SRID=4490;POINT{' Z' if z else ''}({lon} {lat}{z})"


@pytest.fixture(scope="module")
def drawn(engine, client):
    with engine.begin() as c:
        for n, xy in XY.items():
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valid, geom) "
                    f"VALUES (:a, 'water', :k, {SINCE}, ST_GeomFromEWKT(:g))"
                ),
                {"a": n, "k": "reservoir" if n == "scR" else "junction", "g": point(*xy, " -1")},
            )
        for v, xy in VALVES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valve_state, "
                    f"valid, geom) VALUES (:a, 'water', 'valve', 'open', {SINCE}, "
                    "ST_GeomFromEWKT(:g))"
                ),
                {"a": v, "g": point(*xy, " -1")},
            )
        for p, (a, b) in PIPES.items():
            (x0, y0), (x1, y1) = lonlat(*XY[a]), lonlat(*XY[b])
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, "
                    f"diameter_mm, valid, geom) VALUES (:p, 'water', :a, :b, 150, {SINCE}, "
                    "ST_GeomFromEWKT(:g))"
                ),
                {
                    "p": p,
                    "a": a,
                    "b": b,
                    "g": f"SRID=4490;LINESTRING Z({x0} {y0} -1, {x1} {y1} -1)",
                },
            )
        for k, (xy, kind, utility, pipe, people, critical, name, valid) in CUSTOMERS.items():
            c.execute(
                text(
                    "INSERT INTO city.service_connections (asset_id, customer_id, kind, "
                    "utility, pipe_id, people, critical_kind, name, valid, geom) VALUES "
                    f"(:a, :a, :k, :u, :p, :n, :c, :name, {valid}, ST_GeomFromEWKT(:g))"
                ),
                {
                    "a": k,
                    "k": kind,
                    "u": utility,
                    "p": pipe,
                    "n": people,
                    "c": critical,
                    "name": name,
                    "g": point(*xy),
                },
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.service_connections WHERE asset_id ~ '^K[0-9]$'"))
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id ~ '^sc[0-9]$'"))
        c.execute(text("DELETE FROM city.pipe_nodes WHERE asset_id ~ '^sc'"))


def isolate(client, headers=AUTH, **body) -> tuple[dict, list[dict]]:
    r = client.post("/analysis/isolate", headers=headers, json=body)
    assert r.status_code == 200, r.text
    summary, *rest = r.json()["features"]
    return summary["properties"], rest


def at_break(**more) -> dict:
    return {"point": list(lonlat(*BREAK)), "utility": "water", **more}


def zone_of(rest: list[dict], pipe: str) -> int:
    (zone,) = {
        f["properties"]["zone"]
        for f in rest
        if f["properties"]["role"] == "cut_off_pipe" and f["properties"]["asset_id"] == pipe
    }
    return zone


def test_customers_out_per_stretch_zone_and_kind(client, drawn):
    s, rest = isolate(client, **at_break())
    assert (s["close"], s["cut_off_zones"]) == (["scv2", "scv3", "scv4"], 2)
    z3, z4 = zone_of(rest, "sc3"), zone_of(rest, "sc4")
    assert {z3, z4} == {1, 2}
    customers = {
        f["properties"]["customer_id"]: f for f in rest if f["properties"]["role"] == "customer"
    }
    # K1 is on sc2 before v2: its stretch stays fed from R. K8 was disconnected in 2020.
    assert {
        k: (f["properties"]["out"], f["properties"]["pipe"], f["properties"]["zone"])
        for k, f in customers.items()
    } == {
        "K2": ("isolated", "sc2", None),
        "K3": ("cut_off", "sc3", z3),
        "K4": ("cut_off", "sc4", z4),
    }
    k2 = customers["K2"]["properties"]
    assert k2["position_m"] == pytest.approx(250, abs=0.01)
    assert (k2["kind"], k2["people"], k2["name"], k2["snap_distance_m"]) == (
        "residential",
        120,
        "2号楼",
        None,
    )
    assert customers["K4"]["properties"]["snap_distance_m"] == pytest.approx(10, abs=0.01)
    lon, lat = customers["K3"]["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx(lonlat(650, 8), abs=1e-8)
    assert {k: s[k] for k in s if "customers" in k or "people" in k} == {
        "customers_method": "service_connections layer",
        "customers_note": None,
        "customers_out": 3,
        "customers_out_by_kind": {"commercial": 1, "critical": 1, "residential": 1},
        "isolated_customers": 1,
        "cut_off_customers": 2,
        "people_out": 920,  # K4 serves an unknown number: counted as none
        "isolated_people": 120,
        "cut_off_people": 800,
        "customers_without_people": 1,
        "critical_customers": [
            {
                "customer_id": "K3",
                "name": "测试医院 (synthetic)",
                "critical_kind": "hospital",
                "pipe": "sc3",
                "role": "cut_off",
                "zone": z3,
            }
        ],
        "customers_snapped": 1,
        "customers_unplaced": 1,  # K6, 60 m from the nearest pipe
        "customers_snap_m": 30.0,
    }
    assert "customers" not in s


def test_customers_as_of_a_past_instant(client, drawn):
    s, rest = isolate(client, **at_break(datetime="2019-06-01T00:00:00Z"))
    out = sorted(
        (f["properties"]["customer_id"], f["properties"]["out"])
        for f in rest
        if f["properties"]["role"] == "customer"
    )
    assert out == [("K2", "isolated"), ("K3", "cut_off"), ("K4", "cut_off"), ("K8", "isolated")]
    assert (s["customers_out"], s["isolated_people"], s["people_out"]) == (4, 170, 970)


def test_a_break_by_pipe_id_puts_out_both_sides_of_its_valve(client, drawn):
    s, rest = isolate(client, pipe="sc2")
    assert s["close"] == ["scv1", "scv3", "scv4"]
    isolated = sorted(
        f["properties"]["customer_id"]
        for f in rest
        if f["properties"]["role"] == "customer" and f["properties"]["out"] == "isolated"
    )
    assert isolated == ["K1", "K2"]
    assert (s["isolated_customers"], s["cut_off_customers"], s["people_out"]) == (2, 2, 924)


def test_a_role_that_may_not_read_connections_gets_no_rows(db_url, engine, drawn, tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text('[roles.contractor]\nreads = ["pipelines", "pipe_nodes"]\nwrites = []\n')
    with TestClient(create_app(db_url, ServerSettings(roles_file=path), pool_size=2)) as c:
        token = create_token(engine, c.app.state.roles, "contractor", "customers-test", None)
        s, rest = isolate(c, {"Authorization": f"Bearer {token}"}, **at_break())
    assert s["close"] == ["scv2", "scv3", "scv4"]
    assert not [f for f in rest if f["properties"]["role"] == "customer"]
    assert s["customers_method"] == (
        "not counted: role 'contractor' may not read service_connections, and the water "
        "pipe_nodes in reach hold no EPANET demand (demand_m3s) to estimate them from"
    )
    assert (s["customers_out"], s["people_out"], s["critical_customers"]) == (None, None, [])


NET3 = Path(wntr.__file__).parent / "library" / "networks" / "Net3.inp"
NET3_CRS = "+proj=tmerc +lat_0=36.7 +lon_0=121.1 +x_0=-2600 +y_0=-1500 +ellps=GRS80 +to_meter=100"
SOURCE = "test-customers"


@pytest.fixture
def net3(db_url, engine):
    wn = wntr.network.WaterNetworkModel(str(NET3))
    layer = wntr.network.generate_valve_layer(wn, "random", 40, seed=123)
    frames = read_epanet(NET3, NET3_CRS)
    valves, refused = valve_points(layer, frames["pipelines"], 0.5)
    assert refused.empty
    nodes = pd.concat([frames["pipe_nodes"], valves], ignore_index=True)
    frames["pipe_nodes"] = gpd.GeoDataFrame(nodes, crs=frames["pipelines"].crs)
    load_frames(db_url, frames, source=f"{SOURCE}:Net3")
    yield wn
    with engine.begin() as c:
        for table in ("pipelines", "pipe_nodes"):
            c.execute(text(f"DELETE FROM city.{table} WHERE source LIKE '{SOURCE}:%'"))


def test_without_connections_people_are_estimated_as_wntr_does(client, net3):
    # Pipe 240 is in a segment of 2,530 people by wntr.metrics.population.
    s, rest = isolate(client, pipe="240", max_radius_m=20_000)
    population = wntr.metrics.population(net3, R=R_M3S_PER_PERSON)
    isolated = population.reindex(s["isolated_node_ids"]).fillna(0).sum()
    cut = (
        population.reindex(sorted(set(s["cut_off_node_ids"]) - set(s["isolated_node_ids"])))
        .fillna(0)
        .sum()
    )
    assert isolated == 2530, s  # the segment WNTR finds (test_isolation_wntr.py)
    assert (s["isolated_people"], s["cut_off_people"], s["people_out"]) == (
        int(isolated),
        int(cut),
        int(isolated + cut),
    )
    assert (s["cut_off_zones"], s["people_out"]) == (1, 2530 + 127)
    assert s["customers_method"].startswith("estimate: average EPANET demand")
    assert s["customers_note"] == "no service_connections of the water network within 20000 m"
    assert (s["customers_out"], s["customers_out_by_kind"]) == (None, {})
    assert not [f for f in rest if f["properties"]["role"] == "customer"]


def test_epanet_demand_is_stored_per_junction():
    nodes = read_epanet(NET3, NET3_CRS)["pipe_nodes"].set_index("asset_id")
    expected = wntr.metrics.average_expected_demand(wntr.network.WaterNetworkModel(str(NET3)))
    assert nodes.loc["15", "demand_m3s"] == pytest.approx(expected["15"])
    assert nodes.loc[["River", "1"], "demand_m3s"].isna().all()  # a reservoir, a tank
