"""Sector coverage with model fixed: wedges with true radii, and overlaid with districts."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import shape
from sqlalchemy import text

from tests.support.analysis import D1, GEOD, seg

SECTORS = [  # asset, operator, technology, lon, lat, azimuth, beamwidth
    ("S1", "china_mobile", "lte", 120.05, 36.05, 90.0, 60.0),
    ("S2", "china_mobile", "nr", 120.05, 36.05, 270.0, 60.0),
    ("S3", "china_unicom", "lte", 120.15, 36.05, None, None),  # omnidirectional
    ("S4", "china_telecom", "lte", 120.10, 36.03, 0.0, 360.0),  # on the D1|D2 border
]
R = 1000.0


def wedge_area(r: float, bw: float) -> float:
    """The inscribed polygon's area: 32 arc steps for a wedge, 128 for a full circle."""
    n, angle = (128, 2 * math.pi) if bw >= 360 else (32, math.radians(bw))
    return n * 0.5 * r * r * math.sin(angle / n)


@pytest.fixture
def sectors(engine):
    with engine.begin() as c:
        for asset, op, tech, lon, lat, az, bw in SECTORS:
            c.execute(
                text(
                    "INSERT INTO city.sectors (asset_id, site_id, operator, technology,"
                    " azimuth_deg, beamwidth_deg, geom) VALUES (:a, 'SITE', :op, :t, :az, :bw, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": asset, "op": op, "t": tech, "az": az, "bw": bw, "x": lon, "y": lat},
            )
        c.execute(
            text(  # dismantled in 2015: coverage now must not include it
                "INSERT INTO city.sectors (asset_id, site_id, operator, technology, valid, geom) "
                "VALUES ('OLD', 'SITE', 'china_mobile', 'gsm', tstzrange('2000-01-01', "
                "'2015-01-01'), ST_SetSRID(ST_MakePoint(120.05, 36.05), 4490))"
            )
        )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.sectors"))


def test_coverage_wedges_point_the_right_way_with_true_radii(client, sectors):
    r = client.post(
        "/analysis/coverage",
        json={"model": "fixed", "radius_m": R, "radius_by_technology": {"nr": 500}},
    )
    assert r.status_code == 200, r.text
    got = {f["properties"]["asset_id"]: f for f in r.json()["features"]}
    assert set(got) == {"S1", "S2", "S3", "S4"}
    radii = {"S1": R, "S2": 500.0, "S3": R, "S4": R}
    for asset, _, _, lon, lat, _, bw in SECTORS:
        area = got[asset]["properties"]["area_m2"]
        assert area == pytest.approx(wedge_area(radii[asset], bw or 360), rel=2e-3), asset
        ring = shape(got[asset]["geometry"]).exterior.coords
        far = max(seg((lon, lat), p) for p in ring)
        assert far == pytest.approx(radii[asset], abs=0.05), asset  # metres on the spheroid
    assert shape(got["S1"]["geometry"]).centroid.x > 120.05  # azimuth 90°: east
    assert shape(got["S2"]["geometry"]).centroid.x < 120.05  # azimuth 270°: west
    past = client.post("/analysis/coverage", json={"model": "fixed", "datetime": "2010-06-01"})
    past = past.json()
    assert [f["properties"]["asset_id"] for f in past["features"]] == ["OLD"]


def test_coverage_overlaid_with_districts_gives_area_per_operator(client, sectors):
    r = client.post(
        "/analysis/overlay",
        json={
            "operation": "intersection",
            "group_by": ["a_operator", "b_name"],
            "a": {"coverage": {"radius_m": R, "dissolve_by": "operator"}},
            "b": {"layer": "districts"},
        },
    )
    assert r.status_code == 200, r.text
    area = {
        (f["properties"]["a_operator"], f["properties"]["b_name"]): f["properties"]["area_m2"]
        for f in r.json()["features"]
    }
    wedge, disc = wedge_area(R, 60), wedge_area(R, 360)
    assert set(area) == {
        ("china_mobile", "West"),
        ("china_telecom", "East"),
        ("china_telecom", "West"),
        ("china_unicom", "East"),
    }
    assert area[("china_mobile", "West")] == pytest.approx(2 * wedge, rel=2e-3)
    assert area[("china_unicom", "East")] == pytest.approx(disc, rel=2e-3)
    # The border sector's disc is cut in two halves, one per district.
    assert area[("china_telecom", "West")] == pytest.approx(disc / 2, rel=5e-3)
    assert area[("china_telecom", "East")] == pytest.approx(disc / 2, rel=5e-3)

    gaps = client.post(
        "/analysis/overlay",
        json={
            "operation": "difference",
            "a": {"layer": "districts", "filter": {"name": "West"}},
            "b": {"coverage": {"radius_m": R, "dissolve_by": "all"}},
        },
    ).json()["features"]
    west = GEOD.geometry_area_perimeter(D1)[0]
    covered = 2 * wedge + disc / 2
    assert gaps[0]["properties"]["area_m2"] == pytest.approx(west - covered, rel=1e-4)


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [
        ({"radius_m": 0}, 400, "radius_m"),
        ({"radius_m": 60_000}, 400, "radius_m"),
        ({"radius_by_technology": {"nr": -5}}, 400, "radius_by_technology.nr"),
        ({"radius_by_technology": {"6g": 5}}, 422, "radius_by_technology"),
        ({"dissolve_by": "colour"}, 422, "dissolve_by"),
        ({"filter": {"operator": 3}}, 400, "operator"),
        ({"output": "overlap"}, 422, "model fixed draws coverage wedges only"),
    ],
)
def test_bad_coverage_requests_are_4xx(client, body, status, word):
    r = client.post("/analysis/coverage", json={"model": "fixed"} | body)
    assert r.status_code == status, r.text
    assert word in r.text
