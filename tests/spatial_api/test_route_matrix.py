"""Every route × every role, from one table: nothing restricted reaches a role that may not
read it (tiles included), and no write succeeds without the right role.

The table must name every route the app serves, so a new route cannot skip the check.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely import wkt as shapely_wkt
from sqlalchemy import text

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import ALL_LAYERS, Access, AttrType, Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.support.factories import sample_row
from tests.tiles.test_tiles import LAT, LON, insert, tile_path

ROLES = load_roles(Catalog().values())
CATALOG = Catalog()
MARK = "SECRET"  # in every text attribute and id of the restricted rows seeded below
RESTRICTED = [s.id for s in ALL_LAYERS if s.access is Access.restricted]
POINT = {"type": "Point", "coordinates": [LON, LAT]}
AREA = shapely.geometry.mapping(
    shapely.geometry.box(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01)
)
TMS = "WebMercatorQuad"


@pytest.fixture(scope="module")
def world(db_url, engine):
    """Restricted rows marked SECRET and public ones; a saved result of a restricted layer."""
    with engine.begin() as c:
        tables = ", ".join(
            f"city.{t}" for s in ALL_LAYERS for t in (s.id, s.history_table, s.scenario_table)
        )
        c.execute(text(f"TRUNCATE {tables}, city.tokens, city.audit, city.results CASCADE"))
    for spec in ALL_LAYERS:
        asset = f"{MARK}-{spec.id}" if spec.id in RESTRICTED else f"pub-{spec.id}"
        insert(engine, spec.id, asset)
        marked = [a.name for a in spec.attributes if a.type is AttrType.text and not a.choices]
        if spec.id in RESTRICTED and marked:
            sets = ", ".join(f"{n} = '{MARK}-{n}'" for n in marked)
            with engine.begin() as c:
                c.execute(text(f"UPDATE city.{spec.id} SET {sets}"))
    tokens = {"viewer": {}}
    for role in ("planner", "crew", "emergency", "admin"):
        tokens[role] = {"Authorization": f"Bearer {create_token(engine, ROLES, role, role, None)}"}
    with TestClient(create_app(db_url, ServerSettings(), pool_size=2)) as client:
        saved = client.post(
            "/analysis/buffer",
            json={"layer": "pipelines", "distance_m": 10, "save": True},
            headers=tokens["admin"],
        )
        assert saved.status_code == 200, saved.text
        result = saved.json()["result"]["id"] if "result" in saved.json() else None
        scenario = client.post("/scenarios", json={"title": "SECRET plan"}, headers=tokens["crew"])
        assert scenario.status_code == 201, scenario.text
        yield client, tokens, result, scenario.json()["id"]
    with engine.begin() as c:  # tokens by role name: other modules make their own
        c.execute(text(f"TRUNCATE {tables}, city.tokens, city.audit, city.results CASCADE"))


def reads(result: str | None, scenario: str) -> list[tuple[str, str, str, dict]]:
    """(method, route template, concrete path, request kwargs) of every read."""
    tile = tile_path("pipelines", LON, LAT, 15).split("/tiles/")[1]
    calls = [
        ("GET", "/", "/", {}),
        ("GET", "/conformance", "/conformance", {}),
        ("GET", "/health", "/health", {}),
        ("GET", "/health/live", "/health/live", {}),
        (
            "GET",
            "/analysis/coverage/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
            f"/analysis/coverage/tiles/{tile}",
            {},
        ),
        (
            "GET",
            "/incidents/{feature_id}/timeline",
            "/incidents/pub-incidents/timeline",
            {},
        ),
        # Zips: MARK would not show through deflate; test_bundle.py reads them for roles.
        (
            "GET",
            "/incidents/{feature_id}/bundle",
            "/incidents/pub-incidents/bundle",
            {"params": {"radius_m": 300}},
        ),
        (
            "GET",
            "/bundle",
            "/bundle",
            {"params": {"bbox": f"{LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}"}},
        ),
        ("GET", "/health/ready", "/health/ready", {}),
        ("GET", "/layers", "/layers", {}),
        ("GET", "/collections", "/collections", {}),
        ("GET", "/tileMatrixSets", "/tileMatrixSets", {}),
        ("GET", "/tileMatrixSets/{tileMatrixSetId}", f"/tileMatrixSets/{TMS}", {}),
        ("GET", "/tiles/{tileMatrixSetId}/tilejson.json", f"/tiles/{TMS}/tilejson.json", {}),
        (
            "GET",
            "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
            f"/tiles/{tile}",
            {},
        ),
        ("GET", "/results", "/results", {}),
        ("GET", "/audit", "/audit", {}),
        ("GET", "/scenarios", "/scenarios", {}),
        ("GET", "/scenarios/{scenario_id}", f"/scenarios/{scenario}", {}),
        ("GET", "/scenarios/{scenario_id}/changes", f"/scenarios/{scenario}/changes", {}),
        ("GET", "/map/config.json", "/map/config.json", {}),
        ("GET", "/map/session.json", "/map/session.json", {}),
        (
            "GET",
            "/map/area.html",
            "/map/area.html",
            {"params": {"bbox": f"{LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}"}},
        ),
        ("GET", "/lbs/reverse", "/lbs/reverse", {"params": {"lon": LON, "lat": LAT}}),
        (
            "GET",
            "/collections/sensors/readings/latest",
            "/collections/sensors/readings/latest",
            {},
        ),
        (
            "GET",
            "/collections/sensors/items/{sensor_id}/readings",
            f"/collections/sensors/items/{MARK}-sensors/readings",
            {},
        ),
        (
            "GET",
            "/collections/sensors/items/{sensor_id}/alarms",
            f"/collections/sensors/items/{MARK}-sensors/alarms",
            {},
        ),
        ("GET", "/collections/sensors/alarms/active", "/collections/sensors/alarms/active", {}),
        (
            "POST",
            "/analysis/hazard-zone",
            "/analysis/hazard-zone",
            {"json": {"preset": "custom", "point": [LON, LAT], "radius_m": 300}},
        ),
        ("POST", "/analysis/impact", "/analysis/impact", {"json": {"zone": AREA}}),
        ("POST", "/analysis/clearance", "/analysis/clearance", {"json": {"area": AREA}}),
        ("POST", "/analysis/dig", "/analysis/dig", {"json": {"area": AREA}}),
        (
            "POST",
            "/analysis/dig/report.html",
            "/analysis/dig/report.html",
            {"json": {"area": AREA}},
        ),
        (
            "POST",
            "/analysis/dig/section.{fmt}",
            "/analysis/dig/section.svg",
            {"json": {"area": AREA}},
        ),
        ("POST", "/analysis/isolate", "/analysis/isolate", {"json": {"pipe": f"{MARK}-pipelines"}}),
        (
            "POST",
            "/analysis/isolate/order.html",
            "/analysis/isolate/order.html",
            {"json": {"pipe": f"{MARK}-pipelines"}},
        ),
        (
            "POST",
            "/analysis/trace",
            "/analysis/trace",
            {"json": {"pipe": f"{MARK}-pipelines", "direction": "connected"}},
        ),
        (
            "POST",
            "/analysis/shelter-assignment",
            "/analysis/shelter-assignment",
            {"json": {"zone": AREA}},
        ),
        ("POST", "/analysis/coverage", "/analysis/coverage", {"json": {}}),
        ("POST", "/analysis/coverage/stats", "/analysis/coverage/stats", {"json": {}}),
        (
            "POST",
            "/analysis/coverage/compare",
            "/analysis/coverage/compare",
            {"json": {"scenario": scenario}},
        ),
        ("POST", "/analysis/site-sharing", "/analysis/site-sharing", {"json": {}}),
        ("POST", "/analysis/siting-check", "/analysis/siting-check", {"json": {}}),
        (
            "POST",
            "/lbs/route",
            "/lbs/route",
            {"json": {"from": [LON, LAT], "to": [LON + 0.001, LAT]}},
        ),
        ("POST", "/lbs/isochrone", "/lbs/isochrone", {"json": {"from": [LON, LAT], "time_s": 300}}),
        (
            "POST",
            "/map/answer.html",
            "/map/answer.html",
            {"json": {"type": "FeatureCollection", "features": []}},
        ),
    ]
    for layer in ("pipelines", "hazard_sources", "sensors", "shelters"):
        asset = f"{MARK}-{layer}" if layer in RESTRICTED else f"pub-{layer}"
        base = f"/collections/{layer}"
        calls += [
            ("GET", "/layers/{layer_id}", f"/layers/{layer}", {}),
            ("GET", "/collections/{layer_id}", base, {}),
            ("GET", "/collections/{layer_id}/items", f"{base}/items", {}),
            ("GET", "/collections/{layer_id}/items/{feature_id}", f"{base}/items/{asset}", {}),
            (
                "GET",
                "/collections/{layer_id}/items/{feature_id}/history",
                f"{base}/items/{asset}/history",
                {},
            ),
            ("GET", "/collections/{layer_id}/map.html", f"{base}/map.html", {}),
            ("GET", "/collections/{layer_id}/queryables", f"{base}/queryables", {}),
            ("GET", "/collections/{layer_id}/tiles", f"{base}/tiles", {}),
            ("GET", "/collections/{layer_id}/tiles/{tileMatrixSetId}", f"{base}/tiles/{TMS}", {}),
            (
                "GET",
                "/collections/{layer_id}/tiles/{tileMatrixSetId}/tilejson.json",
                f"{base}/tiles/{TMS}/tilejson.json",
                {},
            ),
            (
                "GET",
                "/collections/{layer_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
                tile_path(layer, LON, LAT, 15),
                {},
            ),
            (
                "POST",
                "/analysis/buffer",
                "/analysis/buffer",
                {"json": {"layer": layer, "distance_m": 50}},
            ),
            (
                "POST",
                "/analysis/overlay",
                "/analysis/overlay",
                {
                    "json": {
                        "operation": "intersection",
                        "a": {"layer": layer},
                        "b": {"geometry": AREA},
                    }
                },
            ),
            (
                "GET",
                "/lbs/nearest",
                "/lbs/nearest",
                {"params": {"layer": layer, "lon": LON, "lat": LAT}},
            ),
            (
                "POST",
                "/lbs/nearest",
                "/lbs/nearest",
                {"json": {"layer": layer, "lon": LON, "lat": LAT}},
            ),
            (
                "POST",
                "/analysis/responders",
                "/analysis/responders",
                {"json": {"layer": layer, "scene": [LON, LAT]}},
            ),
            (
                "GET",
                "/lbs/within",
                "/lbs/within",
                {"params": {"layer": layer, "lon": LON, "lat": LAT, "distance_m": 500}},
            ),
            (
                "POST",
                "/lbs/within",
                "/lbs/within",
                {"json": {"layer": layer, "lon": LON, "lat": LAT, "distance_m": 500}},
            ),
            (
                "GET",
                "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
                f"/tiles/{tile}",
                {"params": {"collections": layer}},
            ),
        ]
    if result is not None:
        rbase = f"/collections/result-{result}"
        calls += [
            ("GET", "/results/{result_id}", f"/results/{result}", {}),
            ("GET", "/collections/result-{result_id}", rbase, {}),
            ("GET", "/collections/result-{result_id}/items", f"{rbase}/items", {}),
            ("GET", "/collections/result-{result_id}/items/{feature_id}", f"{rbase}/items/1", {}),
            (
                "GET",
                "/collections/result-{result_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
                f"{rbase}/tiles/{tile}",
                {},
            ),
        ]
    return calls


def feature(layer: str, asset: str) -> dict:
    spec = CATALOG[layer]
    row = sample_row(spec, asset)
    geom = shapely_wkt.loads(row.pop("geom").split(";", 1)[1])
    row.pop("asset_id")
    props = {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in row.items()}
    return {
        "type": "Feature",
        "id": asset,
        "geometry": shapely.geometry.mapping(geom),
        "properties": props,
    }


WRITES = [  # (method, template): the write routes; each is tried on every layer below
    ("POST", "/collections/{layer_id}/items"),
    ("PUT", "/collections/{layer_id}/items/{feature_id}"),
    ("PATCH", "/collections/{layer_id}/items/{feature_id}"),
    ("DELETE", "/collections/{layer_id}/items/{feature_id}"),
    ("POST", "/scenarios"),
    ("DELETE", "/scenarios/{scenario_id}"),
    ("POST", "/scenarios/{scenario_id}/commit"),
]


def test_the_table_names_every_route(world):
    client, _, result, scenario = world
    served = {(m.upper(), p) for p, ops in client.app.openapi()["paths"].items() for m in ops}
    named = {(m, t) for m, t, _, _ in reads(result, scenario)} | set(WRITES)
    assert served - named == set(), "routes missing from the matrix"
    assert named - served == set(), "the matrix names routes that do not exist"


@pytest.mark.parametrize("role", ["viewer", "planner"])
def test_nothing_restricted_reaches_a_role_that_may_not_read_it(world, role):
    client, tokens, result, scenario = world
    leaks, errors = [], []
    for method, _, path, kwargs in reads(result, scenario):
        r = client.request(method, path, headers=tokens[role], **kwargs)
        if r.status_code >= 500:
            errors.append((method, path, r.status_code, r.text[:200]))
        body = r.content
        if r.status_code == 404:  # "no feature 'SECRET-…'": the id asked for, said back
            for part in sorted(path.split("/"), key=len, reverse=True):
                body = body.replace(part.encode(), b"")
        if MARK.encode() in body:
            leaks.append((method, path, r.status_code))
    assert errors == []
    assert leaks == []


@pytest.mark.parametrize("role", ["crew", "emergency", "admin"])
def test_roles_that_read_the_network_see_it(world, role):
    client, tokens, *_ = world
    r = client.get(f"/collections/pipelines/items/{MARK}-pipelines", headers=tokens[role])
    assert r.status_code == 200
    tile = client.get(tile_path("pipelines", LON, LAT, 15), headers=tokens[role])
    assert tile.status_code == 200 and MARK.encode() in tile.content


WRITERS = {
    "shelters": {"emergency", "admin"},
    "incidents": {"emergency", "admin"},
    "hazard_sources": {"emergency", "admin"},
    "sectors": {"planner", "admin"},
    "base_stations": {"planner", "admin"},
    "pipe_nodes": {"crew", "admin"},
    "districts": {"admin"},
}


@pytest.mark.parametrize("layer", sorted(WRITERS))
@pytest.mark.parametrize("role", ["viewer", "planner", "crew", "emergency", "admin"])
def test_no_write_succeeds_without_the_right_role(world, engine, layer, role):
    client, tokens, *_ = world
    headers = tokens[role]
    asset = f"w-{layer}-{role}"
    allowed = role in WRITERS[layer]
    # Anonymous writes are asked for a token (401), unless the layer is hidden from them,
    # which is a 403 as for any read of it.
    refused = 401 if role == "viewer" and layer not in RESTRICTED else 403
    base = f"/collections/{layer}/items"
    made = client.post(base, json=feature(layer, asset), headers=headers)
    assert made.status_code == (201 if allowed else refused), made.text
    target = asset if allowed else (f"{MARK}-{layer}" if layer in RESTRICTED else f"pub-{layer}")
    changed = feature(layer, target)
    for method, kwargs in (
        ("PUT", {"json": changed}),
        ("PATCH", {"json": {"properties": {}}}),
        ("DELETE", {}),
    ):
        r = client.request(method, f"{base}/{target}", headers=headers, **kwargs)
        assert r.status_code == (204 if allowed else refused), (method, r.text)
    with engine.connect() as c:
        seeded = c.execute(
            text(
                f"SELECT count(*) FROM city.{layer} WHERE asset_id LIKE 'pub-%' OR asset_id LIKE :m"
            ),
            {"m": f"{MARK}-%"},
        ).scalar_one()
    assert seeded == 1  # the seeded asset is never touched by a refused write


def test_scenarios_are_their_roles_alone(world):
    client, tokens, _, scenario = world
    assert client.post("/scenarios", json={"title": "x"}).status_code == 401
    for role in ("viewer", "planner", "emergency"):
        assert client.get(f"/scenarios/{scenario}", headers=tokens[role]).status_code == 404
        assert client.post(f"/scenarios/{scenario}/commit", headers=tokens[role]).status_code in (
            401,
            404,
        )
        assert client.delete(f"/scenarios/{scenario}", headers=tokens[role]).status_code in (
            401,
            404,
        )
    assert client.get(f"/scenarios/{scenario}", headers=tokens["crew"]).status_code == 200
    assert client.get(f"/scenarios/{scenario}", headers=tokens["admin"]).status_code == 200
