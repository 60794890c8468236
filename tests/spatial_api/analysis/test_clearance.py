"""Clearances between buried pipes, side by side and crossing, and for a planned one."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import text

from tests.support.analysis import AUTH, ewkt_line, problem, seg

CX, CY = 122.10, 37.10
M_LAT = 1 / 110_960  # degrees of latitude per metre, near 37°N


@pytest.fixture
def buried(engine):
    """W1 (water, DN300, z −1.5); G1 (gas, DN200, z −1.2) 0.8 m north of it; D1 (drainage,
    DN400, z −1.9) crossing both; F1 far away."""
    # Short pipes (180 m), so a straight pipe and a parallel of latitude differ by < 1 mm.
    w, e = CX + 0.004, CX + 0.006
    pipes = [
        ("W1", "water", 300, (w, CY), (e, CY), -1.5),
        ("G1", "gas", 200, (w, CY + 0.8 * M_LAT), (e, CY + 0.8 * M_LAT), -1.2),
        ("D1", "drainage", 400, (CX + 0.005, CY - 0.001), (CX + 0.005, CY + 0.001), -1.9),
        ("F1", "water", 100, (w, CY + 0.001), (e, CY + 0.001), -1.0),
    ]
    with engine.begin() as c:
        for asset, utility, d, a, b, z in pipes:
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, diameter_mm, geom) "
                    "VALUES (:a, :u, :d, ST_GeomFromEWKT(:g))"
                ),
                {"a": asset, "u": utility, "d": d, "g": ewkt_line(a, b, f" {z}")},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id IN ('W1','G1','D1','F1')"))


def test_clearances_in_a_dig_side_by_side_and_crossing(client, buried):
    area = box(CX + 0.004, CY - 0.0005, CX + 0.006, CY + 0.0005)
    r = client.post(
        "/analysis/clearance", headers=AUTH, json={"area": shapely.geometry.mapping(area)}
    )
    assert r.status_code == 200, r.text
    got = {
        (f["properties"]["a"], f["properties"]["b"]): f["properties"] for f in r.json()["features"]
    }
    assert list(got) == [("D1", "G1"), ("D1", "W1"), ("G1", "W1")]
    side = got[("G1", "W1")]
    gap = seg((CX, CY), (CX, CY + 0.8 * M_LAT))
    assert not side["crossing"]
    assert side["horizontal_m"] == pytest.approx(gap - 0.25, abs=0.002)
    assert side["vertical_m"] == pytest.approx(0.3 - 0.25, abs=1e-6)
    assert side["required_m"] == 0.5 and side["violation"] is False  # 0.55 m ≥ 0.5 m
    cross = got[("D1", "W1")]
    assert cross["crossing"] and cross["horizontal_m"] < 0
    assert cross["vertical_m"] == pytest.approx(0.4 - 0.35, abs=1e-6)
    assert cross["required_m"] == 0.15 and cross["violation"] is True  # 0.05 m < 0.15 m
    assert got[("D1", "G1")]["vertical_m"] == pytest.approx(0.7 - 0.3, abs=1e-6)
    assert got[("D1", "G1")]["violation"] is False
    strict = client.post(
        "/analysis/clearance",
        headers=AUTH,
        json={"area": shapely.geometry.mapping(area), "fallback_horizontal_m": 0.6},
    ).json()
    assert [f["properties"]["violation"] for f in strict["features"]] == [False, True, True]


def test_a_planned_pipe_is_checked_against_what_is_buried(client, buried):
    south = CY - 0.3 * M_LAT
    r = client.post(
        "/analysis/clearance",
        headers=AUTH,
        json={
            "planned": {
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[CX + 0.0045, south], [CX + 0.0055, south]],
                },
                "z_m": -1.45,
                "diameter_mm": 100,
                "utility": "power",
            }
        },
    )
    assert r.status_code == 200, r.text
    got = {f["properties"]["b"]: f["properties"] for f in r.json()["features"]}
    assert set(got) == {"W1", "G1", "D1"}  # F1 is 110 m away
    assert got["W1"]["horizontal_m"] == pytest.approx(seg((CX, CY), (CX, south)) - 0.2, abs=0.002)
    assert got["W1"]["violation"] is True and got["G1"]["violation"] is False
    assert got["D1"]["crossing"] and got["D1"]["vertical_m"] == pytest.approx(0.2, abs=1e-6)
    assert got["D1"]["violation"] is False
    assert {f["properties"]["a"] for f in r.json()["features"]} == {"(planned)"}


def test_clearance_errors(client, buried):
    area = shapely.geometry.mapping(box(CX, CY, CX + 0.001, CY + 0.001))
    problem(client.post("/analysis/clearance", json={"area": area}), 403, "restricted")
    problem(
        client.post(
            "/analysis/clearance",
            headers=AUTH,
            json={"area": {"type": "Point", "coordinates": [CX, CY]}},
        ),
        400,
        "area",
    )
    problem(
        client.post("/analysis/clearance", headers=AUTH, json={"area": area, "search_m": 500}),
        400,
        "search_m",
    )
    assert client.post("/analysis/clearance", headers=AUTH, json={}).status_code == 422
