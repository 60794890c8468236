"""The map: /map and its npm assets, self-contained folium pages, and a real browser on it."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient

from layers import ALL_LAYERS
from tests.support.browser import Browser, needs_chromium
from tests.support.loading import count
from tests.support.server import serving
from tests.support.webmap import TOKEN, demo_loaded, fetched_urls, remote, webmap_app

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def demo_db(db_url, engine):
    yield from demo_loaded(db_url, engine)


@pytest.fixture(scope="module")
def client(demo_db):
    with TestClient(webmap_app(demo_db)) as c:
        yield c


def test_map_page_loads_only_our_own_assets(client):
    r = client.get("/map")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    urls, scripts = fetched_urls(r.text)
    assert scripts == 2 and remote(urls) == []
    assert "static/vendor/maplibre-gl/maplibre-gl.js" in urls
    for url in urls:  # relative to /map, like the browser resolves them
        asset = client.get(urljoin("http://testserver/map", url))
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url


def test_a_shared_scenario_link_opens_the_map(client):
    """scenarios.js keeps `?scenario=` in the page's URL, so a reload or a link reopens it."""
    assert client.get("/map", params={"scenario": "scn-0123", "token": "t"}).status_code == 200
    r = client.get("/map", params={"senario": "scn-0123"})
    assert r.status_code == 400 and "senario" in r.json()["detail"]


def test_map_config_has_no_basemap_by_default(client, demo_db):
    assert client.get("/map/config.json").json() == {
        "basemap_url": None,
        "basemap_gcj02": False,
        "tile_matrix_set": "WebMercatorQuad",
    }
    amap = "http://127.0.0.1:9/amap/{z}/{x}/{y}.png"
    with TestClient(webmap_app(demo_db, basemap_url=amap, basemap_gcj02=True)) as c:
        body = c.get("/map/config.json").json()
    assert (body["basemap_url"], body["basemap_gcj02"]) == (amap, True)


def test_vendor_path_traversal_is_refused(client):
    assert client.get("/static/vendor/maplibre-gl/../package.json").status_code == 404
    assert client.get("/static/vendor/maplibre-gl/%2e%2e/package.json").status_code == 404


def test_layer_map_is_self_contained_and_holds_the_features(client, engine):
    r = client.get("/collections/shelters/map.html")
    assert r.status_code == 200
    urls, scripts = fetched_urls(r.text)
    assert remote(urls) == [] and urls == []  # Leaflet is inline, nothing is linked
    assert scripts >= 2 and "L.map(" in r.text
    n = count(engine, "SELECT count(*) FROM city.shelters_current")
    assert n > 0 and r.text.count('"type": "Feature"') == n
    name = count(engine, "SELECT name FROM city.shelters_current ORDER BY version_id LIMIT 1")
    assert name.encode("unicode_escape").decode() in r.text or name in r.text


def test_restricted_layer_map_needs_the_token(client):
    r = client.get("/collections/pipe_nodes/map.html?limit=50")
    assert r.status_code == 403
    assert "restricted" in r.json()["detail"]
    # More than the limit is refused with the count, never cut to the first 50.
    r = client.get("/collections/pipelines/map.html?limit=50", headers=AUTH)
    assert r.status_code == 413 and "more than the 50" in r.json()["detail"]
    total = client.get("/collections/pipelines/items?limit=1", headers=AUTH).json()
    r = client.get("/collections/pipelines/map.html?limit=10000", headers=AUTH)
    assert r.text.count('"type": "Feature"') == total["numberMatched"]


def test_area_map_checks_its_bbox_and_layers(client):
    r = client.get("/map/area.html?bbox=120.3,36.0,120.5")
    assert r.status_code == 400
    assert r.json()["detail"] == "bbox: expected 4 or 6 finite numbers"
    r = client.get("/map/area.html?bbox=120.5,36.0,120.3,36.2")
    assert r.status_code == 400 and "exceeds its upper" in r.json()["detail"]
    r = client.get("/map/area.html?bbox=120.3,36.0,120.5,36.2&layers=districts,hazard_sources")
    assert r.status_code == 403 and "hazard_sources" in r.json()["detail"]
    r = client.get("/map/area.html?bbox=120.3,36.0,120.5,36.2&layers=districts,shelters")
    assert r.status_code == 200 and remote(fetched_urls(r.text)[0]) == []


def test_area_map_takes_its_bbox_in_any_supported_crs(client, engine):
    from pyproj import Transformer

    n = count(
        engine,
        "SELECT count(*) FROM city.shelters_current WHERE geom && "
        "ST_MakeEnvelope(120.3, 36.0, 120.5, 36.2, 4490)",
    )
    lonlat = client.get(
        "/map/area.html", params={"bbox": "120.3,36.0,120.5,36.2", "layers": "shelters"}
    )
    # The same area as a Gauss-Kruger box (EPSG:4549, metres) that holds the lon/lat box.
    xs, ys = Transformer.from_crs(4490, 4549, always_xy=True).transform(
        [120.3, 120.5, 120.5, 120.3], [36.0, 36.0, 36.2, 36.2]
    )
    gk = client.get(
        "/map/area.html",
        params={
            "bbox": f"{min(xs)},{min(ys)},{max(xs)},{max(ys)}",
            "bbox-crs": "EPSG:4549",
            "layers": "shelters",
        },
    )
    assert lonlat.status_code == gk.status_code == 200
    assert 0 < n == lonlat.text.count('"type": "Feature"') <= gk.text.count('"type": "Feature"')
    bad = client.get("/map/area.html", params={"bbox": "1,2,3,4", "bbox-crs": "EPSG:9999"})
    assert bad.status_code == 400 and "unsupported CRS" in bad.json()["detail"]


def test_answer_map_shows_the_feature_collection(client):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [120.38, 36.07]},
                "properties": {"name": "shelter-answer-1", "distance_m": 120.5},
            }
        ],
    }
    r = client.post("/map/answer.html?title=nearest", json=fc)
    assert r.status_code == 200
    assert "shelter-answer-1" in r.text and remote(fetched_urls(r.text)[0]) == []
    r = client.post("/map/answer.html", json={"type": "Feature", "features": []})
    assert r.status_code == 422


@pytest.mark.parametrize(
    "features, where",
    [
        ([{}], "features.0.type"),  # was a 500
        ([{"type": "Feature", "properties": {}}], "features.0.geometry"),
        (
            [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "LineString", "coordinates": [[120.3, 36.0]]},
                }
            ],
            "features.0.geometry.LineString.coordinates",
        ),
        (
            [{"type": "Feature", "properties": {}, "geometry": {"type": "Circle"}}],
            "features.0.geometry",
        ),
    ],
)
def test_answer_map_refuses_bad_geojson_with_422(client, features, where):
    r = client.post("/map/answer.html", json={"type": "FeatureCollection", "features": features})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert any(
        ".".join(map(str, e["loc"])).startswith(f"body.{where}") for e in r.json()["errors"]
    ), r.json()


def test_answer_map_draws_features_and_skips_null_geometries(client):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": None, "properties": {"name": "nowhere-1"}},
            {
                "type": "Feature",
                "id": 7,
                "properties": None,
                "geometry": {"type": "Point", "coordinates": [120.38, 36.07]},
            },
        ],
    }
    r = client.post("/map/answer.html", json=fc)
    assert r.status_code == 200, r.text
    assert "120.38" in r.text and "nowhere-1" not in r.text


# ---- a real browser on a live server ----


@pytest.fixture(scope="module")
def live_url(demo_db):
    with serving(webmap_app(demo_db)) as url:
        yield url


@pytest.mark.clients
@needs_chromium
def test_browser_draws_tiles_and_the_time_slider_goes_back(live_url, engine, tmp_path):
    from playwright.sync_api import sync_playwright

    lon, lat = count(
        engine,
        "SELECT array[ST_X(c), ST_Y(c)] FROM (SELECT ST_Centroid("
        "ST_Extent(geom)) c FROM city.pipelines_as_of('1975-01-01')) q",
    )
    with sync_playwright() as p:
        b = Browser(p)
        try:
            page = b.open_map(f"{live_url}/map?token={TOKEN}")
            assert page.evaluate("citygis.rendered('districts')") >= 5
            assert page.locator("#layers li").count() == len(ALL_LAYERS)  # the token: every one
            page.evaluate(f"citygis.map.jumpTo({{center: [{lon}, {lat}], zoom: 12}})")
            page.evaluate("citygis.idle()")
            now = page.evaluate("citygis.rendered('pipelines')")
            districts = page.evaluate("citygis.rendered('districts')")
            page.evaluate("citygis.setYear(1975)")
            past = page.evaluate("citygis.rendered('pipelines')")
            assert page.evaluate("citygis.rendered('districts')") == 0  # none before 2012-12
            assert page.locator("#year-label").text_content() == "1 Jan 1975"
            page.screenshot(path=tmp_path / "map-1975.png")
            page.evaluate("citygis.setYear(2015)")  # districts are there from 2012-12-01
            assert page.evaluate("citygis.rendered('districts')") == districts > 0
            page.evaluate("citygis.setYear(new Date().getFullYear())")
            again = page.evaluate("citygis.rendered('pipelines')")
        finally:
            b.browser.close()
    assert now > 0 and past < now, (past, now)
    assert again == now
    assert b.blocked == [] and b.errors == []


@pytest.mark.clients
@needs_chromium
def test_browser_on_a_gcj02_basemap_draws_and_queries_in_gcj02(demo_db, engine):
    from playwright.sync_api import sync_playwright

    from loaders.chinese_offsets import wgs84_to_gcj02

    site, lon, lat = count(
        engine,
        "SELECT array[asset_id, ST_X(geom)::text, ST_Y(geom)::text]"
        " FROM city.scenic_sites_current ORDER BY asset_id LIMIT 1",
    )
    lon, lat = float(lon), float(lat)
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    with serving(webmap_app(demo_db, basemap_gcj02=True)) as url, sync_playwright() as p:
        b = Browser(p)
        try:
            page = b.open_map(f"{url}/map")
            page.evaluate(f"citygis.map.jumpTo({{center: [{glon}, {glat}], zoom: 16}})")
            page.evaluate("citygis.idle()")
            drawn = page.evaluate("""citygis.map.queryRenderedFeatures(
                {layers: citygis.state.layerIds.scenic_sites})
                .map((f) => [f.properties.asset_id, ...f.geometry.coordinates])""")
            page.select_option("#target", "scenic_sites")
            answer = page.evaluate(f"citygis.runTool('nearest', [[{glon}, {glat}]])")
        finally:
            b.browser.close()
    x, y = next((x, y) for a, x, y in drawn if a == site)
    metres = 111_320 * max(abs(x - glon) * 0.81, abs(y - glat))
    assert metres < 3, (x, y, glon, glat)  # drawn on the GCJ-02 spot (z16 pixel ≈ 2 m)
    first = answer["features"][0]
    assert first["id"] == site and first["properties"]["distance_m"] < 0.5
    assert first["geometry"]["coordinates"] == pytest.approx([glon, glat], abs=1e-6)
    assert b.blocked == [] and b.errors == []


@pytest.mark.clients
@needs_chromium
def test_browser_isolates_a_pipe_break_clicked_on_the_map(live_url, engine):
    import httpx
    from playwright.sync_api import sync_playwright

    pipe, x, y = count(
        engine,
        """
        SELECT array[asset_id, ST_X(p)::text, ST_Y(p)::text] FROM (
            SELECT asset_id, ST_LineInterpolatePoint(ST_Force2D(geom), 0.5) AS p
            FROM city.pipelines_current WHERE utility = 'water' ORDER BY version_id LIMIT 1) q""",
    )
    want = httpx.post(f"{live_url}/analysis/isolate", headers=AUTH, json={"pipe": pipe}).json()[
        "features"
    ]
    with sync_playwright() as p:
        b = Browser(p)
        try:
            page = b.open_map(f"{live_url}/map?token={TOKEN}")
            page.select_option("#tool", "isolate")
            assert page.is_visible("#utility-row")  # the break tool asks which utility broke
            choices = page.eval_on_selector_all("#utility option", "os => os.map(o => o.value)")
            page.select_option("#utility", "water")
            got = page.evaluate(f"citygis.runTool('isolate', [[{x}, {y}]])")["features"]
            status = page.locator("#status").text_content()
        finally:
            b.browser.close()
    assert choices == ["water", "drainage", "gas", "heating", "telecom", "power"]
    assert got[0]["properties"]["broken_pipe"] == pipe
    close = {f["properties"]["asset_id"] for f in got if f["properties"]["role"] == "close"}
    assert (
        close
        == {f["properties"]["asset_id"] for f in want if f["properties"]["role"] == "close"}
        != set()
    )
    assert status.startswith(f"break on {pipe}: close {len(close)} valve(s)")
    assert b.blocked == [] and b.errors == []


@pytest.mark.clients
@needs_chromium
def test_browser_labels_features_by_their_style_without_overlaps(live_url, engine):
    from playwright.sync_api import sync_playwright

    districts = set(count(engine, "SELECT array_agg(name) FROM city.districts_current"))
    site, lon, lat = count(
        engine,
        "SELECT array[name, ST_X(geom)::text, ST_Y(geom)::text]"
        " FROM city.scenic_sites_current ORDER BY asset_id LIMIT 1",
    )
    with sync_playwright() as p:
        b = Browser(p)
        try:
            page = b.open_map(f"{live_url}/map")
            page.wait_for_function("citygis.labels().length > 0")
            whole = page.evaluate("citygis.labels()")
            page.click("#toggle-districts")
            page.evaluate("new Promise((ok) => citygis.map.once('idle', ok))")
            hidden = page.evaluate("citygis.labels()")
            page.evaluate(f"citygis.map.jumpTo({{center: [{lon}, {lat}], zoom: 16}})")
            page.evaluate("citygis.idle()")
            page.wait_for_function("citygis.labels().some(([l]) => l === 'scenic_sites')")
            close = page.evaluate("citygis.labels()")
        finally:
            b.browser.close()
    named = {text for layer, text, *_ in whole if layer == "districts"}
    assert len(named) >= 5 and named <= districts
    for i, (_, _, x, y, w, h) in enumerate(whole):  # no two labels overlap
        for _, _, x2, y2, w2, h2 in whole[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
    assert not any(layer == "districts" for layer, *_ in hidden)
    assert site in {text for layer, text, *_ in close if layer == "scenic_sites"}
    assert b.blocked == [] and b.errors == []


@pytest.mark.clients
@needs_chromium
def test_browser_charts_a_sensors_readings_in_its_popup(live_url, engine):
    from playwright.sync_api import sync_playwright

    sensor, lon, lat = count(
        engine,
        "SELECT array[asset_id, ST_X(geom)::text, ST_Y(geom)::text]"
        " FROM city.sensors_current WHERE sensor_kind = 'pressure'"
        " ORDER BY asset_id LIMIT 1",
    )
    with sync_playwright() as p:
        b = Browser(p)
        try:
            page = b.open_map(f"{live_url}/map?token={TOKEN}")
            page.evaluate(f"citygis.map.jumpTo({{center: [{lon}, {lat}], zoom: 17}})")
            page.evaluate("citygis.idle()")
            page.evaluate(f"""citygis.inspect({{point: citygis.map.project([{lon}, {lat}]),
                                                lngLat: {{lng: {lon}, lat: {lat}}}}})""")
            popup = page.locator(".maplibregl-popup-content")
            popup.locator(".sensor-chart").wait_for()
            text = popup.text_content()
            points = page.evaluate(
                "document.querySelector('.sensor-chart polyline').getAttribute('points')"
            )
        finally:
            b.browser.close()
    assert f"管网监测点 {sensor}" in text
    assert "168 hourly means to 2024-12-31T15:00:00Z" in text and "MPa" in text
    assert len(points.split()) == 168
    assert b.blocked == [] and b.errors == []


def test_an_answer_whose_line_mixes_2d_and_3d_is_a_422(db_url):
    """Found by schemathesis: a 500 before."""
    from fastapi.testclient import TestClient

    from citygis.settings import ServerSettings
    from spatial_api import create_app

    line = {"type": "MultiLineString", "coordinates": [[[120.3, 36.0, 1.0], [120.31, 36.01]]]}
    body = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": line, "properties": None}],
    }
    with TestClient(create_app(db_url, ServerSettings(), pool_size=1)) as client:
        r = client.post("/map/answer.html", json=body)
    assert r.status_code == 422
    assert r.json()["detail"] == "features[0].geometry: positions mix 2D and 3D"


def test_an_answer_whose_features_have_different_properties_is_drawn():
    """A route and its approach in one answer: folium once refused the second's fields."""
    from spatial_api.maps import render_map, to_html

    line = {"type": "LineString", "coordinates": [[120.30, 36.06], [120.31, 36.07]]}
    answer = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": line, "properties": {"length_m": 1200.0}},
            {"type": "Feature", "geometry": line, "properties": {"inside_zone": True}},
        ],
    }
    page = to_html(render_map([], {"route": answer}, title="route"))
    assert "inside_zone" in page and "length_m" in page
