"""Writes (OGC API Features Part 4) as versions in valid time, against a live app."""

from __future__ import annotations

import threading

import mapbox_vector_tile
import numpy as np
import pytest
from sqlalchemy import text

from layers import Catalog
from layers.roles import load_roles
from loaders.chinese_offsets import gcj02_to_wgs84
from tests.tiles.test_tiles import LAT, LON, tile_path

ROLES = load_roles(Catalog().values())
T0, T1, T2 = "2026-03-01T08:00:00Z", "2026-03-01T10:05:00Z", "2026-03-02T09:00:00Z"


def shelter(name="八大关广场", lon=LON, lat=LAT, **props) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": name, "capacity": 800, "kind": "square", "status": "open"} | props,
    }


def counts(engine) -> tuple[int, int, int]:
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT (SELECT count(*) FROM city.shelters),"
                " (SELECT count(*) FROM city.load_runs), (SELECT count(*) FROM city.audit)"
            )
        ).one()


def test_an_emergency_token_creates_a_shelter_that_everyone_then_reads(client, auth, engine):
    r = client.post(
        "/collections/shelters/items",
        json=shelter(),
        headers=auth["emergency"],
        params={"valid_from": T0},
    )
    assert r.status_code == 201, r.text
    asset = r.json()["ids"][0]
    assert r.headers["location"].endswith(f"/collections/shelters/items/{asset}")
    got = client.get(f"/collections/shelters/items/{asset}")  # a viewer: shelters are public
    assert got.status_code == 200
    assert got.headers["etag"] == r.headers["etag"]
    f = got.json()
    assert f["properties"]["name"] == "八大关广场" and f["properties"]["capacity"] == 800
    assert f["geometry"]["coordinates"] == pytest.approx([LON, LAT], abs=1e-9)
    assert f["properties"]["valid_from"].startswith("2026-03-01T08:00:00")
    with engine.connect() as c:
        row = c.execute(
            text("SELECT token_name, role, action, layer_id FROM city.audit WHERE action <> 'read'")
        ).one()
    assert tuple(row) == ("emergency", "emergency", "create", "shelters")


@pytest.mark.parametrize(
    "role, layer, status",
    [
        ("viewer", "shelters", 401),  # anonymous: asked for a token
        ("planner", "shelters", 403),
        ("crew", "shelters", 403),
        ("emergency", "shelters", 201),
        ("admin", "shelters", 201),
        ("planner", "pipelines", 403),
        ("viewer", "pipelines", 403),
    ],
)
def test_no_write_without_the_right(client, auth, engine, role, layer, status):
    before = counts(engine)
    r = client.post(f"/collections/{layer}/items", json=shelter(), headers=auth[role])
    assert r.status_code == status, r.text
    if status != 201:
        assert counts(engine) == before
        assert r.headers["content-type"] == "application/problem+json"


def test_a_batch_is_all_or_nothing_and_lists_every_problem(client, auth, engine):
    before = counts(engine)
    batch = {
        "type": "FeatureCollection",
        "features": [shelter("A"), shelter("B", capacity=-5), shelter("C", colour="red")],
    }
    r = client.post("/collections/shelters/items", json=batch, headers=auth["emergency"])
    assert r.status_code == 422
    problems = r.json()["errors"]
    assert [p["feature"] for p in problems] == [1, 2]
    assert "capacity" in problems[0]["reason"] and "-5" in problems[0]["reason"]
    assert problems[1]["reason"] == "unknown property 'colour' of shelters"
    assert counts(engine) == before


BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


@pytest.mark.parametrize(
    "change, status, word",
    [
        ({"properties": {"capacity": "many"}}, 422, "capacity"),
        ({"properties": {"capacity": -1}}, 422, "capacity"),
        ({"properties": {"kind": "bunker"}}, 422, "kind"),
        ({"properties": {"colour": "red"}}, 422, "unknown property 'colour'"),
        ({"properties": {"name": None}}, 422, "name is required"),
        (
            {"geometry": {"type": "LineString", "coordinates": [[LON, LAT], [LON + 0.01, LAT]]}},
            422,
            "layer shelters takes Point",
        ),
        ({"geometry": BOWTIE}, 422, "invalid geometry"),
        ({"geometry": {"type": "Point"}}, 422, "geometry"),
        (
            {"headers": {"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/99999>"}},
            400,
            "Content-Crs",
        ),
        ({"params": {"valid_from": "yesterday-ish"}}, 400, "valid_from"),
    ],
)
def test_bad_creates_are_4xx_and_write_nothing(client, auth, engine, change, status, word):
    body = shelter()
    body["properties"].update(change.get("properties", {}))
    body["properties"] = {k: v for k, v in body["properties"].items() if v is not None}
    if "geometry" in change:
        body["geometry"] = change["geometry"]
    before = counts(engine)
    r = client.post(
        "/collections/shelters/items",
        json=body,
        headers=auth["emergency"] | change.get("headers", {}),
        params=change.get("params", {}),
    )
    assert r.status_code == status, r.text
    assert word in r.text
    assert counts(engine) == before


def test_a_huge_body_is_413(client, auth, engine):
    before = counts(engine)
    big = b'{"type": "FeatureCollection", "features": [' + b" " * (33 * 2**20) + b"]}"
    r = client.post(
        "/collections/shelters/items",
        content=big,
        headers=auth["emergency"] | {"Content-Type": "application/geo+json"},
    )
    assert r.status_code == 413
    assert counts(engine) == before


def _create(client, auth, body=None, at=T0) -> str:
    r = client.post(
        "/collections/shelters/items",
        json=body or shelter(),
        headers=auth["emergency"],
        params={"valid_from": at},
    )
    assert r.status_code == 201, r.text
    return r.json()["ids"][0]


def test_replace_update_and_delete_are_versions_in_valid_time(client, auth, engine):
    asset = _create(client, auth)
    etag = client.get(f"/collections/shelters/items/{asset}").headers["etag"]
    r = client.patch(
        f"/collections/shelters/items/{asset}",
        json={"properties": {"status": "full", "capacity": 950}},
        headers=auth["emergency"] | {"If-Match": etag},
        params={"valid_from": T1},
    )
    assert r.status_code == 204, r.text
    r = client.delete(
        f"/collections/shelters/items/{asset}", headers=auth["emergency"], params={"valid_from": T2}
    )
    assert r.status_code == 204

    def at(instant):
        r = client.get("/collections/shelters/items", params={"datetime": instant})
        return [
            (f["id"], f["properties"]["status"], f["properties"]["capacity"])
            for f in r.json()["features"]
        ]

    assert at("2026-03-01T07:59:59Z") == []
    assert at("2026-03-01T09:00:00Z") == [(asset, "open", 800)]
    assert at("2026-03-01T12:00:00Z") == [(asset, "full", 950)]
    assert at("2026-03-03T00:00:00Z") == []
    assert client.get(f"/collections/shelters/items/{asset}").status_code == 404
    history = client.get(f"/collections/shelters/items/{asset}/history").json()["features"]
    assert [f["properties"]["status"] for f in history] == ["open", "full"]
    with engine.connect() as c:
        rows = c.execute(text("SELECT action, details FROM city.audit ORDER BY id")).all()
    assert [r.action for r in rows] == ["create", "update", "delete"]
    assert rows[1].details["before"] == int(etag.strip('"'))
    assert rows[2].details["after"] is None


def test_put_replaces_the_whole_feature(client, auth):
    asset = _create(client, auth)
    r = client.put(
        f"/collections/shelters/items/{asset}",
        json=shelter("中山公园", LON + 0.001, LAT, kind="park"),
        headers=auth["emergency"],
        params={"valid_from": T1},
    )
    assert r.status_code == 204, r.text
    f = client.get(f"/collections/shelters/items/{asset}").json()
    assert f["properties"]["name"] == "中山公园" and f["properties"]["kind"] == "park"
    assert f["geometry"]["coordinates"][0] == pytest.approx(LON + 0.001, abs=1e-9)


def test_stale_if_match_and_early_valid_from_write_nothing(client, auth, engine):
    asset = _create(client, auth)
    etag = client.get(f"/collections/shelters/items/{asset}").headers["etag"]
    ok = client.patch(
        f"/collections/shelters/items/{asset}",
        json={"properties": {"status": "full"}},
        headers=auth["emergency"] | {"If-Match": etag},
        params={"valid_from": T1},
    )
    assert ok.status_code == 204
    before = counts(engine)
    stale = client.patch(
        f"/collections/shelters/items/{asset}",
        json={"properties": {"status": "closed"}},
        headers=auth["emergency"] | {"If-Match": etag},
        params={"valid_from": T2},
    )
    assert stale.status_code == 412
    early = client.patch(
        f"/collections/shelters/items/{asset}",
        json={"properties": {"status": "closed"}},
        headers=auth["emergency"],
        params={"valid_from": T0},
    )
    assert early.status_code == 400 and "not after the start" in early.json()["detail"]
    assert counts(engine) == before


def test_two_writers_with_one_etag_exactly_one_wins(client, auth):
    asset = _create(client, auth)
    etag = client.get(f"/collections/shelters/items/{asset}").headers["etag"]
    codes: list[int] = []
    go = threading.Barrier(2)

    def write(status):
        go.wait()
        r = client.patch(
            f"/collections/shelters/items/{asset}",
            json={"properties": {"status": status}},
            headers=auth["emergency"] | {"If-Match": etag},
            params={"valid_from": T1},
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=write, args=(s,)) for s in ("full", "closed")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [204, 412]
    history = client.get(f"/collections/shelters/items/{asset}/history").json()["features"]
    assert len(history) == 2


def test_tiles_see_a_write_at_once(client, auth):
    path = tile_path("shelters", LON, LAT, 15)
    assert client.get(path).status_code in (200, 204)  # cached empty
    _create(client, auth, at="2020-01-01T00:00:00Z")
    tile = mapbox_vector_tile.decode(client.get(path).content)
    assert [f["properties"]["name"] for f in tile["shelters"]["features"]] == ["八大关广场"]


def test_a_gcj02_body_is_shifted_back_to_cgcs2000(client, auth, engine):
    glon, glat = 120.3524, 36.0587  # as AMap shows 八大关
    asset = _create(client, auth, shelter(lon=glon, lat=glat))  # default CRS84: no shift
    r = client.post(
        "/collections/shelters/items",
        json=shelter("八大关 (AMap)", glon, glat),
        headers=auth["emergency"] | {"Content-Crs": "gcj02"},
    )
    assert r.status_code == 201, r.text
    moved = r.json()["ids"][0]
    with engine.connect() as c:
        pts = dict(
            c.execute(
                text("SELECT asset_id, ARRAY[ST_X(geom), ST_Y(geom)] FROM city.shelters")
            ).all()
        )
    want = np.array(gcj02_to_wgs84(glon, glat)).ravel()
    assert pts[moved] == pytest.approx(list(want), abs=1e-7)
    assert pts[asset] == pytest.approx([glon, glat], abs=1e-9)
    with engine.connect() as c:
        metres = c.execute(
            text(
                "SELECT ST_Distance(a.geom::geography, b.geom::geography) FROM city.shelters a,"
                " city.shelters b WHERE a.asset_id = :a AND b.asset_id = :b"
            ),
            {"a": asset, "b": moved},
        ).scalar()
    assert 400 < metres < 600  # the GCJ-02 offset at Qingdao


def test_conformance_announces_part_4(client):
    classes = client.get("/conformance").json()["conformsTo"]
    part4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/"
    assert {part4 + c for c in ("create-replace-delete", "update", "features")} <= set(classes)


def test_the_audit_is_for_admins_and_records_restricted_reads(client, auth, engine):
    _create(client, auth)
    assert client.get("/audit", headers=auth["emergency"]).status_code == 403
    assert client.get("/audit").status_code == 403
    box = f"{LON - 0.01},{LAT - 0.01},{LON + 0.01},{LAT + 0.01}"
    assert (
        client.get(
            "/collections/pipelines/items", params={"bbox": box}, headers=auth["crew"]
        ).status_code
        == 200
    )
    client.get("/collections/shelters/items", headers=auth["crew"])  # public: not logged
    r = client.get("/audit", headers=auth["admin"])
    assert r.status_code == 200
    got = [(e["token_name"], e["role"], e["action"], e["layer_id"]) for e in r.json()]
    assert got == [
        ("crew", "crew", "read", "pipelines"),
        ("emergency", "emergency", "create", "shelters"),
    ]
    assert r.json()[0]["details"]["bbox"] == box
    only = client.get("/audit", params={"action": "create"}, headers=auth["admin"]).json()
    assert [e["action"] for e in only] == ["create"]
