"""Overlays: areas and lengths against shapely in a local equal-distance projection."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box

from tests.support.analysis import AUTH, D1, D2, PARK, node, problem, seg


def local_area(geom) -> float:
    c = geom.centroid
    t = Transformer.from_crs(
        4326, f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84", always_xy=True
    )
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(*xy.T))).area


def test_overlay_intersection_areas_and_attributes(client):
    r = client.post(
        "/analysis/overlay",
        json={
            "operation": "intersection",
            "a": {"layer": "logistics_parks"},
            "b": {"layer": "districts"},
        },
    )
    assert r.status_code == 200, r.text
    got = {f["properties"]["b_name"]: f["properties"] for f in r.json()["features"]}
    assert set(got) == {"West", "East"}
    for name, district in (("West", D1), ("East", D2)):
        ref = local_area(PARK.intersection(district))
        assert got[name]["area_m2"] == pytest.approx(ref, rel=1e-3)
        assert got[name]["a_name"] == "Port park" and got[name]["a_kind"] == "port"
        assert got[name]["b_asset_id"] in ("D1", "D2")


def test_overlay_difference_and_union_with_geometry(client):
    west_half = box(120.0, 36.0, 120.09, 36.1)
    b = {"geometry": shapely.geometry.mapping(west_half)}
    r = client.post(
        "/analysis/overlay",
        json={"operation": "difference", "a": {"layer": "logistics_parks"}, "b": b},
    )
    [f] = r.json()["features"]
    assert f["properties"]["area_m2"] == pytest.approx(
        local_area(PARK.difference(west_half)), rel=1e-3
    )
    r = client.post(
        "/analysis/overlay", json={"operation": "union", "a": {"layer": "logistics_parks"}, "b": b}
    )
    total = sum(f["properties"]["area_m2"] for f in r.json()["features"])
    assert total == pytest.approx(local_area(PARK.union(west_half)), rel=1e-3)


def test_overlay_pipe_length_by_utility_per_district(client):
    r = client.post(
        "/analysis/overlay",
        headers=AUTH,
        json={
            "operation": "intersection",
            "a": {"layer": "pipelines"},
            "b": {"layer": "districts"},
            "group_by": ["b_name", "a_utility"],
        },
    )
    assert r.status_code == 200, r.text
    got = {
        (f["properties"]["b_name"], f["properties"]["a_utility"]): f["properties"]
        for f in r.json()["features"]
    }
    expected = {
        ("West", "gas"): seg((120.02, 36.02), (120.08, 36.02)),
        ("West", "water"): seg((120.05, 36.05), (120.1, 36.05)),
        ("East", "water"): seg((120.1, 36.05), (120.15, 36.05))
        + seg((120.12, 36.08), (120.18, 36.08)),
    }
    assert set(got) == set(expected)
    for key, length in expected.items():
        assert got[key]["length_m"] == pytest.approx(length, abs=0.01)
    assert got[("East", "water")]["count"] == 2


def test_bad_overlay_and_result_requests_are_problems(client):
    body = {"operation": "intersection", "a": {"layer": "districts"}, "b": {"layer": "districts"}}
    problem(client.post("/analysis/overlay", json=body | {"group_by": ["c_name"]}), 400, "group_by")
    problem(client.post("/analysis/overlay", json=body | {"group_by": ["a_nope"]}), 400, "a_nope")
    problem(client.post("/analysis/overlay", json=body | {"operation": "clip"}), 422, "operation")
    problem(
        client.post("/analysis/overlay", json=body | {"b": {"layer": "pipelines"}}),
        403,
        "restricted",
    )
    problem(client.get("/results/00000000-0000-0000-0000-000000000000"), 404, "no live result")
    problem(client.get("/results/not-a-uuid"), 422, "result_id")
    problem(client.post("/lbs/isochrone", json={"from": list(node(0, 0))}), 422, "exactly one")
    problem(
        client.post("/lbs/isochrone", json={"from": list(node(0, 0)), "time_s": 1e6}), 400, "time_s"
    )
