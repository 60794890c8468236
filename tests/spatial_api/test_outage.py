"""A database outage is a 503 with Retry-After on every route, never a 500, and the API
heals by itself when the database is back: through a proxy that cuts the line."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.spatial_api.test_writes import shelter
from tests.support.proxy import CuttableProxy
from tests.tiles.test_tiles import LAT, LON, insert, tile_path

RECOVERY_S = 5  # the bound: 200s again within 5 s of the database's return


@pytest.fixture
def proxied(clean_db, engine):
    url = make_url(clean_db)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    insert(engine, "shelters", "S1")
    token = create_token(engine, load_roles(Catalog().values()), "emergency", "e", None)
    app = create_app(
        url.set(port=proxy.port).render_as_string(hide_password=False),
        ServerSettings(),
        pool_size=2,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, proxy, {"Authorization": f"Bearer {token}"}
    proxy.cut()


CALLS = [
    ("GET", "/health", {}),
    ("GET", "/health/ready", {}),
    ("GET", "/collections/shelters/items", {}),
    ("GET", "/collections/shelters/items/S1", {}),
    ("GET", tile_path("shelters", LON, LAT, 15), {}),
    ("GET", "/lbs/nearest", {"params": {"layer": "shelters", "lon": LON, "lat": LAT}}),
    ("POST", "/analysis/buffer", {"json": {"layer": "shelters", "distance_m": 100}}),
    ("POST", "/collections/shelters/items", {"json": shelter()}),
]


def test_an_outage_is_503_then_heals_without_a_restart(proxied):
    client, proxy, auth = proxied
    for method, path, kw in CALLS:
        r = client.request(method, path, headers=auth, **kw)
        assert r.status_code in (200, 201), (path, r.status_code, r.text[:200])

    proxy.cut()
    for method, path, kw in CALLS:
        r = client.request(method, path, headers=auth, **kw)
        assert r.status_code == 503, (path, r.status_code, r.text[:200])
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == "5"
        assert r.json()["detail"] == "database unreachable"
    live = client.get("/health/live")
    assert live.status_code == 200 and live.json()["status"] == "alive"

    proxy.start()
    back = time.monotonic()
    pending = list(CALLS)
    while pending and time.monotonic() - back < RECOVERY_S:
        method, path, kw = pending[0]
        r = client.request(method, path, headers=auth, **kw)
        assert r.status_code in (200, 201, 503), (path, r.status_code, r.text[:200])
        if r.status_code != 503:
            pending.pop(0)
    assert pending == [], f"still 503 {RECOVERY_S} s after the database came back"
