"""POST /analysis/coverage/compare: what a scenario gains and loses against the live city.

References: pyproj geodesic discs of the free-space radius (test_coverage_stats), their
unions and differences in shapely; the stats endpoint's own numbers for the % before and
after.
"""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import text

from tests.spatial_api.analysis.test_coverage_model import LONLAT, sectors  # noqa: F401
from tests.spatial_api.analysis.test_coverage_scenarios import NEW, planner  # noqa: F401
from tests.spatial_api.analysis.test_coverage_stats import FSPL_D, R, geodesic_area, geodesic_disc
from tests.support.analysis import problem

UNICOM = {"operator": "china_unicom"}
TWIN = (120.065, 36.05)  # 1.35 km east of D: the two discs overlap
RADIO = {  # D's radio: an omni at 1.5 m with 0 dBm EIRP, 1.19 km in free space at −100 dBm
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
}


@pytest.fixture
def scenario(client, planner):  # noqa: F811
    r = client.post("/scenarios", json={"title": "比较"}, headers=planner)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    yield sid
    assert client.delete(f"/scenarios/{sid}", headers=planner).status_code == 204


def add_sector(client, headers, asset: str, lonlat, scenario: str | None = None) -> None:
    body = {
        "type": "Feature",
        "id": asset,
        "geometry": {"type": "Point", "coordinates": list(lonlat)},
        "properties": RADIO,
    }
    params = {"scenario": scenario} if scenario else {}
    r = client.post("/collections/sectors/items", json=body, headers=headers, params=params)
    assert r.status_code == 201, r.text


def compare(client, headers, sid: str, **extra):
    body = FSPL_D | {"scenario": sid, "operator": "china_unicom"} | extra
    r = client.post("/analysis/coverage/compare", json=body, headers=headers)
    assert r.status_code == 200, r.text
    fs = r.json()["features"]
    rows = {
        (f["properties"]["name"], f["properties"]["operator"]): f["properties"]
        for f in fs[1:]
        if f["properties"]["role"] == "compare"
    }
    shapes = [f for f in fs[1:] if f["properties"]["role"] in ("gained", "lost")]
    return fs[0]["properties"], rows, shapes


def west_pct(client, headers, **extra) -> float:
    body = FSPL_D | {"filter": UNICOM, "holes": False} | extra
    r = client.post("/analysis/coverage/stats", json=body, headers=headers)
    assert r.status_code == 200, r.text
    (west,) = [
        f["properties"]
        for f in r.json()["features"]
        if f["properties"].get("role") == "stats" and f["properties"]["name"] == "West"
    ]
    return west["covered_pct"]


def test_a_sector_added_in_a_hole_gains_its_coverage_and_loses_nothing(
    client,
    sectors,  # noqa: F811
    planner,  # noqa: F811
    scenario,
):
    live = west_pct(client, planner)
    add_sector(client, planner, "D2", NEW, scenario)
    head, rows, shapes = compare(client, planner, scenario)
    disc2 = geodesic_area(geodesic_disc(*NEW, R))
    assert head["changed_sectors"] == ["D2"] and head["operators"] == ["china_unicom"]
    assert head["areas_changed"] == 1  # East lies beyond D2's reach
    assert set(rows) == {("West", "china_unicom")}
    west = rows[("West", "china_unicom")]
    assert west["gained_km2"] == pytest.approx(disc2 / 1e6, rel=0.01)
    assert west["lost_km2"] == 0.0
    # The % before is the live city's, after it the scenario's: the stats' own numbers.
    assert west["covered_before_pct"] == pytest.approx(live, rel=1e-9)
    assert west["covered_after_pct"] == pytest.approx(
        west_pct(client, planner, scenario=scenario), rel=1e-9
    )
    assert west["covered_after_pct"] - west["covered_before_pct"] == pytest.approx(
        100 * west["gained_km2"] / west["area_km2"], rel=1e-9
    )
    (gain,) = shapes
    assert gain["properties"]["role"] == "gained"
    assert gain["properties"]["area_m2"] == pytest.approx(disc2, rel=0.01)
    got = shape(gain["geometry"])
    assert got.intersection(geodesic_disc(*NEW, R)).area == pytest.approx(got.area, rel=0.01)
    assert west_pct(client, planner) == live  # the live city did not change


def test_a_sector_removed_loses_what_only_it_covered(
    client,
    engine,
    sectors,  # noqa: F811
    planner,  # noqa: F811
    scenario,
):
    add_sector(client, planner, "D3", TWIN)  # live: overlaps D's disc
    live = west_pct(client, planner)
    item = client.get(
        "/collections/sectors/items/D", headers=planner, params={"scenario": scenario}
    )
    etag = item.headers["ETag"]
    r = client.delete(
        "/collections/sectors/items/D",
        headers=planner | {"If-Match": etag},
        params={"scenario": scenario},
    )
    assert r.status_code == 204, r.text
    head, rows, shapes = compare(client, planner, scenario)
    d, twin = geodesic_disc(*LONLAT["D"], R), geodesic_disc(*TWIN, R)
    only_d = geodesic_area(d.difference(twin))
    assert head["changed_sectors"] == ["D"]
    west = rows[("West", "china_unicom")]
    assert west["gained_km2"] == 0.0
    assert west["lost_km2"] == pytest.approx(only_d / 1e6, rel=0.01)
    assert west["covered_before_pct"] == pytest.approx(live, rel=1e-9)
    assert west["covered_after_pct"] == pytest.approx(
        west_pct(client, planner, scenario=scenario), rel=1e-9
    )
    assert [s["properties"]["role"] for s in shapes] == ["lost"]
    assert shapes[0]["properties"]["area_m2"] == pytest.approx(only_d, rel=0.01)
    assert west_pct(client, planner) == live
    with engine.begin() as c:  # D is still live
        n = c.execute(text("SELECT count(*) FROM city.sectors_current WHERE asset_id = 'D'"))
        assert n.scalar_one() == 1


def test_a_drawn_area_and_a_layer_with_ids(client, sectors, planner, scenario):  # noqa: F811
    add_sector(client, planner, "D2", NEW, scenario)
    drawn = shapely.box(120.06, 36.06, 120.08, 36.08)  # NEW at its centre, inside the disc
    _, rows, _ = compare(
        client, planner, scenario, areas={"geometry": shapely.geometry.mapping(drawn)}
    )
    d = rows[("drawn polygon", "china_unicom")]
    cut = geodesic_area(drawn.intersection(geodesic_disc(*NEW, R)))
    assert d["gained_km2"] == pytest.approx(cut / 1e6, rel=0.01)
    assert d["covered_before_pct"] == 0.0
    _, rows, _ = compare(client, planner, scenario, areas={"layer": "districts", "ids": ["D2"]})
    assert rows == {}  # East: beyond the change


def test_compare_needs_a_scenario_it_may_use(client, sectors, planner):  # noqa: F811
    r = client.post("/analysis/coverage/compare", json=FSPL_D, headers=planner)
    assert r.status_code == 422, r.text
    assert "scenario" in r.text
    r = client.post(
        "/analysis/coverage/compare", json=FSPL_D | {"scenario": "scn-nope"}, headers=planner
    )
    problem(r, 404, "scn-nope")
    r = client.post("/analysis/coverage/compare", json=FSPL_D | {"scenario": "x", "model": "fixed"})
    assert r.status_code == 422 and "not with fixed" in r.text
