"""Offline bundles: the zip opens, its GeoPackage holds what the items hold for the same
area, its map draws in Chromium with every request refused, and nothing is cut."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pyogrio
import pytest
from fastapi.testclient import TestClient

from citygis.tokens import create_token
from layers import Access, Catalog
from layers.roles import load_roles
from spatial_api.bundle import BundleSettings
from tests.support.browser import Browser, needs_chromium
from tests.support.loading import count
from tests.support.webmap import TOKEN, demo_loaded, fetched_urls, webmap_app
from tests.tiles.test_tiles import insert

CATALOG = Catalog()
ROLES = load_roles(CATALOG.values())
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
FILES = {"map.html", "layers.gpkg", "summary.html", "manifest.json"}


@pytest.fixture(scope="module")
def client(db_url, engine):
    """The demo city served; emptied when the module is done."""
    for url in demo_loaded(db_url, engine):
        with TestClient(webmap_app(url)) as c:
            yield c


@pytest.fixture(scope="module")
def emergency(engine, client) -> dict[str, str]:
    token = create_token(engine, ROLES, "emergency", "bundle-emergency", None)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def leak(engine, client) -> str:
    """A current gas leak of the demo: its default zone is Guide 115's 100 m."""
    return count(
        engine,
        "SELECT asset_id FROM city.incidents_current WHERE kind = 'gas_leak' "
        "ORDER BY asset_id LIMIT 1",
    )


def unzip(content: bytes, tmp_path: Path) -> tuple[dict, Path]:
    """The manifest, and the folder the zip unpacked into."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        names = z.namelist()
        folder = names[0].split("/")[0]
        assert {n.split("/", 1)[1] for n in names} == FILES
        z.extractall(tmp_path)
    root = tmp_path / folder
    return json.loads((root / "manifest.json").read_text()), root


def items_matched(client: TestClient, layer: str, bbox: list[float], headers: dict) -> int:
    params = {"bbox": ",".join(map(repr, bbox)), "limit": 1}
    r = client.get(f"/collections/{layer}/items", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["numberMatched"]


def gpkg_counts(path: Path) -> dict[str, int]:
    return {
        name: pyogrio.read_info(path, layer=name)["features"]
        for name, _ in pyogrio.list_layers(path)
    }


@pytest.fixture(scope="module")
def leak_bundle(client, emergency, leak, tmp_path_factory) -> tuple[dict, Path]:
    r = client.get(f"/incidents/{leak}/bundle", headers=emergency)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert f'filename="incident-{leak}.zip"' in r.headers["content-disposition"]
    return unzip(r.content, tmp_path_factory.mktemp("leak"))


def test_the_geopackage_counts_match_the_items_for_the_same_area(client, emergency, leak_bundle):
    manifest, root = leak_bundle
    held = gpkg_counts(root / "layers.gpkg")
    assert held.pop("zones") == manifest["extra_layers"]["zones"] == 1  # Guide 115: one circle
    assert held == manifest["layers"]
    assert set(held) == {s.id for s in CATALOG.values()}  # emergency reads every layer
    api = {layer: items_matched(client, layer, manifest["bbox"], emergency) for layer in held}
    assert held == api
    assert held["roads"] > 0 and held["districts"] > 0 and held["incidents"] > 0
    info = pyogrio.read_info(root / "layers.gpkg", layer="pipelines")
    assert info["crs"] == "EPSG:4490" and info["geometry_type"] == "LineString Z"


def test_the_summary_tells_the_incident_its_zone_and_impact(leak_bundle, leak):
    manifest, root = leak_bundle
    page = (root / "summary.html").read_text()
    assert leak in page and "@media print" in page and "<script" not in page
    for section in ("Status timeline", "Zones", "Impact, ring by ring", "Shelters assigned"):
        assert f"<h2>{section}</h2>" in page
    assert "Guide 115" in page or "ERG" in page  # the zone names its table
    assert manifest["role"] == "emergency" and manifest["datetime"] is None


def test_the_map_is_self_contained(leak_bundle):
    _, root = leak_bundle
    page = (root / "map.html").read_text()
    urls, scripts = fetched_urls(page)
    assert urls == [] and scripts >= 2  # nothing linked: Leaflet is inline
    assert '"layer": "pipelines"' in page  # the affected pipes, for a role that reads them
    assert "tile.openstreetmap" not in page and "//cdn" not in page


@needs_chromium
def test_the_map_draws_in_chromium_with_no_network(leak_bundle):
    from playwright.sync_api import sync_playwright

    _, root = leak_bundle
    url = (root / "map.html").as_uri()
    refused: list[str] = []

    def only_the_page(route):  # the file itself opens; any other request is refused
        if route.request.url == url:
            return route.continue_()
        refused.append(route.request.url)
        return route.abort()

    with sync_playwright() as p:
        b = Browser(p)
        page = b.browser.new_page(viewport={"width": 1000, "height": 700})
        page.route("**/*", only_the_page)
        page.on("pageerror", lambda e: b.errors.append(str(e)))
        page.goto(url)
        drawn = page.evaluate(
            """() => Object.keys(window)
                 .filter(k => k.startsWith('geo_json_') && window[k] instanceof L.GeoJSON)
                 .map(k => window[k].getLayers().length)"""
        )
        legend = page.inner_text(".citygis-legend")
        b.browser.close()
    assert b.errors == []
    assert refused == []
    assert len(drawn) >= 5 and sum(drawn) > 0  # districts, roads, incidents, zones …
    assert "zones" in legend and "道路" in legend or "roads" in legend.lower()


def test_an_anonymous_bundle_holds_public_layers_only(client, leak, tmp_path):
    r = client.get(f"/incidents/{leak}/bundle")
    assert r.status_code == 200, r.text
    manifest, root = unzip(r.content, tmp_path)
    public = {s.id for s in CATALOG.values() if s.access is Access.public}
    views = {s.id for s in CATALOG.values() if s.public_view is not None}  # pipelines
    held = gpkg_counts(root / "layers.gpkg")
    held.pop("zones")
    assert set(held) == public | views and manifest["role"] == "viewer"
    assert "hazard_sources" not in held
    # Pipelines as their public view: the utility only, on the generalised line.
    pipes = pyogrio.read_dataframe(root / "layers.gpkg", layer="pipelines")
    assert "utility" in pipes.columns and not {"owner", "diameter_mm"} & set(pipes.columns)
    assert len(pipes) > 0 and not pipes.has_z.any()
    summary = (root / "summary.html").read_text()
    assert "withheld from this role: hazard_sources, pipelines" in summary
    assert '"layer": "pipelines"' not in (root / "map.html").read_text()  # no affected pipes
    assert held == {layer: items_matched(client, layer, manifest["bbox"], {}) for layer in held}


def test_an_area_bundle_counts_match_the_items(client, tmp_path):
    bbox = [120.30, 36.05, 120.34, 36.08]
    r = client.get("/bundle", params={"bbox": ",".join(map(str, bbox))}, headers=ADMIN)
    assert r.status_code == 200, r.text
    manifest, root = unzip(r.content, tmp_path)
    held = gpkg_counts(root / "layers.gpkg")
    assert held == manifest["layers"]
    assert held == {layer: items_matched(client, layer, bbox, ADMIN) for layer in held}
    assert manifest["title"] == "area 120.3,36.05,120.34,36.08"
    r = client.get("/bundle")
    assert r.status_code == 400
    assert r.json()["detail"] == "bbox: a bundle needs its area, minx,miny,maxx,maxy"


def test_a_bundle_is_of_one_instant(client, leak, emergency, engine, tmp_path):
    r = client.get(
        "/bundle",
        params={"bbox": "120.3,36.05,120.34,36.08", "datetime": "../2020-01-01T00:00:00Z"},
    )
    assert r.status_code == 400
    assert r.json()["detail"] == "datetime: a bundle is the city at one instant, not an interval"
    before = "1990-01-01T00:00:00Z"  # before the incident was reported
    r = client.get(f"/incidents/{leak}/bundle", params={"datetime": before}, headers=emergency)
    assert r.status_code == 404 and "valid at 1990-01-01" in r.json()["detail"]
    bbox = "120.3,36.05,120.34,36.08"
    r = client.get("/bundle", params={"bbox": bbox, "datetime": before}, headers=ADMIN)
    manifest, root = unzip(r.content, tmp_path)
    then = gpkg_counts(root / "layers.gpkg")
    n = count(
        engine,
        "SELECT count(*) FROM city.pipelines_as_of('1990-01-01T00:00:00Z') WHERE "
        "ST_Intersects(geom, ST_MakeEnvelope(120.3, 36.05, 120.34, 36.08, 4490))",
    )
    assert then["pipelines"] == n and manifest["datetime"].startswith("1990-01-01")


def test_a_drill_bundle_is_the_scenarios_city(client, emergency, leak, engine, tmp_path):
    """An exercise's incident, recorded in a scenario, bundles like a real one: the bundle
    reads the scenario everywhere and says so; without the scenario it is not there."""
    sid = client.post("/scenarios", json={"title": "燃气泄漏演练"}, headers=emergency).json()["id"]
    real = client.get(f"/collections/incidents/items/{leak}", headers=emergency).json()
    lon, lat = real["geometry"]["coordinates"][:2]
    drill = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon + 0.002, lat]},
        "properties": {"name": "演练: 燃气泄漏", "kind": "gas_leak", "status": "active"}
        | {"started_at": "2026-12-01T09:00:00Z"},
    }
    r = client.post(
        "/collections/incidents/items", json=drill, headers=emergency, params={"scenario": sid}
    )
    assert r.status_code == 201, r.text
    asset = r.json()["ids"][0]
    assert client.get(f"/incidents/{asset}/bundle", headers=emergency).status_code == 404
    r = client.get(f"/incidents/{asset}/bundle", headers=emergency, params={"scenario": sid})
    assert r.status_code == 200, r.text
    manifest, root = unzip(r.content, tmp_path / "drill")
    assert manifest["scenario"] == sid
    assert f"Scenario {sid}</b>" in (root / "summary.html").read_text()
    held = gpkg_counts(root / "layers.gpkg")
    bbox = ",".join(map(repr, manifest["bbox"]))

    def matched(**params) -> int:
        params |= {"bbox": bbox, "limit": 1}
        r = client.get("/collections/incidents/items", params=params, headers=emergency)
        return r.json()["numberMatched"]

    live, in_drill = matched(), matched(scenario=sid)
    assert held["incidents"] == in_drill == live + 1  # the drill's incident is there
    assert "演练: 燃气泄漏" in (root / "summary.html").read_text()
    r = client.get("/bundle", params={"bbox": bbox, "scenario": sid}, headers=emergency)
    area, area_root = unzip(r.content, tmp_path / "area")
    assert area["scenario"] == sid
    assert gpkg_counts(area_root / "layers.gpkg")["incidents"] == in_drill
    planner = create_token(engine, ROLES, "planner", "drill-planner", None)
    r = client.get(
        "/bundle",
        params={"bbox": bbox, "scenario": sid},
        headers={"Authorization": f"Bearer {planner}"},
    )
    assert r.status_code == 404


def test_an_oversize_bundle_is_refused_with_the_counts(client, leak, emergency, leak_bundle):
    manifest, _ = leak_bundle
    total = sum(manifest["layers"].values())
    client.app.state.bundle_settings = BundleSettings(max_features=total - 1)
    try:
        r = client.get(f"/incidents/{leak}/bundle", headers=emergency)
    finally:
        del client.app.state.bundle_settings
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    detail = r.json()["detail"]
    assert f"the area holds {total:,} features, more than the {total - 1:,}" in detail
    assert f"roads {manifest['layers']['roads']:,}" in detail


def test_the_area_map_refuses_rather_than_cuts(client, engine):
    n = count(engine, "SELECT count(*) FROM city.pipelines_current")
    r = client.get(
        "/map/area.html",
        params={"bbox": "119,35,122,37.5", "layers": "pipelines", "limit": 100},
        headers=ADMIN,
    )
    assert r.status_code == 413
    assert r.json()["detail"].startswith(f"pipelines: {n:,} features in the area, more than")


def test_a_wider_zone_brings_shelters_and_responders_onto_the_map(
    client, emergency, engine, leak, tmp_path
):
    """Two resources on roads 0.6–3 km out: the nearest two come, routed around the zone."""
    near = f"(SELECT geom FROM city.incidents_current WHERE asset_id = '{leak}')"
    points = count(
        engine,
        f"""SELECT array_agg(ST_AsText(p) ORDER BY d) FROM (
              SELECT ST_StartPoint(r.geom) AS p,
                     ST_Distance(ST_StartPoint(r.geom)::geography, i.geom::geography) AS d
              FROM city.roads_current r, {near} i) q
            WHERE d BETWEEN 600 AND 3000""",
    )
    for k, wkt in enumerate(points[:2]):
        insert(engine, "emergency_resources", f"bundle-fire-{k}", wkt=wkt)
    r = client.get(f"/incidents/{leak}/bundle", params={"radius_m": 300}, headers=emergency)
    assert r.status_code == 200, r.text
    manifest, root = unzip(r.content, tmp_path)
    summary = (root / "summary.html").read_text()
    page = (root / "map.html").read_text()
    assert "bundle-fire-0" in summary and "no emergency_resources" not in summary
    assert page.count('"role": "route"') >= 1 and '"avoided": true' in page


def test_the_zone_can_be_a_saved_hazard_zone_answer(client, emergency, engine, leak, tmp_path):
    lonlat = count(
        engine,
        f"SELECT ARRAY[ST_X(geom), ST_Y(geom)] FROM city.incidents_current "
        f"WHERE asset_id = '{leak}'",
    )
    body = {"preset": "bomb", "point": lonlat, "device": "pipe_bomb", "save": True}
    saved = client.post("/analysis/hazard-zone", json=body, headers=emergency)
    assert saved.status_code == 200, saved.text
    zone = saved.json()["result"]["id"]
    r = client.get(f"/incidents/{leak}/bundle", params={"zone": zone}, headers=emergency)
    assert r.status_code == 200, r.text
    manifest, root = unzip(r.content, tmp_path)
    assert manifest["extra_layers"]["zones"] == 2  # evacuation, shelter in place
    assert "NCTC" in (root / "summary.html").read_text()
    other = client.post(
        "/analysis/buffer",
        json={"geometry": {"type": "Point", "coordinates": lonlat}, "distance_m": 50, "save": True},
        headers=emergency,
    ).json()["result"]["id"]
    r = client.get(f"/incidents/{leak}/bundle", params={"zone": other}, headers=emergency)
    assert r.status_code == 400
    assert r.json()["detail"] == f"zone: result {other} is a buffer answer, not a zone"
    unknown = "00000000-0000-0000-0000-000000000000"
    r = client.get(f"/incidents/{leak}/bundle", params={"zone": unknown})
    assert r.status_code == 404 and unknown in r.json()["detail"]


def test_an_incident_with_no_default_zone_asks_for_one(client, engine):
    other = count(
        engine,
        "SELECT asset_id FROM city.incidents_current WHERE kind <> 'gas_leak' LIMIT 1",
    )
    r = client.get(f"/incidents/{other}/bundle")
    assert r.status_code == 400
    assert (
        "pass zone=<id of a saved /analysis/hazard-zone answer> or radius_m" in (r.json()["detail"])
    )
    assert client.get("/incidents/no-such/bundle").status_code == 404
