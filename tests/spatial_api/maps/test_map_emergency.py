"""The emergency panel on the map (issue 13, items 6 and 8): a real Chromium, with an
emergency token over a small constructed city, reports an incident by clicking the map,
draws its ERG zone, reads the impact table, and replays the incident's timeline.

Geodesic references are pyproj's Geod (GeographicLib), as in analysis/test_hazard.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import numpy as np
import pytest
from shapely.geometry import shape
from sqlalchemy import text

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import ALL_LAYERS, Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.support.analysis import GEOD
from tests.support.browser import Browser, needs_chromium
from tests.support.server import serving

pytestmark = [pytest.mark.clients, needs_chromium]

LON, LAT = 120.32, 36.06  # the spill, 市南区 (as in analysis/test_hazard.py)
STEP = 0.002  # the road grid's spacing, degrees
TARGETS = [  # asset, name, kind, people, (dlon, dlat) from the spill
    ("PT1", "市南实验小学", "school", 850, (0.0003, 0.0)),  # ~27 m east: isolation (60 m)
    ("PT2", "海滨养老院", "nursing_home", 120, (0.002, 0.0005)),  # ~180 m east: the square
    ("PT3", "西部社区", "residential", 400, (-0.004, 0.0)),  # west, upwind: outside
]
SHELTERS = [  # asset, name, capacity, (dlon, dlat)
    ("SH1", "汇泉广场避难场所", 600, (-0.006, 0.004)),
    ("SH2", "中山公园避难场所", 300, (0.008, 0.006)),
    ("SH3", "学校操场", 200, (0.001, -0.0003)),  # inside the zone: unusable
]
RESOURCES = [  # asset, name, kind, (dlon, dlat)
    ("ER1", "市南消防救援站", "fire_station", (-0.008, -0.006)),
    ("ER2", "市立医院", "hospital", (0.010, -0.004)),
    ("ER3", "危化品救援队", "hazmat_team", (-0.002, 0.008)),
]
VERSIONS = [  # valid_from, change, text: the constructed incident's three versions
    ("2026-05-03T02:00:00Z", {"status": "reported"}, "氯气钢瓶泄漏，现场有刺激性气味"),
    ("2026-05-03T02:20:00Z", {"status": "active", "severity": "II"}, "消防、危化品救援队到场"),
    ("2026-05-03T02:50:00Z", {"status": "contained"}, "泄漏点已封堵"),
]


# The city as it has been since 2020, so a replay of 2026 shows it.
SINCE = "tstzrange('2020-01-01', NULL)"


def at(d: tuple[float, float]) -> tuple[float, float]:
    return round(LON + d[0], 6), round(LAT + d[1], 6)


def point_sql(table: str, cols: str) -> str:
    names = ", ".join(cols.split())
    binds = ", ".join(f":{c}" for c in cols.split())
    return (
        f"INSERT INTO city.{table} (asset_id, {names}, valid, geom) "
        f"VALUES (:a, {binds}, {SINCE}, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
    )


@pytest.fixture(scope="module")
def city(db_url, engine) -> Iterator[str]:
    """A district, a road grid about the spill, targets, shelters and responders."""
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO city.districts (asset_id, name, valid, geom) "
                f"VALUES ('D1', '市南区', {SINCE}, "
                "ST_Multi(ST_MakeEnvelope(120.296, 36.044, 120.344, 36.076, 4490)))"
            )
        )
        xs, ys = np.arange(-6, 7), np.arange(-4, 5)
        for i in xs:
            for j in ys:
                p = at((i * STEP, j * STEP))
                for di, dj, name in ((1, 0, "h"), (0, 1, "v")):
                    if i + di > xs[-1] or j + dj > ys[-1]:
                        continue
                    b = at(((i + di) * STEP, (j + dj) * STEP))
                    c.execute(
                        text(
                            "INSERT INTO city.roads "
                            "(asset_id, name, road_class, speed_kmh, valid, geom) "
                            f"VALUES (:a, :n, 'secondary', 36, {SINCE}, ST_SetSRID(ST_MakeLine("
                            "ST_MakePoint(:x1, :y1), ST_MakePoint(:x2, :y2)), 4490))"
                        ),
                        {
                            "a": f"R{name}{i}_{j}",
                            "n": f"路{j}" if name == "h" else f"街{i}",
                            "x1": p[0],
                            "y1": p[1],
                            "x2": b[0],
                            "y2": b[1],
                        },
                    )
        for a, name, kind, people, d in TARGETS:
            x, y = at(d)
            c.execute(
                text(point_sql("protected_targets", "name kind population")),
                {"a": a, "name": name, "kind": kind, "population": people, "x": x, "y": y},
            )
        for a, name, capacity, d in SHELTERS:
            x, y = at(d)
            c.execute(
                text(point_sql("shelters", "name capacity status")),
                {"a": a, "name": name, "capacity": capacity, "status": "open", "x": x, "y": y},
            )
        for a, name, kind, d in RESOURCES:
            x, y = at(d)
            c.execute(
                text(point_sql("emergency_resources", "name kind status")),
                {"a": a, "name": name, "kind": kind, "status": "in_service", "x": x, "y": y},
            )
    yield db_url
    tables = ", ".join(
        f"city.{t}"
        for spec in ALL_LAYERS
        for t in (spec.id, spec.history_table, spec.scenario_table)
    )
    with engine.begin() as c:
        c.execute(
            text(
                f"TRUNCATE {tables}, city.tokens, city.audit, city.results, "
                "city.result_features, city.scenarios"
            )
        )


@pytest.fixture(scope="module")
def tokens(city, engine) -> dict[str, str]:
    roles = load_roles(Catalog().values())
    return {
        "emergency": create_token(engine, roles, "emergency", "duty-officer", None),
        "planner": create_token(engine, roles, "planner", "planner", None),
    }


@pytest.fixture(scope="module")
def live_url(city) -> Iterator[str]:
    with serving(create_app(city, ServerSettings(), pool_size=4)) as url:
        yield url


@pytest.fixture(scope="module")
def incident(live_url, tokens) -> str:
    """An incident recorded through the write API in three versions, one per step."""
    auth = {"Authorization": f"Bearer {tokens['emergency']}"}
    (t0, first, note), *later = VERSIONS
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        "properties": {"name": "香港中路氯气泄漏", "kind": "chemical", "started_at": t0}
        | first
        | {"description": note},
    }
    r = httpx.post(
        f"{live_url}/collections/incidents/items",
        json=feature,
        headers=auth,
        params={"valid_from": t0},
    )
    assert r.status_code == 201, r.text
    asset = r.json()["ids"][0]
    for when, change, note in later:
        etag = httpx.get(f"{live_url}/collections/incidents/items/{asset}").headers["etag"]
        r = httpx.patch(
            f"{live_url}/collections/incidents/items/{asset}",
            json={"properties": change | {"description": note}},
            headers=auth | {"If-Match": etag, "Content-Type": "application/merge-patch+json"},
            params={"valid_from": when},
        )
        assert r.status_code == 204, r.text
    return asset


def open_panel(browser: Browser, url: str, token: str | None, zoom: float = 15):
    """/map at a command centre's 1366×768, in Qingdao's time zone, over the spill."""
    page = browser.browser.new_page(
        viewport={"width": 1366, "height": 768}, timezone_id="Asia/Shanghai"
    )
    page.route("**/*", browser.only_localhost)
    page.on("pageerror", lambda e: browser.errors.append(str(e)))
    page.goto(f"{url}/map" + (f"?token={token}" if token else ""))
    page.evaluate("citygis.ready")
    page.evaluate(f"citygis.map.jumpTo({{center: [{LON + 0.004}, {LAT}], zoom: {zoom}}})")
    page.evaluate("citygis.idle()")
    return page


def click_map(page, lon: float, lat: float) -> tuple[float, float]:
    """A real mouse click at lon/lat; returns the lon/lat the map makes of that pixel."""
    x, y = page.evaluate(
        f"""(() => {{ const p = citygis.map.project([{lon}, {lat}]);
        const r = citygis.map.getCanvas().getBoundingClientRect();
        return [Math.round(r.left + p.x), Math.round(r.top + p.y)]; }})()"""
    )
    page.mouse.click(x, y)
    return tuple(
        page.evaluate(
            f"""(() => {{ const r = citygis.map.getCanvas().getBoundingClientRect();
            return citygis.map.unproject([{x} - r.left, {y} - r.top]).toArray(); }})()"""
        )
    )


def choose(page, asset: str) -> None:
    page.select_option("#em-incident", asset)
    page.wait_for_function("document.querySelectorAll('#em-log li').length > 0")


def cell(page, ring: str, key: str) -> str:
    return page.text_content(f"#em-impact td[data-ring={ring}][data-key={key}]")


def test_clicking_the_map_reports_an_incident(live_url, tokens, incident, browser, shots):
    page = open_panel(browser, live_url, tokens["emergency"])
    assert page.is_visible("#emergency-panel")
    assert page.text_content("#em-role") == "emergency"
    kinds = page.eval_on_selector_all("#em-kind option", "os => os.map(o => o.value)")
    assert kinds == list(Catalog()["incidents"].attribute("kind").choices)
    listed = page.eval_on_selector_all("#em-incident option", "os => os.map(o => o.value)")
    assert listed == ["", incident]  # the open incidents
    page.click("#em-new")
    assert page.is_disabled("#em-create")  # until the map is clicked
    lon, lat = click_map(page, LON + 0.003, LAT + 0.002)
    page.select_option("#em-kind", "gas_leak")
    page.select_option("#em-severity", "III")
    page.fill("#em-name", "燃气泄漏 · 太平路")
    page.fill("#em-description", "居民报告燃气味")
    page.fill("#em-started", "2026-05-03T11:15")  # local, Asia/Shanghai
    page.screenshot(path=shots / "emergency-1-report.png")
    page.click("#em-create")
    page.wait_for_function("citygis.emergency.state.incident?.properties.kind === 'gas_leak'")
    made = page.evaluate("citygis.emergency.state.incident.id")
    got = httpx.get(f"{live_url}/collections/incidents/items/{made}").json()
    props = got["properties"]
    assert {k: props[k] for k in ("name", "kind", "severity", "status", "description")} == {
        "name": "燃气泄漏 · 太平路",
        "kind": "gas_leak",
        "severity": "III",
        "status": "reported",
        "description": "居民报告燃气味",
    }
    assert datetime.fromisoformat(props["started_at"]) == datetime.fromisoformat(
        "2026-05-03T03:15:00+00:00"
    )
    assert datetime.fromisoformat(props["valid_from"]) == datetime.fromisoformat(
        "2026-05-03T03:15:00+00:00"
    )
    assert got["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-9)
    assert page.input_value("#em-incident") == made  # listed and chosen
    page.wait_for_function("document.querySelectorAll('#em-log li').length === 1")
    assert page.text_content("#em-log li time") == "2026-05-03 11:15"
    assert "duty-officer (emergency)" in page.text_content("#em-log li")
    # A refusal is shown with the server's words: no kind, then told.
    page.click("#em-new")
    click_map(page, LON + 0.004, LAT + 0.002)
    page.eval_on_selector("#em-kind", "e => { e.append(new Option('meteor', 'meteor')); }")
    page.select_option("#em-kind", "meteor")
    page.click("#em-create")
    page.locator("#em-message.error").wait_for(timeout=60_000)
    assert page.text_content("#em-message") == (
        "Not reported · 未上报: 422 kind: 'meteor' is not one of fire, flood, gas_leak, "
        "pipe_burst, collapse, chemical, traffic, earthquake, typhoon, other"
    )
    page.click("#em-cancel")


def test_erg_chlorine_zone_east_of_the_spill_and_its_impact(
    live_url, tokens, incident, browser, shots
):
    page = open_panel(browser, live_url, tokens["emergency"])
    choose(page, incident)
    page.select_option("#em-preset", "erg")
    page.fill("#em-erg-material", "chlorine")
    page.select_option("#em-erg-spill", "small")
    page.select_option("#em-erg-time", "day")
    page.fill("#em-wind", "270")
    page.click("#em-zone-run")
    page.wait_for_function("document.querySelector('#em-impact td') !== null")
    data = page.evaluate("citygis.map.getSource('em-zone').getData()")
    rings = {f["properties"]["zone"]: f for f in data["features"]}
    assert sorted(rings) == ["isolation", "protective_action"]
    assert [rings[z]["properties"]["distance_m"] for z in ("isolation", "protective_action")] == [
        60,
        300,
    ]
    c = shape(rings["protective_action"]["geometry"]).centroid
    az, _, dist = GEOD.inv(LON, LAT, c.x, c.y)
    assert abs(dist - 150) < 1.0 and abs(az - 90) < 0.1  # D/2 downwind of a west wind
    legend = page.eval_on_selector_all("#em-legend li", "ls => ls.map(l => l.dataset.zone)")
    assert legend == ["isolation", "protective_action"]
    assert "60 m" in page.text_content("#em-legend li[data-zone=isolation]")
    assert "300 m" in page.text_content("#em-legend li[data-zone=protective_action]")
    assert "ERG 2016" in page.text_content("#em-edition")
    # The impact table: the school in the circle, the nursing home in the square.
    assert [cell(page, r, "protected_targets") for r in ("isolation", "protective_action")] == [
        "1",
        "1",
    ]
    assert cell(page, "total", "protected_targets") == "2"
    assert [cell(page, r, "people") for r in ("isolation", "protective_action", "total")] == [
        "850",
        "120",
        "970",
    ]
    assert cell(page, "total", "shelters_unusable") == "1"
    assert cell(page, "total", "shelter_capacity_lost") == "200"
    # Shelters: 970 people, 900 places outside; 70 are left, in red.
    page.wait_for_function("document.querySelector('#em-shelters td') !== null")
    assert page.text_content("#em-shelters-status").startswith(
        "970 people · 人: 900 assigned · 已安置, 70 unassigned · 未安置"
    )
    rows = page.eval_on_selector_all(
        "#em-shelters tbody tr",
        "rs => rs.map(r => [r.dataset.shelter, r.children[1].textContent])",
    )
    assert sorted(rows) == [
        ["SH1", "600 / 600"],
        ["SH2", "300 / 300"],
        ["SH3", "inside the zone"],
    ]
    assert "70 people unassigned" in page.text_content("#em-unassigned")
    # Responders: three units by road, fastest first, each with its ETA.
    page.wait_for_function("document.querySelectorAll('#em-responders li').length === 3")
    units = page.eval_on_selector_all("#em-responders li", "ls => ls.map(l => l.dataset.unit)")
    assert sorted(units) == ["ER1", "ER2", "ER3"]
    assert all(
        "ETA " in t
        for t in page.eval_on_selector_all("#em-responders li", "ls => ls.map(l => l.textContent)")
    )
    page.evaluate("citygis.idle()")
    page.screenshot(path=shots / "emergency-2-zone-impact.png")
    page.locator("#em-impact-box").scroll_into_view_if_needed()
    page.locator("#emergency-panel").screenshot(path=shots / "emergency-3-impact.png")
    page.locator("#em-responders-box").scroll_into_view_if_needed()
    page.locator("#emergency-panel").screenshot(path=shots / "emergency-3-shelters.png")


def test_the_timeline_replays_the_incident_minute_by_minute(
    live_url, tokens, incident, browser, shots
):
    page = open_panel(browser, live_url, tokens["emergency"], zoom=16)
    choose(page, incident)
    log = page.eval_on_selector_all(
        "#em-log li",
        "ls => ls.map(l => [l.querySelector('time').textContent, "
        "l.querySelector('.status').textContent, l.querySelector('.who').textContent])",
    )
    assert log == [
        ["2026-05-03 10:00", "reported", "duty-officer (emergency)"],
        ["2026-05-03 10:20", "active", "duty-officer (emergency)"],
        ["2026-05-03 10:50", "contained", "duty-officer (emergency)"],
    ]
    assert page.get_attribute("#em-replay", "max") == "70"  # 09:50 to 11:00, by the minute
    page.select_option("#em-speed", "200")  # 30 ticks from the start to the second version
    page.click("#em-play")
    second = "Date.parse('2026-05-03T02:20:00Z')"
    page.wait_for_function(f"Date.parse(citygis.state.datetime) > {second}", timeout=120_000)
    page.click("#em-play")  # pause
    now = page.evaluate("citygis.state.datetime")
    assert "2026-05-03T02:20:00Z" < now < "2026-05-03T02:50:00Z"
    assert page.is_visible("#em-instant")
    shown = page.text_content("#em-instant-text")  # local time: Asia/Shanghai
    assert shown == f"2026-05-03 {datetime.fromisoformat(now).hour + 8}:{now[14:16]} (UTC+8)"
    drawn = page.evaluate("citygis.map.getSource('em-incident').getData()")
    assert [f["properties"]["status"] for f in drawn["features"]] == ["active"]
    page.wait_for_function(  # the incidents' tiles as of that instant: the second version
        "citygis.map.queryRenderedFeatures({layers: citygis.state.layerIds.incidents})"
        f".some((f) => f.properties.asset_id === {incident!r} && f.properties.status === 'active')"
    )
    assert page.eval_on_selector("#em-log li.current .status", "e => e.textContent") == "active"
    page.evaluate("citygis.idle()")
    page.screenshot(path=shots / "emergency-4-replay.png")
    # Before the first version, the incident is not there yet.
    page.fill("#em-replay", "5")
    page.dispatch_event("#em-replay", "input")
    assert page.evaluate("citygis.state.datetime") == "2026-05-03T01:55:00.000Z"
    drawn = page.evaluate("citygis.map.getSource('em-incident').getData()")
    assert drawn["features"] == []
    page.click("#em-live")
    assert page.evaluate("citygis.state.datetime") is None
    assert not page.is_visible("#em-instant")


def test_a_public_page_and_a_planner_show_no_emergency_panel(live_url, tokens, browser, shots):
    page = open_panel(browser, live_url, None)
    assert not page.is_visible("#emergency-panel")
    assert page.evaluate("typeof window.citygisEmergency") == "undefined"  # never fetched
    page.screenshot(path=shots / "emergency-5-public.png")
    page = open_panel(browser, live_url, tokens["planner"])
    assert not page.is_visible("#emergency-panel")
    assert page.evaluate("typeof window.citygisEmergency") == "undefined"
