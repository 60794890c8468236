"""Location services (nearest, within, reverse) against brute force over every site."""

from __future__ import annotations

import numpy as np
import pytest

from loaders import chinese_offsets
from spatial_api.analysis import lbs
from tests.support.analysis import GEOD, problem, sites


def brute_nearest(lon, lat, k, grade=None):
    cands = [
        (GEOD.inv(lon, lat, x, y)[2], a) for a, x, y, g in sites() if grade is None or g == grade
    ]
    return sorted(cands)[:k]


@pytest.mark.parametrize(
    ("lon", "lat", "k"), [(120.4, 36.1, 1), (120.4, 36.1, 5), (120.31, 36.19, 12), (10.0, 60.0, 1)]
)
def test_nearest_matches_brute_force(client, lon, lat, k):
    r = client.get("/lbs/nearest", params={"layer": "scenic_sites", "lon": lon, "lat": lat, "k": k})
    assert r.status_code == 200, r.text
    got = [(f["properties"]["distance_m"], f["id"]) for f in r.json()["features"]]
    ref = brute_nearest(lon, lat, k)
    assert [a for _, a in got] == [a for _, a in ref]
    assert np.allclose([d for d, _ in got], [d for d, _ in ref], atol=0.001)


@pytest.mark.parametrize(
    ("walk", "path"),
    [((1, 0), "planar"), ((2, 1), "sphere"), ((lbs.WALK_PER_K, lbs.WALK_EXTRA), "sphere")],
)
def test_nearest_sphere_walk_and_its_planar_fallback_agree(client, monkeypatch, walk, path):
    # A walk of exactly k can never prove itself complete, so the planar path answers; a
    # walk of 2k + 1 among 62 sites proves it. Both must equal brute force, at 60°N too.
    monkeypatch.setattr(lbs, "WALK_PER_K", walk[0])
    monkeypatch.setattr(lbs, "WALK_EXTRA", walk[1])
    ran = []
    run = lbs._run

    async def spy(conn, template, *args):
        ran.append("sphere" if template is lbs.NEAREST_SPHERE else "planar")
        return await run(conn, template, *args)

    monkeypatch.setattr(lbs, "_run", spy)
    for lon, lat, k in [
        (120.4, 36.1, 5),
        (120.31, 36.19, 12),
        (120.45, 36.02, 20),
        (10.0, 60.0, 1),
    ]:
        ran.clear()
        q = {"layer": "scenic_sites", "lon": lon, "lat": lat, "k": k}
        got = [
            (f["properties"]["distance_m"], f["id"])
            for f in client.get("/lbs/nearest", params=q).json()["features"]
        ]
        ref = brute_nearest(lon, lat, k)
        assert [a for _, a in got] == [a for _, a in ref], (lon, lat, k)
        assert np.allclose([d for d, _ in got], [d for d, _ in ref], atol=0.001)
        assert ran[-1] == path, (lon, lat, k, ran)


def test_nearest_with_filter_radius_and_datetime(client):
    r = client.post(
        "/lbs/nearest",
        json={
            "layer": "scenic_sites",
            "lon": 120.4,
            "lat": 36.1,
            "k": 3,
            "filter": {"grade": "5A"},
        },
    )
    assert [f["id"] for f in r.json()["features"]] == [
        a for _, a in brute_nearest(120.4, 36.1, 3, "5A")
    ]
    r = client.get(
        "/lbs/nearest",
        params={"layer": "scenic_sites", "lon": 120.09, "lat": 36.05, "k": 1, "max_distance_m": 10},
    )
    assert r.json()["features"] == []
    r = client.get(
        "/lbs/nearest",
        params={
            "layer": "scenic_sites",
            "lon": 120.09,
            "lat": 36.05,
            "k": 1,
            "datetime": "2019-06-01",
        },
    )
    assert [f["id"] for f in r.json()["features"]] == ["OLD"]


def test_gcj02_point_finds_the_same_nearest(client):
    lon, lat = 120.4, 36.1
    glon, glat = chinese_offsets.wgs84_to_gcj02(lon, lat)
    assert GEOD.inv(lon, lat, float(glon), float(glat))[2] > 100  # the shift is real
    q = {"layer": "scenic_sites", "k": 3}
    wgs = client.get("/lbs/nearest", params=q | {"lon": lon, "lat": lat}).json()["features"]
    gcj = client.get(
        "/lbs/nearest", params=q | {"lon": float(glon), "lat": float(glat), "crs": "gcj02"}
    ).json()["features"]
    assert [f["id"] for f in gcj] == [f["id"] for f in wgs]
    assert np.allclose(
        [f["properties"]["distance_m"] for f in gcj],
        [f["properties"]["distance_m"] for f in wgs],
        atol=0.01,
    )


def test_within_counts(client):
    d = 5000
    expected = [a for dist, a in brute_nearest(120.4, 36.1, 100) if dist <= d]
    r = client.get(
        "/lbs/within",
        params={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1, "distance_m": d, "limit": 2},
    )
    body = r.json()
    assert body["number_matched"] == len(expected) > 2
    assert [f["id"] for f in body["features"]] == expected[:2]


def test_reverse_lookup(client):
    r = client.get("/lbs/reverse", params={"lon": 120.091, "lat": 36.05})
    assert r.status_code == 200, r.text
    roles = {f["properties"]["role"]: f for f in r.json()["features"]}
    assert set(roles) == {"district", "logistics_park", "nearest_road"}
    assert roles["district"]["properties"]["name"] == "West"
    assert roles["logistics_park"]["properties"]["name"] == "Port park"
    assert roles["nearest_road"]["id"] == "R_QD"
    ref = GEOD.inv(120.091, 36.05, 120.09, 36.049)[2]  # the road's end is its nearest point
    assert roles["nearest_road"]["properties"]["distance_m"] == pytest.approx(ref, abs=0.001)
    # In 2019 the closed site was open, and nothing else existed yet.
    r = client.get("/lbs/reverse", params={"lon": 120.091, "lat": 36.05, "datetime": "2019-06-01"})
    assert [(f["properties"]["role"], f["id"]) for f in r.json()["features"]] == [
        ("scenic_site", "OLD")
    ]


@pytest.mark.parametrize(
    ("path", "params", "status", "word"),
    [
        ("/lbs/nearest", {"layer": "scenic_sites", "k": 500}, 400, "k: 500"),
        ("/lbs/nearest", {"layer": "hazard_sources"}, 403, "restricted"),
        ("/lbs/nearest", {"layer": "hazard_sources", "token": "wrong"}, 401, "unknown token"),
        ("/lbs/nearest", {"layer": "scenic_sites", "max_distance_m": -1}, 400, "max_distance"),
        ("/lbs/nearest", {"layer": "scenic_sites", "crs": "wgs99"}, 400, "unsupported CRS"),
        ("/lbs/within", {"layer": "scenic_sites", "distance_m": 1e7}, 400, "distance_m"),
        ("/lbs/within", {"layer": "scenic_sites", "distance_m": 10, "limit": 10**6}, 400, "limit"),
        ("/lbs/reverse", {"site_radius_m": 0}, 400, "site_radius_m"),
        ("/lbs/nearest", {"layer": "scenic_sites", "lon": "east"}, 422, "lon"),
    ],
)
def test_bad_lbs_requests_are_problems(client, path, params, status, word):
    problem(client.get(path, params={"lon": 120.4, "lat": 36.1} | params), status, word)
