"""Vector tiles over the test database: content, generalisation, time, cache and access."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from shapely import Point
from sqlalchemy import text

from citygis.settings import ServerSettings
from layers import ALL_LAYERS
from layers.source import LayerSource
from loaders import load_frames
from spatial_api import create_app
from tests.support.factories import insert_sql, sample_row
from tiles.mvt import attributes_at, fetch_margin

TOKEN = "tiles-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WMQ = morecantile.tms.get("WebMercatorQuad")
LON, LAT = 120.3200, 36.0613  # by Zhanqiao pier, where factories put sample rows


@pytest.fixture
def client(clean_db):
    """A fresh app per test: its tile cache starts empty, like a newly started server."""
    with TestClient(
        create_app(clean_db, ServerSettings(restricted_tokens=TOKEN), pool_size=2)
    ) as c:
        yield c


def insert(
    engine,
    layer: str,
    asset_id: str = "A1",
    wkt: str | None = None,
    valid: str | None = None,
    **attrs,
) -> int:
    spec = next(s for s in ALL_LAYERS if s.id == layer)
    row = sample_row(spec, asset_id) | attrs
    if wkt:
        row["geom"] = f"SRID=4490;{wkt}"
    if valid:
        row["valid"] = valid
    with engine.begin() as c:
        return c.execute(text(insert_sql(spec, row) + " RETURNING version_id"), row).scalar_one()


def tile_path(layer: str | None, lon: float, lat: float, z: int) -> str:
    t = WMQ.tile(lon, lat, z)
    base = f"/collections/{layer}/tiles" if layer else "/tiles"
    return f"{base}/WebMercatorQuad/{z}/{t.y}/{t.x}"


def features(r, layer: str) -> dict[int, dict]:
    """Decoded features of one layer, by MVT id (y axis up, as mapbox-vector-tile gives)."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(r.content)
    return {f["id"]: f for f in decoded.get(layer, {}).get("features", [])}


def test_tile_carries_exact_ids_and_the_attributes_of_its_zoom(client, engine):
    gas = insert(engine, "pipelines", "P1", utility="gas", install_date="2001-02-03")
    water = insert(engine, "pipelines", "P2", utility="water")
    insert(engine, "pipelines", "FAR", wkt="LINESTRING Z(121 37 -1, 121.01 37.01 -1)")
    by_zoom = {}
    for z in (12, 14, 16):
        got = features(client.get(tile_path("pipelines", LON, LAT, z), headers=AUTH), "pipelines")
        assert set(got) == {gas, water}
        by_zoom[z] = got[gas]["properties"]
    assert set(by_zoom[12]) == {"asset_id", "utility"}
    assert set(by_zoom[14]) == {"asset_id", "utility", "diameter_mm", "material"}
    assert by_zoom[16]["install_date"] == "2001-02-03"
    assert by_zoom[16]["asset_id"] == "P1" and by_zoom[16]["utility"] == "gas"
    assert attributes_at(next(s for s in ALL_LAYERS if s.id == "pipelines"), 9) == ()


def test_geometry_lands_within_one_tile_unit(client, engine):
    vid = insert(
        engine, "pipelines", "P1", wkt="LINESTRING Z(120.3197 36.0611 -1, 120.3205 36.0616 -1.2)"
    )
    z = 17
    t = WMQ.tile(120.3201, 36.06135, z)
    b = WMQ.xy_bounds(t)
    with engine.connect() as c:
        pts = c.execute(
            text(
                "SELECT ST_X(p.geom), ST_Y(p.geom) FROM city.pipelines,"
                " ST_DumpPoints(ST_Transform(geom, 3857)) p WHERE version_id = :v ORDER BY p.path"
            ),
            {"v": vid},
        ).all()
    expected = [
        ((x - b.left) / (b.right - b.left) * 4096, (y - b.bottom) / (b.top - b.bottom) * 4096)
        for x, y in pts
    ]
    r = client.get(f"/collections/pipelines/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}", headers=AUTH)
    coords = features(r, "pipelines")[vid]["geometry"]["coordinates"]
    assert len(coords) == len(expected) == 2
    for (gx, gy), (ex, ey) in zip(coords, expected, strict=True):
        assert abs(gx - ex) <= 1 and abs(gy - ey) <= 1


@pytest.mark.parametrize("z", [12, 17])
def test_gcj02_shifted_tiles_put_features_where_the_basemap_has_them(client, engine, z):
    from loaders.chinese_offsets import wgs84_to_gcj02
    from tiles.grid import TileCoords
    from tiles.shift import gcj02_affine

    lon, lat = 120.3201, 36.06135
    vid = insert(engine, "shelters", "S1", wkt=f"POINT({lon} {lat})")
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    t = WMQ.tile(glon, glat, z)  # the basemap tile that shows the GCJ-02 position
    b = WMQ.xy_bounds(t)
    gx, gy = WMQ.xy(glon, glat)
    want = ((gx - b.left) / (b.right - b.left) * 4096, (gy - b.bottom) / (b.top - b.bottom) * 4096)
    url = f"/collections/shelters/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}"
    shifted = features(client.get(url, params={"shift": "gcj02"}), "shelters")
    x, y = shifted[vid]["geometry"]["coordinates"]
    fit = gcj02_affine(TileCoords("WebMercatorQuad", z, t.x, t.y))
    tolerance = 1 + fit.error_m / ((b.right - b.left) / 4096 * 0.808)  # rounding + fit
    assert abs(x - want[0]) <= tolerance and abs(y - want[1]) <= tolerance
    # Unshifted, the same pixel is ~500 m away: 27 tile units at z12, 850 at z17.
    plain = client.get(url)
    if z == 17:  # the true position is in another tile altogether
        assert plain.status_code == 204
    else:
        px, py = features(plain, "shelters")[vid]["geometry"]["coordinates"]
        assert abs(px - x) + abs(py - y) > 20
    problem = client.get(url, params={"shift": "bd09"})
    assert problem.status_code == 422


@pytest.mark.parametrize("z", range(3, 19))
def test_gcj02_affine_fit_stays_below_a_quarter_pixel(z):
    from tiles.grid import TileCoords
    from tiles.shift import gcj02_affine

    t = WMQ.tile(120.38, 36.07, z)
    fit = gcj02_affine(TileCoords("WebMercatorQuad", z, t.x, t.y))
    pixel_m = 2 * 20037508.342789244 / 2**z / 256 * 0.808  # cos(36.07°): ground metres
    assert fit.error_m < pixel_m / 4
    if z >= 14:  # and under half an MVT unit (1/16 pixel) where streets are drawn
        assert fit.error_m < pixel_m / 32
    assert abs(fit.a - 1) < 0.01 and abs(fit.e - 1) < 0.01  # nearly a translation…
    cx, cy = WMQ.xy(120.38, 36.07)
    moved = (fit.a * cx + fit.b * cy + fit.xoff - cx, fit.d * cx + fit.e * cy + fit.yoff - cy)
    assert 300 < math.hypot(*moved) * 0.808 < 700  # …of about 500 m


def test_lines_are_simplified_below_a_tile_unit_and_kept_above(client, engine):
    # The middle vertex is 0.5 m off the straight line: under a unit at z12 (~8 m a unit
    # here), some 40 units at z20.
    vid = insert(
        engine,
        "pipelines",
        "BENT",
        wkt="LINESTRING Z(120.3190 36.0610 -1, 120.3200 36.061004 -1, 120.3210 36.0610 -1)",
    )
    for z, vertices in ((12, 2), (20, 3)):
        t = WMQ.tile(120.3200, 36.0610, z)
        r = client.get(
            f"/collections/pipelines/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}", headers=AUTH
        )
        assert len(features(r, "pipelines")[vid]["geometry"]["coordinates"]) == vertices, z


def test_lines_shorter_than_a_tile_unit_are_dropped(client, engine):
    stub = insert(
        engine, "pipelines", "STUB", wkt=f"LINESTRING Z({LON} {LAT} -1, {LON + 0.000003} {LAT} -1)"
    )  # 0.27 m: a z12 unit is ~8 m, a z18 one 12 cm
    long = insert(engine, "pipelines", "LONG")
    z12 = features(client.get(tile_path("pipelines", LON, LAT, 12), headers=AUTH), "pipelines")
    z18 = features(client.get(tile_path("pipelines", LON, LAT, 18), headers=AUTH), "pipelines")
    assert set(z12) == {long} and stub in z18


def test_small_polygons_are_dropped_at_low_zoom_and_kept_at_high_zoom(client, engine):
    big = insert(
        engine,
        "logistics_parks",
        "BIG",
        wkt="MULTIPOLYGON(((120.30 36.05, "
        "120.33 36.05, 120.33 36.08, 120.30 36.08, 120.30 36.05)))",
    )
    d = 0.0002  # about 20 m: a speck at z10 (150 m a pixel), 16 pixels at z16
    tiny = insert(
        engine,
        "logistics_parks",
        "TINY",
        wkt=f"MULTIPOLYGON((({LON} {LAT}, "
        f"{LON + d} {LAT}, {LON + d} {LAT + d}, {LON} {LAT + d}, {LON} {LAT})))",
    )
    assert set(
        features(client.get(tile_path("logistics_parks", LON, LAT, 10)), "logistics_parks")
    ) == {big}
    assert set(
        features(client.get(tile_path("logistics_parks", LON, LAT, 16)), "logistics_parks")
    ) == {big, tiny}


def test_features_are_fetched_as_far_beyond_the_edge_as_their_symbol_reaches(client, engine):
    # Scenic sites draw as 6 px circles with a 1 px stroke: one whose centre is 5 px past the
    # east edge still paints into the tile; one 12 px past cannot (fetch_margin: 8 px).
    z = 15
    t = WMQ.tile(LON, LAT, z)
    b = WMQ.xy_bounds(t)
    px = (b.right - b.left) / 256
    mid_y = (b.bottom + b.top) / 2
    near, far = (WMQ.lnglat(b.right + k * px, mid_y) for k in (5, 12))
    inside = insert(engine, "scenic_sites", "NEAR", wkt=f"POINT({near.x} {near.y})")
    insert(engine, "scenic_sites", "FAR", wkt=f"POINT({far.x} {far.y})")
    got = features(
        client.get(f"/collections/scenic_sites/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}"),
        "scenic_sites",
    )
    assert set(got) == {inside}
    x, _ = got[inside]["geometry"]["coordinates"]
    assert abs(x - (4096 + 5 * 16)) <= 1  # 16 tile units a pixel
    assert (
        fetch_margin(LayerSource(next(s for s in ALL_LAYERS if s.id == "scenic_sites"))) == 8 / 256
    )


def test_layer_is_empty_outside_its_zoom_range(client, engine):
    insert(engine, "pipelines", "P1")
    r = client.get(tile_path("pipelines", LON, LAT, 9), headers=AUTH)  # min_zoom is 10
    assert r.status_code == 204 and r.content == b""
    assert "ETag" in r.headers
    assert client.get(tile_path("pipelines", LON, LAT, 10), headers=AUTH).status_code == 200


def test_as_of_tile_shows_the_past_state(client, engine):
    old = insert(engine, "shelters", "S1", name="旧", valid="[2000-01-01, 2020-01-01)")
    new = insert(engine, "shelters", "S1", name="新", valid="[2020-01-01,)")
    path = tile_path("shelters", LON, LAT, 15)
    now = client.get(path)
    assert set(features(now, "shelters")) == {new}
    assert "max-age=10" in now.headers["cache-control"]
    past = client.get(path, params={"datetime": "2010-06-01T00:00:00Z"})
    assert [f["properties"]["name"] for f in features(past, "shelters").values()] == ["旧"]
    assert set(features(past, "shelters")) == {old}
    assert past.headers["cache-control"] == "public, max-age=3600, must-revalidate"


def test_attribute_filters_are_typed_catalog_attributes(client, engine):
    gas = insert(engine, "pipelines", "P1", utility="gas", diameter_mm=300.0)
    insert(engine, "pipelines", "P2", utility="water", diameter_mm=100.0)
    path = tile_path("pipelines", LON, LAT, 15)
    assert set(
        features(client.get(path, params={"utility": "gas"}, headers=AUTH), "pipelines")
    ) == {gas}
    assert set(
        features(client.get(path, params={"diameter_mm": "300"}, headers=AUTH), "pipelines")
    ) == {gas}
    for params, words in [
        ({"colour": "red"}, "not an attribute"),
        ({"utility": "beer"}, "not one of"),
        ({"diameter_mm": "wide"}, "not a valid real"),
        ({"utility": "gas'; DROP TABLE x; --"}, "not one of"),
    ]:
        r = client.get(path, params=params, headers=AUTH)
        assert r.status_code == 400, params
        assert r.headers["content-type"] == "application/problem+json"
        assert words in r.json()["detail"]


def test_etag_and_304(client, engine):
    insert(engine, "shelters", "S1")
    path = tile_path("shelters", LON, LAT, 15)
    first = client.get(path)
    etag = first.headers["etag"]
    assert etag.startswith('"') and "must-revalidate" in first.headers["cache-control"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    client.app.state.tile_cache.clear()  # rendered afresh, as another process would
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304


def test_the_fast_lane_answers_exactly_as_the_routes_do(client, engine, clean_db):
    """spatial_api/tile_lane.py serves tiles ahead of routing; an app without it must give
    the same bytes, headers and refusals."""
    from spatial_api.tile_lane import TileLane

    insert(engine, "shelters", "S1")
    insert(engine, "pipelines", "P1")
    routes_only = create_app(clean_db, ServerSettings(restricted_tokens=TOKEN), pool_size=2)
    routes_only.user_middleware = [m for m in routes_only.user_middleware if m.cls is not TileLane]
    from loaders.chinese_offsets import wgs84_to_gcj02

    path = tile_path(None, LON, LAT, 15)
    shifted = tile_path(None, *(float(v) for v in wgs84_to_gcj02(LON, LAT)), 15)
    params = {"collections": "shelters,pipe_nodes", "datetime": "2030-01-01T00:00:00Z"}
    cases = [
        (path, {}, AUTH, 200, ""),
        (shifted, {"shift": "gcj02"}, AUTH, 200, ""),
        (path, {"shift": "wgs84"}, AUTH, 422, "gcj02"),
        (path, {"datetime": "yesterday"}, AUTH, 400, "RFC 3339"),
        (path, {"datetime": "2030-01-01T00:00:00Z" + " " * 100}, AUTH, 422, "100"),
        (path, {"status": "lost"}, AUTH, 400, "not one of"),
        (path, {"collections": "shelters,shelters"}, AUTH, 400, "distinct"),
        (path, {}, {}, 403, "restricted"),
    ]
    with TestClient(routes_only) as plain:
        for url, extra, headers, status, words in cases:
            fast, slow = (
                c.get(url, params=params | extra, headers=headers) for c in (client, plain)
            )
            assert fast.status_code == slow.status_code == status, extra
            assert fast.content == slow.content and words in fast.text, extra
            for name in ("etag", "cache-control", "vary", "content-type"):
                assert fast.headers.get(name) == slow.headers.get(name), (extra, name)
    cache = client.app.state.tile_cache
    assert (cache.misses, cache.hits) == (2, 0)
    assert client.get(path, params=params, headers=AUTH).status_code == 200
    assert (cache.misses, cache.hits) == (2, 1)


def shelters_frame(name: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"asset_id": ["S1"], "name": [name], "capacity": [100]},
        geometry=[Point(LON, LAT)],
        crs="EPSG:4490",
    )


def test_a_committed_load_is_seen_by_the_next_request(client, clean_db):
    load_frames(clean_db, {"shelters": shelters_frame("一号")}, source="v1")
    path = tile_path("shelters", LON, LAT, 15)
    first = client.get(path)
    assert client.get(path).content == first.content
    cache = client.app.state.tile_cache
    assert cache.hits >= 1  # the second request came from the cache
    load_frames(clean_db, {"shelters": shelters_frame("二号")}, source="v2")
    after = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != first.headers["etag"]
    names = [f["properties"]["name"] for f in features(after, "shelters").values()]
    assert names == ["二号"]


def test_no_stale_tile_even_when_the_notification_is_lost(client, clean_db):
    """Another process's view: no NOTIFY arrives, the load log still moves the key."""
    load_frames(clean_db, {"shelters": shelters_frame("一号")}, source="v1")
    path = tile_path("shelters", LON, LAT, 15)
    client.get(path)
    client.portal.call(client.app.state.tile_listener.stop)
    load_frames(clean_db, {"shelters": shelters_frame("二号")}, source="v2")
    got = features(client.get(path), "shelters")
    assert [f["properties"]["name"] for f in got.values()] == ["二号"]


def test_notify_alone_invalidates(client, engine):
    """A hand edit announced with NOTIFY (no load log row) reaches the cache too."""
    insert(engine, "shelters", "S1", name="甲")
    path = tile_path("shelters", LON, LAT, 15)
    listener = client.app.state.tile_listener
    assert client.portal.call(listener.listening.wait) is True
    assert [f["properties"]["name"] for f in features(client.get(path), "shelters").values()] == [
        "甲"
    ]
    with engine.begin() as c:
        c.execute(text("UPDATE city.shelters SET name = '乙'"))
        c.execute(text("SELECT pg_notify('citygis_layer_changed', 'shelters')"))
    deadline = time.monotonic() + 10
    while client.app.state.tile_cache.local["shelters"] == 0:
        assert time.monotonic() < deadline, "no notification arrived"
        time.sleep(0.05)
    assert [f["properties"]["name"] for f in features(client.get(path), "shelters").values()] == [
        "乙"
    ]


def test_restricted_tiles_need_a_token_even_once_cached(client, engine):
    insert(engine, "pipe_nodes", "P1")  # restricted, with no public view
    path = tile_path("pipe_nodes", LON, LAT, 15)
    assert client.get(path, headers=AUTH).status_code == 200  # now in the cache
    for headers, status, word in (
        ({}, 403, "restricted"),
        ({"Authorization": "Bearer wrong"}, 401, "unknown token"),
    ):
        r = client.get(path, headers=headers)
        assert r.status_code == status
        assert r.headers["content-type"] == "application/problem+json"
        assert word in r.json()["detail"]
    multi = client.get(tile_path(None, LON, LAT, 15), params={"collections": "shelters,pipe_nodes"})
    assert multi.status_code == 403
    assert client.get(path, headers=AUTH).headers["cache-control"].startswith("private")


def test_cache_refuses_a_caller_who_may_not_see_the_layer(client, engine):
    from layers.access import ANONYMOUS
    from layers.errors import Forbidden
    from layers.source import LayerSource
    from tiles.cache import cached_tile
    from tiles.grid import TileCoords

    insert(engine, "pipelines", "P1")
    client.get(tile_path("pipelines", LON, LAT, 15), headers=AUTH)
    spec = client.app.state.catalog["pipelines"]
    t = WMQ.tile(LON, LAT, 15)
    coords = TileCoords.parse("WebMercatorQuad", "15", str(t.y), str(t.x))

    async def anonymous():
        await cached_tile(
            client.app.state.tile_cache,
            ANONYMOUS,
            [LayerSource(spec)],
            coords,
            None,
            {},
        )

    with pytest.raises(Forbidden):
        client.portal.call(anonymous)


def test_multi_layer_tile_holds_each_layer(client, engine):
    park = insert(engine, "logistics_parks", "L1")
    shelter = insert(engine, "shelters", "S1")
    r = client.get(
        tile_path(None, LON, LAT, 14), params={"collections": "logistics_parks,shelters"}
    )
    assert set(mapbox_vector_tile.decode(r.content)) == {"logistics_parks", "shelters"}
    assert set(features(r, "logistics_parks")) == {park}
    assert set(features(r, "shelters")) == {shelter}
    tj = client.get(
        "/tiles/WebMercatorQuad/tilejson.json", params={"collections": "logistics_parks,shelters"}
    ).json()
    assert [v["id"] for v in tj["vector_layers"]] == ["logistics_parks", "shelters"]
    assert tj["tiles"][0].endswith(
        "/tiles/WebMercatorQuad/{z}/{y}/{x}?collections=logistics_parks,shelters"
    )


def test_tilejson_describes_the_layer(client, engine):
    insert(engine, "pipelines", "P1")
    r = client.get(
        "/collections/pipelines/tiles/WebMercatorQuad/tilejson.json",
        params={"utility": "gas"},
        headers=AUTH,
    )
    assert r.status_code == 200
    tj = r.json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"] == [
        "http://testserver/collections/pipelines/tiles/WebMercatorQuad/{z}/{y}/{x}?utility=gas"
    ]
    assert (tj["minzoom"], tj["maxzoom"]) == (10, 22)
    w, s, e, n = tj["bounds"]
    assert w <= 120.3197 < 120.3210 <= e and s <= 36.0611 < 36.0620 <= n
    (layer,) = tj["vector_layers"]
    assert layer["id"] == "pipelines"
    assert set(layer["fields"]) == {
        "asset_id",
        "utility",
        "diameter_mm",
        "material",
        "depth_start_m",
        "depth_end_m",
        "install_date",
        "owner",
    }
    assert layer["fields"]["diameter_mm"] == "Number: Diameter (mm)"


def test_tile_matrix_sets_and_tileset_metadata(client):
    sets = client.get("/tileMatrixSets").json()["tileMatrixSets"]
    assert [s["id"] for s in sets] == ["WebMercatorQuad"]
    tms = client.get("/tileMatrixSets/WebMercatorQuad").json()
    assert tms["id"] == "WebMercatorQuad" and len(tms["tileMatrices"]) == 25
    listed = client.get("/collections/districts/tiles").json()["tilesets"]
    assert listed[0]["crs"].endswith("3857")
    ts = client.get("/collections/districts/tiles/WebMercatorQuad").json()
    assert ts["dataType"] == "vector"
    item = next(link for link in ts["links"] if link["rel"] == "item")
    assert item["href"].endswith(
        "/collections/districts/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"
    )
    assert ts["layers"][0]["geometryDimension"] == 2


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/collections/districts/tiles/WebMercatorQuad/a/1/1", 400, "tileMatrix"),
        ("/collections/districts/tiles/WebMercatorQuad/1/-1/1", 400, "tileRow"),
        ("/collections/districts/tiles/WebMercatorQuad/1/2/1", 404, "outside"),
        ("/collections/districts/tiles/WebMercatorQuad/25/0/0", 404, "tileMatrix 25"),
        ("/collections/districts/tiles/NoSuchSet/1/1/1", 404, "tile matrix set"),
        ("/collections/no_layer/tiles/WebMercatorQuad/1/1/1", 404, "unknown layer"),
        ("/tiles/WebMercatorQuad/1/1/1?collections=,", 400, "collections"),
        ("/collections/districts/tiles/WebMercatorQuad/1/1/1?datetime=yesterday", 400, "datetime"),
    ],
)
def test_bad_tile_requests_are_problems(client, path, status, words):
    r = client.get(path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert words in r.json()["detail"]


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=lambda s: s.id)
def test_every_layer_tiles(client, engine, spec):
    vid = insert(engine, spec.id, "A1")
    z = max(spec.style.min_zoom, 14)
    got = features(client.get(tile_path(spec.id, 120.3200, 36.0613, z), headers=AUTH), spec.id)
    assert set(got) == {vid}
    assert set(got[vid]["properties"]) <= {"asset_id", *attributes_at(spec, z)}
    tj = client.get(f"/collections/{spec.id}/tiles/WebMercatorQuad/tilejson.json", headers=AUTH)
    assert tj.status_code == 200 and tj.json()["vector_layers"][0]["id"] == spec.id


def test_past_is_detected_for_cache_headers():
    from layers.query import DateTimeInterval
    from tiles.cache import is_past

    assert is_past(DateTimeInterval.parse("2001-01-01"))
    assert not is_past(DateTimeInterval.parse("2001-01-01/.."))
    assert not is_past(None)
    assert not is_past(DateTimeInterval.parse(datetime(2999, 1, 1, tzinfo=UTC).isoformat()))


def test_feature_limit_keeps_the_largest(client, engine):
    sizes = {}
    for i, d in enumerate((0.001, 0.004, 0.002)):
        sizes[d] = insert(
            engine,
            "logistics_parks",
            f"L{i}",
            wkt=f"MULTIPOLYGON((({LON} {LAT}, "
            f"{LON + d} {LAT}, {LON + d} {LAT + d}, {LON} {LAT + d}, {LON} {LAT})))",
        )
    shelter = insert(engine, "shelters", "S1")
    settings = client.app.state.tile_cache.settings
    settings.max_features = 3  # exactly full: every park, read once in version order
    got = features(client.get(tile_path("logistics_parks", LON, LAT, 15)), "logistics_parks")
    assert set(got) == set(sizes.values())
    settings.max_features = 2  # one too many: read again, largest first
    multi = client.get(
        tile_path(None, LON, LAT, 15), params={"collections": "logistics_parks,shelters"}
    )
    assert list(features(multi, "logistics_parks")) == [sizes[0.004], sizes[0.002]]
    assert set(features(multi, "shelters")) == {shelter}  # a layer within its limit is whole


def test_cache_stays_within_its_byte_bound():
    from tiles.cache import ENTRY_OVERHEAD, TileCache, TileKey
    from tiles.settings import TileSettings

    cache = TileCache(TileSettings(cache_mb=0.01, listen=False))  # 10,485 bytes
    keys = [
        TileKey(("a",), ((0, 0, 0),), "WebMercatorQuad", 15, i, 0, None, (), "public")
        for i in range(10)
    ]
    for key in keys:
        cache.put(key, b"x" * 3000, current=True)
    assert cache.bytes <= 10_485 and cache.bytes == 3 * (3000 + ENTRY_OVERHEAD)
    assert cache.get(keys[-1]) is not None and cache.get(keys[0]) is None
    cache.bump("a")
    assert cache.bytes == 0 and cache.local["a"] == 1


def test_tile_connections_run_no_parallel_plans(client):
    """Equal data must give equal bytes (ETags) without a sort: no worker reorders rows."""

    async def setting() -> str:
        async with client.app.state.tile_cache.pool.connection() as conn:
            row = await (await conn.execute("SHOW max_parallel_workers_per_gather")).fetchone()
            return row[0]

    assert client.portal.call(setting) == "0"
