"""Scenarios (what-if): edits seen only in their scenario, diffed, committed or refused."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from tests.tiles.test_tiles import LAT, LON, tile_path

T0 = "2026-06-01T00:00:00Z"
SITE = "QD-SN-0417"


def site(name="八大关站址", lon=LON, lat=LAT, **props) -> dict:
    return {
        "type": "Feature",
        "id": SITE,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": name, "structure": "tower", "height_m": 35.0} | props,
    }


def sector(n: int, azimuth: float, operator="china_mobile") -> dict:
    props = {"site_id": SITE, "operator": operator, "technology": "nr", "band": "n78"}
    props |= {"frequency_mhz": 3500.0, "azimuth_deg": azimuth, "power_dbm": 46.0}
    return {
        "type": "Feature",
        "id": f"{SITE}-{n}",
        "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        "properties": props,
    }


def new_scenario(client, headers, title="八大关 5G 补点") -> str:
    r = client.post("/scenarios", json={"title": title}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith(f"/scenarios/{r.json()['id']}")
    return r.json()["id"]


def ids(client, layer, headers, **params) -> list[str]:
    r = client.get(f"/collections/{layer}/items", params=params | {"limit": 100}, headers=headers)
    assert r.status_code == 200, r.text
    return sorted(f["id"] for f in r.json()["features"])


def test_a_planner_adds_a_site_and_three_sectors_in_a_scenario_then_commits(client, auth):
    planner = auth["planner"]
    sid = new_scenario(client, planner)
    got = client.get(f"/scenarios/{sid}", headers=planner).json()
    assert (got["title"], got["owner"], got["role"], got["committed_at"]) == (
        "八大关 5G 补点",
        "planner",
        "planner",
        None,
    )
    r = client.post(
        "/collections/base_stations/items", json=site(), headers=planner, params={"scenario": sid}
    )
    assert r.status_code == 201, r.text
    batch = {
        "type": "FeatureCollection",
        "features": [sector(i, a) for i, a in ((1, 0), (2, 120), (3, 240))],
    }
    r = client.post(
        "/collections/sectors/items", json=batch, headers=planner, params={"scenario": sid}
    )
    assert r.status_code == 201, r.text
    sectors = [f"{SITE}-{i}" for i in (1, 2, 3)]
    # Only the scenario sees them: not the live city, for no one.
    for who in ("viewer", "planner", "admin"):
        assert ids(client, "sectors", auth[who]) == []
        assert ids(client, "base_stations", auth[who]) == []
    assert ids(client, "sectors", planner, scenario=sid) == sectors
    assert ids(client, "base_stations", planner, scenario=sid) == [SITE]
    one = client.get(
        f"/collections/sectors/items/{SITE}-2", params={"scenario": sid}, headers=planner
    )
    assert one.status_code == 200 and one.json()["properties"]["azimuth_deg"] == 120
    assert int(one.headers["etag"].strip('"')) < 0  # a scenario row, not a live version
    # Tiles too: the site is drawn in the scenario only.
    path = tile_path("base_stations", LON, LAT, 15)
    drawn = client.get(path, params={"scenario": sid}, headers=planner)
    assert drawn.status_code == 200
    names = [
        f["properties"]["name"]
        for f in mapbox_vector_tile.decode(drawn.content)["base_stations"]["features"]
    ]
    assert names == ["八大关站址"]
    assert client.get(path, headers=planner).status_code == 204
    # Another role, and the anonymous viewer, do not see the scenario at all.
    assert client.get(f"/scenarios/{sid}", headers=auth["emergency"]).status_code == 404
    assert client.get("/collections/sectors/items", params={"scenario": sid}).status_code == 404
    assert client.get(path, params={"scenario": sid}).status_code == 404
    assert client.get("/scenarios", headers=auth["emergency"]).json() == {"scenarios": []}
    assert client.post("/scenarios", json={"title": "x"}).status_code == 401
    assert client.get("/scenarios", headers=planner).json()["scenarios"][0]["id"] == sid

    diff = client.get(f"/scenarios/{sid}/changes", headers=planner).json()
    assert sorted(diff["layers"]) == ["base_stations", "sectors"]
    assert [a["asset_id"] for a in diff["layers"]["sectors"]["added"]] == sectors
    assert diff["layers"]["base_stations"]["changed"] == []

    done = client.post(f"/scenarios/{sid}/commit", headers=planner)
    assert done.status_code == 200, done.text
    assert sorted(done.json()["layers"]["sectors"]["versions"]) == sectors
    assert ids(client, "sectors", auth["viewer"]) == sectors
    assert ids(client, "base_stations", auth["viewer"]) == [SITE]
    late = client.post(
        "/collections/sectors/items", json=sector(4, 60), headers=planner, params={"scenario": sid}
    )
    assert late.status_code == 409
    assert "was committed" in late.json()["detail"]


@pytest.fixture
def live_sites(client, auth):
    for sid, name in (("S-A", "中山公园站"), ("S-B", "汇泉广场站")):
        body = site(name) | {"id": sid}
        r = client.post(
            "/collections/base_stations/items",
            json=body,
            headers=auth["planner"],
            params={"valid_from": T0},
        )
        assert r.status_code == 201, r.text
    return ["S-A", "S-B"]


def raise_a_and_remove_b(client, planner, params) -> None:
    """In the scenario of `params`: S-A's mast raised to 45 m, S-B deleted."""
    r = client.patch(
        "/collections/base_stations/items/S-A",
        json={"properties": {"height_m": 45.0}},
        headers=planner,
        params=params,
    )
    assert r.status_code == 204, r.text
    r = client.delete("/collections/base_stations/items/S-B", headers=planner, params=params)
    assert r.status_code == 204, r.text


def test_changes_and_deletions_apply_over_the_live_city(client, auth, engine, live_sites):
    planner = auth["planner"]
    sid = new_scenario(client, planner)
    in_s = {"scenario": sid}
    raise_a_and_remove_b(client, planner, in_s)
    heights = {
        f["id"]: f["properties"]["height_m"]
        for f in client.get(
            "/collections/base_stations/items", params=in_s, headers=planner
        ).json()["features"]
    }
    assert heights == {"S-A": 45.0}
    assert ids(client, "base_stations", planner) == ["S-A", "S-B"]  # live: untouched
    diff = client.get(f"/scenarios/{sid}/changes", headers=planner).json()["layers"][
        "base_stations"
    ]
    [changed] = diff["changed"]
    assert (
        changed["before"]["properties"]["height_m"],
        changed["after"]["properties"]["height_m"],
    ) == (35.0, 45.0)
    assert [d["asset_id"] for d in diff["deleted"]] == ["S-B"]
    assert client.post(f"/scenarios/{sid}/commit", headers=planner).status_code == 200
    live = client.get("/collections/base_stations/items", headers=planner).json()["features"]
    assert [(f["id"], f["properties"]["height_m"]) for f in live] == [("S-A", 45.0)]
    # History stays: before the commit's valid_from, S-B and the 35 m mast are still there.
    then = ids(client, "base_stations", planner, datetime="2026-07-01T00:00:00Z")
    assert then == ["S-A", "S-B"]
    with engine.connect() as c:
        versions = c.execute(text("SELECT count(*) FROM city.base_stations")).scalar_one()
    assert versions == 3  # S-A twice, S-B once (closed)


def test_history_in_a_scenario_shows_its_edits_over_the_live_versions(client, auth, live_sites):
    planner = auth["planner"]
    sid = new_scenario(client, planner)
    in_s = {"scenario": sid, "valid_from": "2026-09-01T00:00:00Z"}
    raise_a_and_remove_b(client, planner, in_s)

    def history(asset, **params):
        r = client.get(
            f"/collections/base_stations/items/{asset}/history", params=params, headers=planner
        )
        assert r.status_code == 200, r.text
        return [
            (
                f["properties"]["height_m"],
                f["properties"]["valid_from"][:10],
                (f["properties"]["valid_to"] or "")[:10],
                f["properties"]["version_id"] < 0,
            )
            for f in r.json()["features"]
        ]

    # Live: one version each, open. In the scenario: the live one cut where the edit
    # starts, then the scenario's own (a negative id); S-B ends at its deletion.
    assert history("S-A") == [(35.0, "2026-06-01", "", False)]
    assert history("S-A", scenario=sid) == [
        (35.0, "2026-06-01", "2026-09-01", False),
        (45.0, "2026-09-01", "", True),
    ]
    assert history("S-B", scenario=sid) == [(35.0, "2026-06-01", "2026-09-01", False)]
    # Another role's scenario is not readable, in history as anywhere.
    r = client.get(
        "/collections/base_stations/items/S-A/history",
        params={"scenario": sid},
        headers=auth["crew"],
    )
    assert r.status_code in (403, 404), r.text
    assert (
        client.get(
            "/collections/base_stations/items/S-A/history",
            params={"scenario": sid, "recorded": "2026-09-01T00:00:00Z"},
            headers=planner,
        ).status_code
        == 400
    )


def test_a_commit_refuses_when_the_live_asset_changed_since(client, auth, engine, live_sites):
    planner = auth["planner"]
    sid = new_scenario(client, planner)
    assert (
        client.patch(
            "/collections/base_stations/items/S-A",
            json={"properties": {"height_m": 45.0}},
            headers=planner,
            params={"scenario": sid},
        ).status_code
        == 204
    )
    assert (
        client.patch(
            "/collections/base_stations/items/S-A",
            json={"properties": {"owner": "中国铁塔"}},
            headers=planner,
        ).status_code
        == 204
    )
    with engine.connect() as c:
        before = c.execute(text("SELECT count(*) FROM city.base_stations")).scalar_one()
    r = client.post(f"/scenarios/{sid}/commit", headers=planner)
    assert r.status_code == 409
    assert r.json()["assets"] == ["S-A"]
    with engine.connect() as c:
        after = c.execute(text("SELECT count(*) FROM city.base_stations")).scalar_one()
        committed = c.execute(text("SELECT committed_at FROM city.scenarios")).scalar_one()
    assert (after, committed) == (before, None)


def test_stale_etags_and_discard(client, auth, live_sites):
    planner = auth["planner"]
    sid = new_scenario(client, planner)
    in_s = {"scenario": sid}
    live_etag = client.get(
        "/collections/base_stations/items/S-A", params=in_s, headers=planner
    ).headers["etag"]
    ok = client.patch(
        "/collections/base_stations/items/S-A",
        json={"properties": {"height_m": 40.0}},
        headers=planner | {"If-Match": live_etag},
        params=in_s,
    )
    assert ok.status_code == 204, ok.text
    stale = client.patch(
        "/collections/base_stations/items/S-A",
        json={"properties": {"height_m": 50.0}},
        headers=planner | {"If-Match": live_etag},
        params=in_s,
    )
    assert stale.status_code == 412
    assert ok.headers["etag"] in stale.json()["detail"]
    # A site made and unmade in the scenario leaves nothing behind.
    assert (
        client.post(
            "/collections/base_stations/items",
            json=site() | {"id": "S-X"},
            headers=planner,
            params=in_s,
        ).status_code
        == 201
    )
    assert (
        client.delete(
            "/collections/base_stations/items/S-X", headers=planner, params=in_s
        ).status_code
        == 204
    )
    assert ids(client, "base_stations", planner, scenario=sid) == ["S-A", "S-B"]
    assert client.delete(f"/scenarios/{sid}", headers=auth["emergency"]).status_code == 404
    assert client.delete(f"/scenarios/{sid}", headers=planner).status_code == 204
    assert client.get(f"/scenarios/{sid}", headers=planner).status_code == 404


def test_scenario_and_recorded_together_is_a_400(client, auth):
    r = client.get("/collections/shelters/items", params={"scenario": "scn-x", "recorded": T0})
    assert r.status_code == 400
    assert r.json()["detail"] == "recorded and scenario: a scenario is read as it is now"


def test_analyses_read_the_scenario(client, auth):
    """A shelter planned in a scenario is found by nearest and within there, not outside."""
    emergency = auth["emergency"]
    sid = new_scenario(client, emergency, "临时避难点")
    body = {
        "type": "Feature",
        "id": "SH-PLAN",
        "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        "properties": {"name": "栈桥临时避难点", "capacity": 300, "kind": "square"},
    }
    made = client.post(
        "/collections/shelters/items", json=body, headers=emergency, params={"scenario": sid}
    )
    assert made.status_code == 201, made.text
    near = {"layer": "shelters", "lon": LON + 0.001, "lat": LAT, "k": 1}
    inside = client.post("/lbs/nearest", json=near | {"scenario": sid}, headers=emergency)
    assert inside.status_code == 200, inside.text
    assert [f["properties"]["asset_id"] for f in inside.json()["features"]] == ["SH-PLAN"]
    outside = client.post("/lbs/nearest", json=near, headers=emergency)
    assert outside.json()["features"] == []
    around = {"layer": "shelters", "distance_m": 200, "save": False, "scenario": sid}
    assert client.post("/analysis/buffer", json=around, headers=emergency).status_code == 200
    # Another role cannot run an analysis in it: the answer is withheld.
    assert (
        client.post(
            "/lbs/nearest", json=near | {"scenario": sid}, headers=auth["planner"]
        ).status_code
        == 404
    )
