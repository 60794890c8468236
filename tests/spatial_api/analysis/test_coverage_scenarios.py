"""What-if coverage: a sector added in a scenario covers more there, and only there."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from tests.spatial_api.analysis.test_coverage_model import LONLAT, sectors  # noqa: F401
from tests.spatial_api.analysis.test_coverage_stats import FSPL_D, R, geodesic_area, geodesic_disc

NEW = (120.07, 36.07)  # 2.8 km from D: the two 1.19 km discs do not meet


@pytest.fixture
def planner(engine):
    token = create_token(engine, load_roles(Catalog().values()), "planner", "cov-planner", None)
    yield {"Authorization": f"Bearer {token}"}
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.tokens WHERE name = 'cov-planner'"))


def west_unicom(client, headers, **extra) -> dict:
    body = FSPL_D | {"filter": {"operator": "china_unicom"}, "holes": False} | extra
    r = client.post("/analysis/coverage/stats", json=body, headers=headers)
    assert r.status_code == 200, r.text
    (west,) = [
        f["properties"]
        for f in r.json()["features"]
        if f["properties"].get("role") == "stats" and f["properties"]["name"] == "West"
    ]
    return west


def test_a_scenario_sector_adds_coverage_and_the_live_city_keeps_its_own(
    client,
    sectors,  # noqa: F811
    planner,
):
    live = west_unicom(client, planner)
    r = client.post("/scenarios", json={"title": "补点"}, headers=planner)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        new = {
            "type": "Feature",
            "id": "D2",
            "geometry": {"type": "Point", "coordinates": list(NEW)},
            "properties": {
                "site_id": "SITE2",
                "operator": "china_unicom",
                "technology": "lte",
                "frequency_mhz": 2000.0,
                "antenna_height_m": 1.5,
                "power_dbm": 0.0,
                "antenna_gain_dbi": 0.0,
                "feeder_loss_db": 0.0,
                "vertical_beamwidth_deg": 10.0,
                "tilt_deg": 0.0,
            },
        }
        r = client.post(
            "/collections/sectors/items", json=new, headers=planner, params={"scenario": sid}
        )
        assert r.status_code == 201, r.text
        what_if = west_unicom(client, planner, scenario=sid)
        disc = geodesic_area(geodesic_disc(*LONLAT["D"], R))
        disc2 = geodesic_area(geodesic_disc(*NEW, R))
        assert live["covered_km2"] == pytest.approx(disc / 1e6, rel=5e-3)
        assert what_if["covered_km2"] == pytest.approx((disc + disc2) / 1e6, rel=5e-3)
        assert west_unicom(client, planner) == live  # the live city did not change
        # The map's tiles see the scenario too, and only with it.
        tile = "/analysis/coverage/tiles/WebMercatorQuad/13/3214/6828"
        params = {"model": "fspl", "threshold_dbm": -100, "operator": "china_unicom"}
        a = client.get(tile, params=params, headers=planner)
        b = client.get(tile, params=params | {"scenario": sid}, headers=planner)
        assert a.status_code == b.status_code == 200
        assert a.content != b.content
        assert client.get(tile, params=params | {"scenario": sid}).status_code == 404
    finally:
        assert client.delete(f"/scenarios/{sid}", headers=planner).status_code == 204
