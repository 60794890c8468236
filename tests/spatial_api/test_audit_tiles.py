"""Tile reads of restricted layers reach the audit, summed per caller, layer and zoom."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.tiles.test_tiles import LAT, LON, WMQ, insert, tile_path


def test_tile_reads_are_audited_in_one_row_per_caller_layer_and_zoom(clean_db, engine):
    insert(engine, "pipelines", "P1")
    insert(engine, "shelters", "S1")
    roles = load_roles(Catalog().values())
    crew = {"Authorization": f"Bearer {create_token(engine, roles, 'crew', 'crew-7', None)}"}
    east = LON + 0.01  # the next tiles east at z15 (a tile is about 0.011° wide)
    with TestClient(create_app(clean_db, ServerSettings(), pool_size=2)) as client:
        for lon in (LON, east, LON):  # the third is a cache hit, and still a read
            assert client.get(tile_path("pipelines", lon, LAT, 15), headers=crew).status_code in (
                200,
                204,
            )
        assert client.get(tile_path("pipelines", LON, LAT, 14), headers=crew).status_code == 200
        assert client.get(tile_path("shelters", LON, LAT, 15)).status_code == 200  # public
    # Written at shutdown at the latest (every audit_flush_s otherwise).
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT token_name, role, layer_id, details FROM city.audit"
                " WHERE action = 'read-tiles' ORDER BY (details->>'z')::int"
            )
        ).all()
    assert [
        (r.token_name, r.role, r.layer_id, r.details["z"], r.details["tiles"]) for r in rows
    ] == [
        ("crew-7", "crew", "pipelines", 14, 1),
        ("crew-7", "crew", "pipelines", 15, 3),
    ]
    west = WMQ.bounds(WMQ.tile(LON, LAT, 15))
    far = WMQ.bounds(WMQ.tile(east, LAT, 15))
    assert rows[1].details["bbox"] == pytest.approx(
        [west.left, west.bottom, far.right, far.top], abs=1e-6
    )
