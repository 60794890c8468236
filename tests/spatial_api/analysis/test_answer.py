"""What every answer shares: its size limit and its output CRS."""

from __future__ import annotations

from loaders import chinese_offsets
from tests.support.analysis import GEOD, problem, sites


def test_too_many_results_is_a_413(client, monkeypatch):
    from spatial_api.analysis import answer

    monkeypatch.setattr(answer, "MAX_FEATURES", 2)
    r = client.get(
        "/lbs/within",
        params={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1, "distance_m": 50_000},
    )
    problem(r, 413, "at most 2")


def test_gcj02_out_crs_round_trips(client):
    r = client.get(
        "/lbs/nearest",
        params={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1, "k": 1, "out_crs": "gcj02"},
    )
    body = r.json()
    assert body["number_returned"] == 1, body
    assert body["crs"] == "gcj02"
    x, y = body["features"][0]["geometry"]["coordinates"]
    lon, lat = chinese_offsets.gcj02_to_wgs84(x, y)
    site = next(s for s in sites() if s[0] == body["features"][0]["id"])
    assert GEOD.inv(float(lon), float(lat), site[1], site[2])[2] < 0.01
