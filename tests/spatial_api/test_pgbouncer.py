"""The API behind PgBouncer in transaction pooling mode (CITYGIS_PGBOUNCER): no prepared
statement may outlive its transaction, and LISTEN goes direct (CITYGIS_LISTEN_URL)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.spatial_api.test_writes import shelter
from tests.support.pgbouncer import BINARY, pgbouncer
from tests.tiles.test_tiles import LAT, LON, tile_path

pytestmark = pytest.mark.skipif(not shutil.which(BINARY), reason="pgbouncer not installed")

REPEATS = 12  # psycopg prepares a statement on its 6th run: past it, several times


def test_the_platform_runs_through_transaction_pooling(clean_db, engine):
    token = create_token(engine, load_roles(Catalog().values()), "emergency", "pgb", None)
    auth = {"Authorization": f"Bearer {token}"}
    with pgbouncer(clean_db) as pooled:
        settings = ServerSettings(pgbouncer=True, listen_url=clean_db)
        with TestClient(create_app(pooled, settings, pool_size=3)) as client:
            for i in range(REPEATS):
                made = client.post(
                    "/collections/shelters/items", json=shelter(f"避难场所{i}"), headers=auth
                )
                assert made.status_code == 201, made.text
                page = client.get("/collections/shelters/items", params={"limit": 100})
                assert page.json()["numberReturned"] == i + 1
                tile = client.get(tile_path("shelters", LON, LAT, 15))
                assert tile.status_code == 200
                drawn = mapbox_vector_tile.decode(tile.content)["shelters"]["features"]
                assert len(drawn) == i + 1  # each write seen at once in the tile
                near = {"layer": "shelters", "lon": LON, "lat": LAT, "k": 1}
                assert client.post("/lbs/nearest", json=near).status_code == 200

            # Many clients at once: PgBouncer deals server connections out per transaction.
            def reads(n: int) -> set[int]:
                return {
                    client.get("/collections/shelters/items", params={"capacity": 800}).status_code
                    for _ in range(n)
                } | {client.get(tile_path("shelters", LON + 0.02, LAT, 14)).status_code}

            with ThreadPoolExecutor(8) as pool:
                statuses = set().union(*pool.map(reads, [REPEATS] * 16))
            assert statuses <= {200, 204}, statuses
            sid = client.post("/scenarios", json={"title": "池化"}, headers=auth).json()["id"]
            body = shelter("规划避难点") | {"id": "S-PLAN"}
            assert (
                client.post(
                    "/collections/shelters/items", json=body, headers=auth, params={"scenario": sid}
                ).status_code
                == 201
            )
            assert client.post(f"/scenarios/{sid}/commit", headers=auth).status_code == 200
            assert client.get("/health").status_code == 200
