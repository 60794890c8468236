"""Buffers in metres: areas against the geodesic circle, layers, CRSs, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from tests.support.analysis import AUTH, GEOD, PIPES, problem, seg


def geodesic_circle_area(lon: float, lat: float, d: float) -> float:
    az = np.linspace(0, 360, 4097)[:-1]
    lons, lats, _ = GEOD.fwd(np.full_like(az, lon), np.full_like(az, lat), az, np.full_like(az, d))
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0])


@pytest.mark.parametrize(("lon", "lat"), [(120.32, 36.06), (10.0, 0.5), (30.0, 60.0), (0.0, -70.0)])
@pytest.mark.parametrize("d", [50.0, 5_000.0, 500_000.0])
def test_buffer_area_matches_geodesic_circle(client, lon, lat, d):
    r = client.post(
        "/analysis/buffer",
        json={"geometry": {"type": "Point", "coordinates": [lon, lat]}, "distance_m": d},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    ref = geodesic_circle_area(lon, lat, d)
    area = body["features"][0]["properties"]["area_m2"]
    assert abs(area - ref) / ref < 0.005
    assert abs(area - ref) / ref < 0.001  # measured -0.04 %
    assert "azimuthal equidistant" in body["method"]["buffer"]
    assert body["crs"] == "CRS84"
    # The boundary really is d metres from the centre, in every direction.
    ring = np.array(body["features"][0]["geometry"]["coordinates"][0])
    dist = GEOD.inv(np.full(len(ring), lon), np.full(len(ring), lat), ring[:, 0], ring[:, 1])[2]
    assert np.allclose(dist, d, rtol=1e-4)


def test_buffer_layer_features_dissolved_and_filtered(client):
    r = client.post(
        "/analysis/buffer",
        headers=AUTH,
        json={"layer": "pipelines", "filter": {"utility": "water"}, "distance_m": 100},
    )
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert sorted(f["properties"]["asset_id"] for f in feats) == ["P1", "P3"]
    for f in feats:
        _, utility, a, b = next(p for p in PIPES if p[0] == f["properties"]["asset_id"])
        capsule = 2 * 100 * seg(a, b) + math.pi * 100**2
        assert f["properties"]["area_m2"] == pytest.approx(capsule, rel=0.003)
    r = client.post(
        "/analysis/buffer",
        headers=AUTH,
        json={"layer": "pipelines", "distance_m": 100, "dissolve": True},
    )
    assert [f["properties"]["count"] for f in r.json()["features"]] == [3]


def test_buffer_in_projected_crs_and_out_crs(client):
    to_4549 = Transformer.from_crs(4326, 4549, always_xy=True)
    x, y = to_4549.transform(120.32, 36.06)
    r = client.post(
        "/analysis/buffer",
        json={
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "crs": "EPSG:4549",
            "distance_m": 1000,
            "out_crs": "EPSG:4549",
        },
    )
    body = r.json()
    assert body["crs"] == "EPSG:4549"
    ring = shape(body["features"][0]["geometry"])
    assert ring.centroid.distance(shapely.Point(x, y)) < 0.5
    assert ring.area == pytest.approx(math.pi * 1000**2, rel=0.002)  # GK scale ≈ 1 here


POINT = {"type": "Point", "coordinates": [120.3, 36.0]}
BAD = [
    ({"geometry": {"type": "Circle", "coordinates": [1, 2]}, "distance_m": 1}, 400, "type"),
    (
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
            },
            "distance_m": 1,
        },
        400,
        "Self-intersection",
    ),
    (
        {"geometry": {"type": "LineString", "coordinates": [[0, 0]]}, "distance_m": 1},
        400,
        "malformed",
    ),
    (
        {
            "geometry": {
                "type": "LineString",
                "coordinates": [[120 + i / 1e5, 36] for i in range(10_001)],
            },
            "distance_m": 1,
        },
        413,
        "10001 vertices",
    ),
    (
        {"geometry": {"type": "Point", "coordinates": [36.0, 200.0]}, "distance_m": 1},
        400,
        "out of range",
    ),
    ({"geometry": POINT, "distance_m": -5}, 400, "distance_m"),
    ({"geometry": POINT, "distance_m": 2_000_000}, 400, "distance_m"),
    ({"geometry": POINT, "distance_m": 5, "crs": "EPSG:2000"}, 400, "unsupported CRS"),
    ({"geometry": POINT, "distance_m": 5, "out_crs": "urn:nope"}, 400, "unsupported CRS"),
    ({"geometry": POINT, "distance_m": 5, "save": True, "ttl_s": 10**8}, 400, "ttl_s"),
    ({"layer": "nowhere", "distance_m": 5}, 404, "unknown layer"),
    ({"layer": "pipelines", "distance_m": 5}, 403, "restricted"),
    ({"layer": "districts", "filter": {"colour": "red"}, "distance_m": 5}, 400, "colour"),
    ({"layer": "districts", "filter": {"population": "many"}, "distance_m": 5}, 400, "integer"),
    ({"layer": "districts", "distance_m": 5, "datetime": "yesterday"}, 400, "RFC 3339"),
    ({"distance_m": 5}, 422, "exactly one"),
    ({"geometry": POINT}, 422, "distance_m"),
]


@pytest.mark.parametrize(("body", "status", "word"), BAD)
def test_bad_buffer_requests_are_problems(client, body, status, word):
    problem(client.post("/analysis/buffer", json=body), status, word)
