"""OGC API Features over a small versioned city: paging, selection, valid time, CRS, CQL2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from citygis.settings import ServerSettings
from layers import ALL_LAYERS
from loaders.chinese_offsets import from_wgs84
from spatial_api import create_app
from spatial_api.features import items
from tests.support.features_data import CURRENT, SHELTERS, insert_city, truncate_all

TOKEN = "features-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ITEMS = "/collections/shelters/items"


@pytest.fixture(scope="module")
def client(db_url, engine):
    truncate_all(engine)
    insert_city(engine)
    settings = ServerSettings(restricted_tokens=TOKEN)
    with TestClient(create_app(db_url, settings, pool_size=2)) as c:
        yield c
    truncate_all(engine)


def ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def link(body: dict, rel: str) -> str | None:
    return next((x["href"] for x in body["links"] if x["rel"] == rel), None)


def problem(r, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == status and text in r.json()["detail"], r.json()


def test_landing_and_conformance(client):
    rels = {x["rel"]: x["href"] for x in client.get("/").json()["links"]}
    assert rels["service-desc"].endswith("/api") and rels["data"].endswith("/collections")
    assert client.get(rels["conformance"]).status_code == 200
    classes = client.get("/conformance").json()["conformsTo"]
    for part in (
        "features-1/1.0/conf/core",
        "features-1/1.0/conf/geojson",
        "features-2/1.0/conf/crs",
        "features-3/1.0/conf/filter",
        "cql2/1.0/conf/cql2-text",
    ):
        assert any(c.endswith(part) for c in classes), part


def test_collections_hide_restricted_layers(client):
    def layers(headers: dict) -> list[str]:  # saved results other tests left are listed too
        found = client.get("/collections", headers=headers).json()["collections"]
        return [c["id"] for c in found if not c["id"].startswith("result-")]

    shown = [s.id for s in ALL_LAYERS if s.access == "public" or s.public_view is not None]
    assert layers({}) == shown
    assert layers(AUTH) == [s.id for s in ALL_LAYERS]
    for path in ("", "/items", "/items/P1", "/queryables", "/items/P1/history"):
        assert client.get(f"/collections/pipelines{path}", headers=AUTH).status_code == 200
    # Without a token, pipelines are their public view (test_public_view.py): no asset ids.
    for path, status in (("", 200), ("/items", 200), ("/items/P1", 404), ("/queryables", 200)):
        assert client.get(f"/collections/pipelines{path}").status_code == status, path
    problem(client.get("/collections/pipe_nodes/items"), 403, "restricted")


def test_collection_extent_and_crs(client):
    c = client.get("/collections/shelters").json()
    xs = [s[6] for s in SHELTERS if s[0] in CURRENT and s[2] is None]
    ys = [s[7] for s in SHELTERS if s[0] in CURRENT and s[2] is None]
    assert c["extent"]["spatial"]["bbox"][0] == pytest.approx([min(xs), min(ys), max(xs), max(ys)])
    assert c["extent"]["temporal"]["interval"] == [["2020-01-01T00:00:00Z", None]]
    assert c["storageCrs"].endswith("EPSG/0/4490") and "gcj02" in " ".join(c["crs"])
    assert c["itemType"] == "feature"


@pytest.mark.parametrize("spec", ALL_LAYERS, ids=lambda s: s.id)
def test_every_layer_serves_items(client, spec):
    r = client.get(f"/collections/{spec.id}/items", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert r.json()["type"] == "FeatureCollection"


def test_paging_counts_and_links(client):
    first = client.get(ITEMS, params={"limit": 3}).json()
    assert (first["numberMatched"], first["numberReturned"]) == (4, 3)
    assert link(first, "prev") is None and "offset=3" in link(first, "next")
    second = client.get(link(first, "next")).json()
    assert (second["numberMatched"], second["numberReturned"]) == (4, 1)
    assert link(second, "next") is None and "offset=0" in link(second, "prev")
    assert sorted(ids(first) + ids(second)) == sorted(CURRENT)
    assert client.get(ITEMS, params={"offset": 10}).json()["numberMatched"] == 4


@pytest.mark.parametrize("sortby", ["-capacity", "name", "-valid_from"])
def test_pages_past_the_match_cap_are_the_same_pages_uncounted(client, monkeypatch, sortby):
    """Past MATCH_CAP the counted keys are only a sample: the page is sorted from the source."""

    def pages() -> list[tuple[list[str], int | None]]:
        out = []
        for offset in range(0, 5):
            q = {"limit": 2, "offset": offset, "sortby": sortby}
            body = client.get(ITEMS, params=q, headers=AUTH).json()
            out.append((ids(body), body.get("numberMatched")))
        return out

    counted = pages()
    assert [m for _, m in counted] == [4] * 5
    monkeypatch.setattr(items, "MATCH_CAP", 3)
    capped = pages()
    assert [p for p, _ in capped] == [p for p, _ in counted]
    assert [m for _, m in capped] == [None] * 5
    assert len({i for p, _ in capped for i in p}) == 4


def test_feature_properties_and_versions(client):
    f = client.get(f"{ITEMS}/S1").json()
    assert f["id"] == "S1" and f["geometry"] == {"type": "Point", "coordinates": [120.3436, 36.069]}
    assert f["properties"]["capacity"] == 200
    assert (
        f["properties"]["valid_from"].startswith("2024-01-01")
        and f["properties"]["valid_to"] is None
    )
    old = client.get(f"{ITEMS}/S1@{f['properties']['version_id'] - 1}").json()
    assert old["properties"]["capacity"] == 100
    problem(client.get(f"{ITEMS}/S4"), 404, "no feature 'S4'")


def test_history_lists_every_version(client):
    body = client.get(f"{ITEMS}/S1/history").json()
    assert [f["properties"]["capacity"] for f in body["features"]] == [100, 200]
    assert all(i.startswith("S1@") for i in ids(body))
    problem(client.get(f"{ITEMS}/nope/history"), 404, "no feature")


def test_bbox_in_crs84_and_in_lat_lon_4326(client):
    box = client.get(ITEMS, params={"bbox": "120.33,36.05,120.35,36.07"}).json()
    assert sorted(ids(box)) == ["S1", "S2"]
    latlon = client.get(
        ITEMS,
        params={
            "bbox": "36.05,120.33,36.07,120.35",
            "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326",
        },
    )
    assert sorted(ids(latlon.json())) == ["S1", "S2"]
    six = client.get(ITEMS, params={"bbox": "120.33,36.05,-10,120.35,36.07,10"}).json()
    assert six["numberMatched"] == 2


def test_property_filter_sortby_and_properties(client):
    parks = client.get(ITEMS, params={"kind": "park", "sortby": "-capacity"}).json()
    assert ids(parks) == ["S5", "S1"]
    by_name = client.get(ITEMS, params={"sortby": "+name", "properties": "name,capacity"}).json()
    assert [f["properties"]["name"] for f in by_name["features"]] == sorted(
        f["properties"]["name"] for f in by_name["features"]
    )
    assert set(by_name["features"][0]["properties"]) == {"name", "capacity"}
    gas = client.get("/collections/pipelines/items", params={"utility": "gas"}, headers=AUTH)
    assert sorted(ids(gas.json())) == ["P1", "P3"]


def test_datetime_instant_and_interval(client):
    then = client.get(ITEMS, params={"datetime": "2021-06-01T00:00:00Z"}).json()
    assert sorted(ids(then)) == ["S1", "S2", "S3", "S4", "S5"]
    assert next(f for f in then["features"] if f["id"] == "S1")["properties"]["capacity"] == 100
    early = client.get(ITEMS, params={"datetime": "2020-06-01"}).json()
    assert sorted(ids(early)) == ["S1", "S2", "S4", "S5"]
    every = client.get(ITEMS, params={"datetime": "../2030-01-01T00:00:00Z", "limit": 100}).json()
    assert every["numberMatched"] == len(SHELTERS)
    assert sum(i.startswith("S1@") for i in ids(every)) == 2
    late = client.get(ITEMS, params={"datetime": "2023-01-01T00:00:00Z/.."}).json()
    assert sorted(i.split("@")[0] for i in ids(late)) == ["S1", "S1", "S2", "S3", "S5"]


def coords(body: dict) -> np.ndarray:
    return np.array([f["geometry"]["coordinates"] for f in body["features"]])


def test_crs_round_trips(client):
    base = client.get(ITEMS, params={"sortby": "id"}).json()
    lonlat = coords(base)
    r = client.get(ITEMS, params={"sortby": "id", "crs": "EPSG:4549"})
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4549>"
    x, y = Transformer.from_crs(4490, 4549, always_xy=True).transform(lonlat[:, 0], lonlat[:, 1])
    np.testing.assert_allclose(coords(r.json()), np.c_[x, y], atol=1e-6, rtol=0)
    merc = client.get(
        ITEMS, params={"sortby": "id", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}
    )
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(lonlat[:, 0], lonlat[:, 1])
    np.testing.assert_allclose(coords(merc.json()), np.c_[x, y], atol=1e-6, rtol=0)
    latlon = client.get(
        ITEMS, params={"sortby": "id", "crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}
    )
    np.testing.assert_allclose(coords(latlon.json()), lonlat[:, ::-1])
    for name in ("gcj02", "bd09"):
        r = client.get(ITEMS, params={"sortby": "id", "crs": name})
        assert r.headers["content-crs"] == f"<urn:citygis:def:crs:{name}>"
        want = from_wgs84(shapely.points(lonlat), name)
        np.testing.assert_allclose(coords(r.json()), shapely.get_coordinates(want), atol=1e-9)
    one = client.get(f"{ITEMS}/S2", params={"crs": "EPSG:4549"})
    assert one.headers["content-crs"].endswith("4549>")
    assert one.json()["geometry"]["coordinates"][0] > 500_000


CQL = [
    ("capacity > 250 AND kind = 'square'", ["S2", "S3"]),
    ("name LIKE '中山%' OR capacity BETWEEN 500 AND 700", ["S1", "S5"]),
    ("kind IN ('park') AND NOT (capacity < 300)", ["S5"]),
    (
        "S_INTERSECTS(geometry, POLYGON((120.33 36.05, 120.35 36.05, 120.35 36.07, 120.33 36.07,"
        " 120.33 36.05)))",
        ["S1", "S2"],
    ),
    ("S_WITHIN(geometry, BBOX(120.38, 36.06, 120.48, 36.1))", ["S3", "S5"]),
    ("T_AFTER(valid_from, TIMESTAMP('2020-06-01T00:00:00Z'))", ["S1", "S3"]),
]


@pytest.mark.parametrize(("text", "want"), CQL)
def test_cql2_text(client, text, want):
    r = client.get(ITEMS, params={"filter": text, "filter-lang": "cql2-text"})
    assert sorted(ids(r.json())) == want, r.text


def test_cql2_temporal_on_event_period(client):
    during = "T_INTERSECTS(datetime, INTERVAL('2023-04-01T00:00:00Z', '2023-06-01T00:00:00Z'))"
    r = client.get("/collections/incidents/items", params={"filter": during})
    assert ids(r.json()) == ["I1"]
    open_ended = "T_INTERSECTS(datetime, TIMESTAMP('2030-01-01T00:00:00Z'))"
    assert ids(
        client.get("/collections/incidents/items", params={"filter": open_ended}).json()
    ) == ["I2"]
    disjoint = "T_DISJOINT(datetime, INTERVAL('2023-04-01T00:00:00Z', '2023-06-01T00:00:00Z'))"
    assert ids(client.get("/collections/incidents/items", params={"filter": disjoint}).json()) == [
        "I2"
    ]


def test_cql2_json_spatial_and_temporal(client):
    spatial = {
        "op": "and",
        "args": [
            {"op": ">=", "args": [{"property": "capacity"}, 300]},
            {
                "op": "s_intersects",
                "args": [
                    {"property": "geometry"},
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [120.3, 36.0],
                                [120.4, 36.0],
                                [120.4, 36.1],
                                [120.3, 36.1],
                                [120.3, 36.0],
                            ]
                        ],
                    },
                ],
            },
        ],
    }
    r = client.get(ITEMS, params={"filter": json.dumps(spatial), "filter-lang": "cql2-json"})
    assert sorted(ids(r.json())) == ["S2", "S3"]
    temporal = {
        "op": "t_intersects",
        "args": [{"property": "datetime"}, {"interval": ["2025-01-01T00:00:00Z", ".."]}],
    }
    r = client.get(
        "/collections/incidents/items",
        params={"filter": json.dumps(temporal), "filter-lang": "cql2-json"},
    )
    assert ids(r.json()) == ["I2"]


def test_filter_crs_lat_lon(client):
    text = (
        "S_INTERSECTS(geometry, POLYGON((36.05 120.33, 36.05 120.35, 36.07 120.35, "
        "36.07 120.33, 36.05 120.33)))"
    )
    r = client.get(ITEMS, params={"filter": text, "filter-crs": "EPSG:4326"})
    assert sorted(ids(r.json())) == ["S1", "S2"]


def test_queryables_schema(client):
    r = client.get("/collections/pipelines/queryables", headers=AUTH)
    assert r.headers["content-type"] == "application/schema+json"
    props = r.json()["properties"]
    assert props["utility"]["enum"] == ["water", "drainage", "gas", "heating", "telecom", "power"]
    assert props["diameter_mm"] == {
        "title": "Diameter",
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 10000,
        "description": "unit: mm",
    }
    assert props["install_date"]["format"] == "date"
    assert props["geometry"]["format"] == "geometry-linestring"
    assert props["datetime"]["format"] == "date-time"
    assert r.json()["additionalProperties"] is False


ERRORS = [
    (f"{ITEMS}?bbox=1,2,3", 400, "4 or 6"),
    (f"{ITEMS}?bbox=a,b,c,d", 400, "not a list of numbers"),
    (f"{ITEMS}?bbox=10,10,0,0", 400, "exceeds"),
    (f"{ITEMS}?bbox=0,-100,10,10", 400, "latitude"),
    (f"{ITEMS}?bbox=0,0,1,1&bbox-crs=EPSG:9999", 400, "unsupported CRS"),
    (f"{ITEMS}?crs=EPSG:2000", 400, "unsupported CRS"),
    (f"{ITEMS}?limit=10001", 400, "limit"),
    (f"{ITEMS}?limit=0", 400, "limit"),
    (f"{ITEMS}?limit=many", 400, "limit"),
    (f"{ITEMS}?offset=-1", 400, "offset"),
    (f"{ITEMS}?datetime=yesterday", 400, "RFC 3339"),
    (f"{ITEMS}?datetime=2024-01-01/2020-01-01", 400, "ends before"),
    (f"{ITEMS}?colour=red", 400, "unknown query parameter(s) colour"),
    (f"{ITEMS}?capacity=lots", 400, "capacity"),
    (f"{ITEMS}?properties=name,nope", 400, "properties: unknown nope"),
    (f"{ITEMS}?sortby=-nope", 400, "sortby: unknown property 'nope'"),
    (f"{ITEMS}?filter=nope = 1", 400, "unknown property 'nope'"),
    (f"{ITEMS}?filter=name = ", 400, "invalid cql2-text"),
    (f"{ITEMS}?filter=name = 1", 400, "cannot compare"),
    (f"{ITEMS}?filter={{bad&filter-lang=cql2-json", 400, "invalid cql2-json"),
    (f"{ITEMS}?filter=x&filter-lang=sql", 400, "filter-lang"),
    (f"{ITEMS}?filter=install_date > DATE('2020-01-01')", 400, "unknown property"),
    (f"{ITEMS}?filter=name < TIMESTAMP('2020-01-01T00:00:00Z')", 400, "cannot compare"),
    (f"{ITEMS}?f=html", 400, "format"),
    ("/collections/nowhere/items", 404, "unknown layer"),
    ("/collections/nowhere", 404, "unknown layer"),
    (f"{ITEMS}/S1?crs=bogus", 400, "unsupported CRS"),
]


@pytest.mark.parametrize(("url", "status", "text"), ERRORS)
def test_bad_input_is_a_problem_not_a_500(client, url, status, text):
    problem(client.get(url), status, text)


def test_item_reads_the_version_valid_at_datetime(client):
    """Defect: a single item ignored `datetime` and answered 404 "not valid now"."""
    then = client.get(f"{ITEMS}/S4", params={"datetime": "2021-06-01T00:00:00Z"})
    assert then.status_code == 200, then.text
    assert then.json()["id"] == "S4" and then.json()["properties"]["name"] == "旧学校"
    old = client.get(f"{ITEMS}/S1", params={"datetime": "2021-06-01T00:00:00Z"}).json()
    now = client.get(f"{ITEMS}/S1").json()
    assert (old["properties"]["capacity"], now["properties"]["capacity"]) == (100, 200)
    problem(client.get(f"{ITEMS}/S4"), 404, "no feature 'S4' in 'shelters' valid now")
    problem(
        client.get(f"{ITEMS}/S3", params={"datetime": "2020-06-01T00:00:00Z"}),
        404,
        "valid at 2020-06-01T00:00:00+00:00",
    )
    problem(
        client.get(f"{ITEMS}/S1", params={"datetime": "2020-01-01/2024-01-01"}),
        400,
        "an item is read at an instant",
    )


@pytest.mark.parametrize("name", ["id", "asset_id"])
def test_asset_id_and_id_are_one_queryable(client, name):
    """Defect: README and answers say `asset_id`; filters and queryables knew only `id`."""
    assert name in client.get("/collections/shelters/queryables").json()["properties"]
    cql = client.get(ITEMS, params={"filter": f"{name} IN ('S2','S5')"})
    assert cql.status_code == 200, cql.text
    assert sorted(ids(cql.json())) == ["S2", "S5"]
    cql_json = client.get(
        ITEMS,
        params={
            "filter-lang": "cql2-json",
            "filter": json.dumps({"op": "=", "args": [{"property": name}, "S3"]}),
        },
    )
    assert ids(cql_json.json()) == ["S3"]
    assert ids(client.get(ITEMS, params={name: "S1"}).json()) == ["S1"]
    assert ids(client.get(ITEMS, params={"sortby": f"-{name}"}).json()) == ["S5", "S3", "S2", "S1"]
