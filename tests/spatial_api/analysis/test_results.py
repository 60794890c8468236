"""Saved results: listed, expiring, access-checked, and served as OGC collections."""

from __future__ import annotations

import pytest
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import text

from loaders import chinese_offsets
from tests.support.analysis import AUTH, TOKEN, problem, seg


def test_saved_results_list_get_and_expire(client, engine):
    r = client.post(
        "/analysis/buffer",
        json={
            "geometry": {"type": "Point", "coordinates": [120.3, 36.0]},
            "distance_m": 100,
            "save": True,
            "ttl_s": 600,
        },
    )
    ref = r.json()["result"]
    assert ref["href"] == f"/results/{ref['id']}"
    assert ref["id"] in [x["id"] for x in client.get("/results").json()]
    got = client.get(ref["href"]).json()
    assert (
        got["features"][0]["properties"]["area_m2"]
        == r.json()["features"][0]["properties"]["area_m2"]
    )
    assert shape(got["features"][0]["geometry"]).equals_exact(
        shape(r.json()["features"][0]["geometry"]), 1e-8
    )
    with engine.begin() as c:
        c.execute(
            text("UPDATE city.results SET expires_at = now() - interval '1 s' WHERE id = :id"),
            {"id": ref["id"]},
        )
    problem(client.get(ref["href"]), 404, "expired")
    assert ref["id"] not in [x["id"] for x in client.get("/results").json()]


def test_results_from_restricted_layers_stay_restricted(client):
    r = client.post(
        "/analysis/buffer",
        headers=AUTH,
        json={"layer": "pipelines", "distance_m": 10, "save": True},
    )
    href = r.json()["result"]["href"]
    problem(client.get(href), 404, "restricted")
    assert client.get(href, params={"token": TOKEN}).status_code == 200
    got = client.get(href, headers=AUTH).json()
    assert got["number_returned"] == 3, (r.json()["number_returned"], got)


def test_a_saved_result_is_an_ogc_collection_with_items_and_tiles(client):
    import mapbox_vector_tile
    import morecantile

    r = client.post(
        "/lbs/within",
        json={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1, "distance_m": 5000, "save": True},
    )
    want = {f["id"]: f for f in r.json()["features"]}
    ref = r.json()["result"]
    cid = f"result-{ref['id']}"
    assert ref["collection"] == f"/collections/{cid}"
    listed = {c["id"]: c for c in client.get("/collections").json()["collections"]}
    assert cid in listed and "districts" in listed
    meta = client.get(ref["collection"]).json()
    assert meta["id"] == cid and meta["title"] == "Result: within"
    lon0, lat0, lon1, lat1 = meta["extent"]["spatial"]["bbox"][0]
    xs = [f["geometry"]["coordinates"][0] for f in want.values()]
    assert (lon0, lon1) == pytest.approx((min(xs), max(xs)), abs=1e-9)

    # Paged, in feature order, with next links until the last page.
    n = len(want)
    assert n > 4
    page = client.get(f"{ref['collection']}/items", params={"limit": 4}).json()
    assert page["numberMatched"] == n and page["numberReturned"] == 4
    assert [f["id"] for f in page["features"]] == [1, 2, 3, 4]
    assert any(link["rel"] == "next" for link in page["links"])
    rest = client.get(f"{ref['collection']}/items", params={"limit": 100, "offset": 4}).json()
    assert rest["numberReturned"] == n - 4
    assert not any(link["rel"] == "next" for link in rest["links"])
    got = [f["properties"]["name"] for f in page["features"] + rest["features"]]
    assert got == [f["properties"]["name"] for f in want.values()]  # nearest first, kept

    # bbox and CRS: EPSG:4549 metres out, and a GCJ-02 feature ~500 m from WGS 84.
    one = client.get(f"{ref['collection']}/items/1").json()
    x, y = one["geometry"]["coordinates"]
    small = client.get(
        f"{ref['collection']}/items",
        params={"bbox": f"{x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}"},
    ).json()
    assert [f["id"] for f in small["features"]] == [1]
    gk = client.get(f"{ref['collection']}/items/1", params={"crs": "EPSG:4549"})
    assert gk.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4549>"
    e, nn = Transformer.from_crs(4490, 4549, always_xy=True).transform(x, y)
    assert gk.json()["geometry"]["coordinates"] == pytest.approx([e, nn], abs=0.01)
    gcj = client.get(f"{ref['collection']}/items/1", params={"crs": "gcj02"}).json()
    assert 300 < seg((x, y), gcj["geometry"]["coordinates"]) < 700

    # Vector tiles: the feature is in its z15 tile with the result's properties.
    tile = morecantile.tms.get("WebMercatorQuad").tile(x, y, 15)
    t = client.get(f"{ref['collection']}/tiles/WebMercatorQuad/15/{tile.y}/{tile.x}")
    assert t.status_code == 200
    assert t.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = mapbox_vector_tile.decode(t.content)[cid]
    props = {f["id"]: f["properties"] for f in layer["features"]}
    assert props[1]["name"] == one["properties"]["name"]
    assert props[1]["distance_m"] == pytest.approx(one["properties"]["distance_m"])
    assert (
        client.get(t.request.url, headers={"If-None-Match": t.headers["etag"]}).status_code == 304
    )
    empty = client.get(f"{ref['collection']}/tiles/WebMercatorQuad/15/0/0")
    assert empty.status_code == 204
    # On a GCJ-02 basemap the feature sits where the basemap has it (~500 m away).
    wmq = morecantile.tms.get("WebMercatorQuad")
    glon, glat = (float(v) for v in chinese_offsets.wgs84_to_gcj02(x, y))
    gt = wmq.tile(glon, glat, 17)
    shifted = client.get(
        f"{ref['collection']}/tiles/WebMercatorQuad/17/{gt.y}/{gt.x}", params={"shift": "gcj02"}
    )
    b = wmq.xy_bounds(gt)
    gx, gy = wmq.xy(glon, glat)
    [moved] = [
        f for f in mapbox_vector_tile.decode(shifted.content)[cid]["features"] if f["id"] == 1
    ]
    mx, my = moved["geometry"]["coordinates"]
    # Within 1.5 tile units (11 cm at z17, a tenth of a pixel): grid rounding and the fit.
    assert abs(mx - (gx - b.left) / (b.right - b.left) * 4096) <= 1.5
    assert abs(my - (gy - b.bottom) / (b.top - b.bottom) * 4096) <= 1.5

    problem(client.get(f"{ref['collection']}/items/{n + 1}"), 404, "no feature")
    problem(
        client.get(f"{ref['collection']}/items", params={"datetime": "2020-01-01"}), 400, "datetime"
    )
    problem(client.get(f"{ref['collection']}/items", params={"limit": 0}), 400, "limit")
    problem(client.get("/collections/result-not-a-uuid/items"), 404, "result-not-a-uuid")
    problem(
        client.get("/collections/result-00000000-0000-0000-0000-000000000000"),
        404,
        "no live result",
    )


def test_a_restricted_result_collection_needs_the_token(client):
    import mapbox_vector_tile
    import morecantile

    r = client.post(
        "/analysis/buffer",
        headers=AUTH,
        json={"layer": "pipelines", "distance_m": 10, "save": True},
    )
    coll = r.json()["result"]["collection"]
    cid = coll.rsplit("/", 1)[1]
    assert cid not in [c["id"] for c in client.get("/collections").json()["collections"]]
    problem(client.get(f"{coll}/items"), 404, "restricted")
    tile = morecantile.tms.get("WebMercatorQuad").tile(120.1, 36.05, 10)
    tile_url = f"{coll}/tiles/WebMercatorQuad/10/{tile.y}/{tile.x}"
    problem(client.get(tile_url), 404, "restricted")
    assert cid in [c["id"] for c in client.get("/collections", headers=AUTH).json()["collections"]]
    page = client.get(f"{coll}/items", headers=AUTH).json()
    assert page["numberMatched"] == 3
    t = client.get(tile_url, headers=AUTH)
    assert t.status_code == 200 and t.headers["cache-control"].startswith("private")
    assert len(mapbox_vector_tile.decode(t.content)[cid]["features"]) == 3
