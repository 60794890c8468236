"""The planner's map (issue 14, item 9): a real Chromium with a planner token draws each
sector as a wedge on its azimuth, reads a district's coverage table and, in a scenario,
moves a site by dragging it, on sites drawn by hand in metres about (CX, CY):

    S-W (−2500, 0): china_unicom, three sectors at 0°, 120° and 240° (65°)
    S-1 (0, 0):     china_mobile, one omni sector, free space to 1,192.8 m at −100 dBm
    S-E (1800, 1800): china_telecom, 45° (90° wide) and 300° (33°)

District 半覆盖区 is the half-disc of 800 m west of S-1 (inside its coverage) plus a
rectangle of the same area 3 km east, beyond every sector's reach: china_mobile covers half.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import text

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.support.browser import Browser, needs_chromium
from tests.support.server import serving

pytestmark = [pytest.mark.clients, needs_chromium]

CX, CY = 120.40, 36.10
PLANE = Transformer.from_pipeline(
    "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
    f"+step +proj=aeqd +lat_0={CY} +lon_0={CX} +ellps=GRS80"
)
GEOD = Geod(ellps="GRS80")
SITES = {"S-W": (-2500, 0), "S-1": (0, 0), "S-E": (1800, 1800)}
SECTORS = {  # id: site, operator, azimuth, beamwidth
    "S-W-1": ("S-W", "china_unicom", 0.0, 65.0),
    "S-W-2": ("S-W", "china_unicom", 120.0, 65.0),
    "S-W-3": ("S-W", "china_unicom", 240.0, 65.0),
    "S-1-0": ("S-1", "china_mobile", None, None),
    "S-E-1": ("S-E", "china_telecom", 45.0, 90.0),
    "S-E-2": ("S-E", "china_telecom", 300.0, 33.0),
}
NAME = "半覆盖区"
FSPL = {"model": "fspl", "threshold_dbm": -100, "cell_m": 25}
STATS = FSPL | {"areas": {"layer": "districts", "filter": {"name": NAME}}, "max_holes": 50}


def lonlat(x: float, y: float) -> tuple[float, float]:
    return PLANE.transform(x, y, direction="INVERSE")


def half_district() -> shapely.MultiPolygon:
    r = 800.0
    a = np.linspace(90, 270, 91)  # the west half-disc, counter-clockwise from north
    west = [(r * math.cos(math.radians(t)), r * math.sin(math.radians(t))) for t in a]
    w = math.pi * r * r / 2 / (2 * r)
    east = [(3000, -r), (3000 + w, -r), (3000 + w, r), (3000, r)]
    rings = [[lonlat(x, y) for x, y in ring] for ring in (west, east)]
    return shapely.MultiPolygon([shapely.Polygon(p) for p in rings])


@pytest.fixture(scope="module")
def city(engine) -> Iterator[None]:
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO city.districts (asset_id, name, geom) "
                "VALUES ('HALF', :n, ST_GeomFromEWKT(:g))"
            ),
            {"n": NAME, "g": "SRID=4490;" + shapely.to_wkt(half_district(), rounding_precision=12)},
        )
        for site, (x, y) in SITES.items():
            c.execute(
                text(
                    "INSERT INTO city.base_stations (asset_id, name, structure, height_m, geom) "
                    "VALUES (:a, :a, 'tower', 30, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": site, "x": lonlat(x, y)[0], "y": lonlat(x, y)[1]},
            )
        for asset, (site, op, az, bw) in SECTORS.items():
            x, y = lonlat(*SITES[site])
            c.execute(
                text(
                    "INSERT INTO city.sectors (asset_id, site_id, operator, technology, "
                    "frequency_mhz, azimuth_deg, beamwidth_deg, tilt_deg, antenna_height_m, "
                    "power_dbm, antenna_gain_dbi, feeder_loss_db, vertical_beamwidth_deg, geom) "
                    "VALUES (:a, :s, :o, 'lte', 2000, :az, :bw, 0, 1.5, 0, 0, 0, 10, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": asset, "s": site, "o": op, "az": az, "bw": bw, "x": x, "y": y},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.sectors WHERE asset_id = ANY(:i)"), {"i": list(SECTORS)})
        c.execute(
            text("DELETE FROM city.base_stations WHERE asset_id = ANY(:i)"), {"i": list(SITES)}
        )
        c.execute(text("DELETE FROM city.districts WHERE asset_id = 'HALF'"))
        c.execute(text("TRUNCATE city.tokens, city.audit, city.scenarios CASCADE"))


@pytest.fixture(scope="module")
def token(city, engine) -> str:
    return create_token(engine, load_roles(Catalog().values()), "planner", "map-planner", None)


@pytest.fixture(scope="module")
def live_url(db_url, city) -> Iterator[str]:
    with serving(create_app(db_url, ServerSettings(), pool_size=2)) as url:
        yield url


def open_map(browser: Browser, url: str, at: tuple[float, float], zoom: float):
    """/map on a planner's laptop screen (1366×768), at x/y metres about (CX, CY)."""
    page = browser.browser.new_page(viewport={"width": 1366, "height": 768})
    page.route("**/*", browser.only_localhost)
    page.on("pageerror", lambda e: browser.errors.append(str(e)))
    page.set_default_timeout(120_000)  # the coverage answers, on a busy CI machine
    page.goto(url)
    page.evaluate("citygis.ready")
    lon, lat = lonlat(*at)
    page.evaluate(f"citygis.map.jumpTo({{center: [{lon}, {lat}], zoom: {zoom}}})")
    page.evaluate("citygis.idle()")
    page.wait_for_timeout(100)  # the wedges follow the tiles' arrival
    return page


def screen(page, x: float, y: float) -> tuple[float, float]:
    lon, lat = lonlat(x, y)
    return tuple(
        page.evaluate(
            f"""(() => {{ const p = citygis.map.project([{lon}, {lat}]);
            const r = citygis.map.getCanvas().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y]; }})()"""
        )
    )


def api(url: str, token: str, path: str, body: dict) -> list[dict]:
    r = httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()["features"]


def mobile_row(features: list[dict]) -> dict:
    (row,) = [
        f["properties"]
        for f in features
        if f["properties"]["role"] == "stats" and f["properties"]["operator"] == "china_mobile"
    ]
    return row


def pick_district(page) -> None:
    page.select_option("#pl-district", "HALF")
    page.wait_for_function("citygis.planner.state.stats && !citygis.map.isMoving()")
    page.evaluate("citygis.idle()")


def test_sectors_are_wedges_on_their_azimuth(live_url, token, browser, shots):
    page = open_map(browser, f"{live_url}/map?token={token}", (-1800, 600), 13)
    assert page.is_visible("#planner-panel") and page.text_content("#pl-role") == "planner"
    wedges = page.evaluate("citygis.planner.wedges().features")
    assert sorted(w["properties"]["asset_id"] for w in wedges) == sorted(SECTORS)
    for w in wedges:
        site, op, az, bw = SECTORS[w["properties"]["asset_id"]]
        ring = w["geometry"]["coordinates"][0]
        assert w["properties"]["operator"] == op
        if az is None:  # omni: a closed ring about the site, no apex
            assert ring[0] == ring[-1] and len(ring) == 13
            continue
        apex, middle = ring[0], ring[1 + 6]  # apex, 13 arc vertices, apex
        # The site, to the tile's precision (a z13 tile has 4096 units: 0.95 m here).
        assert GEOD.inv(*apex, *lonlat(*SITES[site]))[2] < 1.5
        bearing = GEOD.inv(*apex, *middle)[0] % 360
        assert abs((bearing - az + 180) % 360 - 180) < 1.0, (w["properties"], bearing)
        edge = GEOD.inv(*apex, *ring[1])[0] % 360  # the arc starts at azimuth − beamwidth/2
        assert abs((edge - (az - bw / 2) + 180) % 360 - 180) < 1.0
    colours = page.evaluate(
        "citygis.map.getPaintProperty('planner-wedges:fill', 'fill-color').slice(2, -1)"
    )
    palette = Catalog()["sectors"].style.palette
    assert dict(zip(colours[::2], colours[1::2], strict=True)) == palette
    page.screenshot(path=shots / "planner-0-wedges.png")
    # An operator picked: only its wedges, and the overlay of its received power.
    page.select_option("#pl-operator", "china_unicom")
    page.check("#pl-overlay")
    page.select_option("#pl-model", "fspl")
    page.fill("#pl-threshold", "-100")
    page.press("#pl-threshold", "Tab")  # committed: one change event
    page.evaluate("citygis.idle()")
    ids = page.evaluate("citygis.planner.wedges().features.map(f => f.properties.asset_id)")
    assert sorted(ids) == ["S-W-1", "S-W-2", "S-W-3"]
    tiles = page.evaluate("citygis.map.getSource('planner-coverage').tiles[0]")
    assert "operator=china_unicom" in tiles and "threshold_dbm=-100" in tiles
    assert page.text_content("#pl-legend .pl-ticks") == "-100 dBm-80 dBm≥ -60 dBm"
    page.screenshot(path=shots / "planner-1-overlay-unicom.png")


def test_the_district_table_shows_the_stats_numbers(live_url, token, browser, shots):
    page = open_map(browser, f"{live_url}/map?token={token}", (1000, 0), 13)
    page.select_option("#pl-model", "fspl")
    page.fill("#pl-threshold", "-100")
    page.press("#pl-threshold", "Tab")  # committed: one change event
    pick_district(page)
    row = mobile_row(api(live_url, token, "/analysis/coverage/stats", STATS))
    assert row["covered_pct"] == pytest.approx(50.0, abs=0.5)  # constructed half-covered
    shown = page.evaluate("citygis.planner.state.stats.rows")
    assert [r for r in shown if r["operator"] == "china_mobile"] == [row]
    cells = page.eval_on_selector_all(
        "#pl-table tr[data-operator=china_mobile] td", "ts => ts.map(t => t.textContent)"
    )
    assert cells[:2] == [f"{row['covered_km2']:.3f}", f"{row['covered_pct']:.2f} %"]
    assert cells[3] == str(row["holes"]) == "1"  # the rectangle beyond reach
    # The holes listed and drawn are china_mobile's (the first operator with holes).
    listed = page.eval_on_selector_all("#pl-holes li .unit", "ls => ls.map(l => l.textContent)")
    stats = api(live_url, token, "/analysis/coverage/stats", STATS)
    holes = [
        f["properties"]
        for f in stats
        if f["properties"]["role"] == "hole" and f["properties"]["operator"] == "china_mobile"
    ]
    assert listed == [f"{h['area_m2'] / 1e6:.3f} km²" for h in holes]
    page.screenshot(path=shots / "planner-2-district-table.png")
    page.click("#pl-holes li:first-child button")
    # Flown to the hole, the rectangle 3 km east of S-1 (in the free part of the map).
    page.wait_for_function(f"citygis.map.getCenter().lng > {lonlat(2000, 0)[0]}")
    page.wait_for_function("!citygis.map.isMoving()")
    page.evaluate("citygis.idle()")
    page.screenshot(path=shots / "planner-3-hole.png")


def test_moving_a_site_in_a_scenario_changes_its_stats_not_the_live_city(
    live_url, token, browser, shots
):
    live = mobile_row(api(live_url, token, "/analysis/coverage/stats", STATS))
    r = httpx.post(
        f"{live_url}/scenarios",
        json={"title": "S-1 东移"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    page = open_map(browser, f"{live_url}/map?token={token}", (-400, 0), 14)
    page.select_option("#scenario", sid)  # the picker of static/map/scenarios.js
    page.wait_for_function("!document.getElementById('scenario-badge').hidden")
    page.select_option("#pl-model", "fspl")
    page.fill("#pl-threshold", "-100")
    page.press("#pl-threshold", "Tab")  # committed: one change event
    pick_district(page)
    # S-1 and the place it goes (600 m east) in the part of the map no card covers.
    page.evaluate(f"citygis.map.jumpTo({{center: {list(lonlat(-400, 0))}, zoom: 14}})")
    page.evaluate("citygis.idle()")
    page.click("#pl-move")
    x, y = screen(page, 0, 0)
    page.mouse.click(x, y)
    assert page.is_visible(".pl-site-marker[data-asset='S-1']")
    to = screen(page, 600, 0)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(to[0], to[1], steps=12)
    page.mouse.up()
    page.wait_for_function(
        "citygis.planner.state.compare && citygis.planner.state.compare.rows.length"
    )
    page.evaluate("citygis.idle()")
    page.wait_for_timeout(300)
    page.screenshot(path=shots / "planner-4-moved-in-scenario.png")
    # The site and its sector moved in the scenario only.
    h = {"Authorization": f"Bearer {token}"}
    for layer, asset in (("base_stations", "S-1"), ("sectors", "S-1-0")):
        moved = httpx.get(
            f"{live_url}/collections/{layer}/items/{asset}", params={"scenario": sid}, headers=h
        ).json()
        kept = httpx.get(f"{live_url}/collections/{layer}/items/{asset}", headers=h).json()
        assert kept["geometry"]["coordinates"] == pytest.approx(list(lonlat(0, 0)), abs=1e-9)
        x_m, y_m = PLANE.transform(*moved["geometry"]["coordinates"])
        assert (x_m, y_m) == pytest.approx((600, 0), abs=15)  # a pixel is ~2.7 m at z14
    what_if = mobile_row(
        api(live_url, token, "/analysis/coverage/stats", STATS | {"scenario": sid})
    )
    assert what_if["covered_pct"] < live["covered_pct"] - 10  # S-1 left the half-disc
    assert mobile_row(api(live_url, token, "/analysis/coverage/stats", STATS)) == live
    # The panel shows the scenario's numbers and the comparison the API gives.
    shown = page.evaluate("citygis.planner.state.stats.rows")
    assert [r for r in shown if r["operator"] == "china_mobile"] == [what_if]
    body = FSPL | {"scenario": sid, "areas": {"layer": "districts", "ids": ["HALF"]}}
    (cmp,) = [
        f["properties"]
        for f in api(live_url, token, "/analysis/coverage/compare", body)
        if f["properties"]["role"] == "compare"
    ]
    assert cmp["covered_before_pct"] == pytest.approx(live["covered_pct"], rel=1e-9)
    assert cmp["covered_after_pct"] == pytest.approx(what_if["covered_pct"], rel=1e-9)
    assert page.text_content("#pl-gained") == f"+{cmp['gained_km2']:.3f} km²"
    assert page.text_content("#pl-lost") == f"−{cmp['lost_km2']:.3f} km²"
    assert cmp["lost_km2"] > 0
