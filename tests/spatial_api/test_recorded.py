"""Transaction time: items and tiles as the database held them at a past instant."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from tests.loaders.test_load_versions import T1, T2, V1, write_sites
from tests.spatial_api.test_writes import shelter
from tests.support.loading import load
from tests.tiles.test_tiles import LAT, LON, tile_path

REPORTED, ACTIVE, CLOSED = "2026-11-02T09:40:00Z", "2026-11-02T10:00:00Z", "2026-11-02T12:30:00Z"


def clock(engine) -> str:
    with engine.connect() as c:
        return c.execute(text("SELECT clock_timestamp()")).scalar_one().isoformat()


def test_an_incident_review_reads_what_was_known_at_each_moment(client, auth, engine):
    """Written at 10:05 as 800 places from 09:40; corrected later to 300 from 09:40 on…"""
    before = clock(engine)
    r = client.post(
        "/collections/shelters/items",
        json=shelter(capacity=800) | {"id": "S-1"},
        headers=auth["emergency"],
        params={"valid_from": REPORTED},
    )
    assert r.status_code == 201, r.text
    known_first = clock(engine)
    r = client.patch(
        "/collections/shelters/items/S-1",
        json={"properties": {"capacity": 300}},
        headers=auth["emergency"] | {"If-Match": r.headers["etag"]},
        params={"valid_from": ACTIVE},
    )
    assert r.status_code == 204, r.text
    known_second = clock(engine)
    assert (
        client.delete(
            "/collections/shelters/items/S-1",
            headers=auth["emergency"],
            params={"valid_from": CLOSED},
        ).status_code
        == 204
    )

    def item(**params):
        return client.get("/collections/shelters/items/S-1", params=params)

    # Today the database says: 800 until 10:00, 300 until 12:30, then gone.
    assert item(datetime="2026-11-02T11:00:00Z").json()["properties"]["capacity"] == 300
    assert item(datetime="2026-11-02T13:00:00Z").status_code == 404
    # At `known_first` it said 800, valid from 09:40 with no end.
    first = item(datetime="2026-11-02T13:00:00Z", recorded=known_first)
    assert first.status_code == 200, first.text
    assert first.json()["properties"]["capacity"] == 800
    assert first.json()["properties"]["valid_to"] is None
    # At `known_second`, 300 from 10:00 and still open; 800 closed at 10:00.
    second = item(datetime="2026-11-02T13:00:00Z", recorded=known_second).json()
    assert (second["properties"]["capacity"], second["properties"]["valid_to"]) == (300, None)
    early = item(datetime="2026-11-02T09:50:00Z", recorded=known_second).json()
    assert early["properties"]["capacity"] == 800
    assert early["properties"]["valid_to"].startswith("2026-11-02T10:00:00")
    # Before the first write, nothing was known.
    assert item(datetime="2026-11-02T11:00:00Z", recorded=before).status_code == 404
    # Without datetime, a recorded read asks about its own instant (after 09:40 here).
    assert item(recorded=known_first).json()["properties"]["capacity"] == 800

    # The asset's history as known then: none, one open version, two, then today's two
    # (the second closed at 12:30 by the deletion).
    def history(**params):
        r = client.get("/collections/shelters/items/S-1/history", params=params)
        assert r.status_code == 200, r.text
        return [
            (f["properties"]["capacity"], (f["properties"]["valid_to"] or "")[11:16])
            for f in r.json()["features"]
        ]

    assert (
        client.get("/collections/shelters/items/S-1/history", params={"recorded": before})
    ).status_code == 404  # not yet written
    assert history(recorded=known_first) == [(800, "")]
    assert history(recorded=known_second) == [(800, "10:00"), (300, "")]
    assert history() == [(800, "10:00"), (300, "12:30")]
    # Nothing was deleted: three row states were superseded, kept in the history table.
    with engine.connect() as c:
        kept = c.execute(text("SELECT count(*) FROM city.shelters_history")).scalar_one()
        rows = c.execute(text("SELECT count(*) FROM city.shelters")).scalar_one()
    assert (rows, kept) == (2, 2)  # 800 closed at 10:00 (1 superseded), 300 closed (1)


def test_a_tile_as_recorded_shows_what_has_since_been_deleted(client, auth, engine):
    r = client.post(
        "/collections/shelters/items",
        json=shelter() | {"id": "S-2"},
        headers=auth["emergency"],
        params={"valid_from": REPORTED},
    )
    assert r.status_code == 201
    known = clock(engine)
    assert (
        client.delete(
            "/collections/shelters/items/S-2",
            headers=auth["emergency"],
            params={"valid_from": CLOSED},
        ).status_code
        == 204
    )
    path = tile_path("shelters", LON, LAT, 14)
    now = client.get(path, params={"datetime": "2026-11-03T00:00:00Z"})
    then = client.get(path, params={"datetime": "2026-11-03T00:00:00Z", "recorded": known})
    assert now.status_code == 204 or not mapbox_vector_tile.decode(now.content)
    assert then.status_code == 200
    drawn = mapbox_vector_tile.decode(then.content)["shelters"]["features"]
    assert [f["properties"]["name"] for f in drawn] == ["八大关广场"]
    # What was recorded in the past cannot change: cached like a past valid time.
    assert (
        then.headers["cache-control"]
        == client.get(path, params={"datetime": "2026-11-02T10:00:00Z"}).headers["cache-control"]
    )


def test_loads_keep_transaction_time_too(clean_db, engine, tmp_path):
    load(clean_db, "shelters", write_sites(tmp_path / "v1.geojson", V1), valid_from=T1)
    known = clock(engine)
    v2 = [(i, n, c * 2, xy) for i, n, c, xy in V1[:3]]  # capacities doubled; S4 gone
    load(
        clean_db,
        "shelters",
        write_sites(tmp_path / "v2.geojson", v2),
        valid_from=T2,
        mode="replace",
    )
    from fastapi.testclient import TestClient

    from citygis.settings import ServerSettings
    from spatial_api import create_app

    with TestClient(create_app(clean_db, ServerSettings(), pool_size=2)) as c:
        late = "2026-07-01T00:00:00Z"
        now = c.get("/collections/shelters/items", params={"datetime": late}).json()
        then = c.get(
            "/collections/shelters/items", params={"datetime": late, "recorded": known}
        ).json()
    assert sorted((f["id"], f["properties"]["capacity"]) for f in now["features"]) == [
        ("S1", 10000),
        ("S2", 6000),
        ("S3", 16000),
    ]
    assert sorted((f["id"], f["properties"]["capacity"]) for f in then["features"]) == [
        ("S1", 5000),
        ("S2", 3000),
        ("S3", 8000),
        ("S4", 2000),
    ]


@pytest.mark.parametrize(
    "params, detail",
    [
        ({"recorded": "yesterday"}, "recorded: 'yesterday' is not an RFC 3339 date-time"),
        ({"recorded": "2026-13-01"}, "recorded: '2026-13-01' is not an RFC 3339 date-time"),
    ],
)
def test_a_bad_recorded_instant_is_a_400(client, params, detail):
    for path in ("/collections/shelters/items", tile_path("shelters", LON, LAT, 14)):
        r = client.get(path, params=params)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["detail"] == detail


def test_recorded_is_an_rfc3339_instant_not_a_range(client):
    r = client.get("/collections/shelters/items", params={"recorded": "2026-01-01/.."})
    assert r.status_code == 400
    assert "recorded" in r.json()["detail"]
