"""The API serves through a role that reads and writes rows but cannot alter the schema,
nor delete a layer version or its history (migration 0008, citygis.db.api_login)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from citygis.db import API_USER, api_login, make_engine
from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.spatial_api.test_writes import shelter
from tests.tiles.test_tiles import LAT, LON, insert, tile_path

REFUSED = [
    "CREATE TABLE city.mischief (a int)",
    "ALTER TABLE city.shelters ADD COLUMN mischief int",
    "DROP TABLE city.shelters",
    "DELETE FROM city.shelters",
    "DELETE FROM city.shelters_history",
    "UPDATE city.shelters_history SET source = 'x'",
    "TRUNCATE city.audit",
    "CREATE FUNCTION city.mischief() RETURNS int LANGUAGE sql AS 'SELECT 1'",
]


@pytest.fixture
def api_url(clean_db):
    url = api_login(clean_db)
    assert url is not None and f"//{API_USER}:" in url
    return url


@pytest.mark.parametrize("statement", REFUSED)
def test_the_api_role_cannot_alter_the_schema_or_erase_history(api_url, engine, statement):
    insert(engine, "shelters", "S1")
    api = make_engine(api_url)
    try:
        with (
            api.connect() as c,
            pytest.raises(ProgrammingError, match="permission denied|must be owner"),
        ):
            c.execute(text(statement))
    finally:
        api.dispose()


def test_the_platform_works_through_it(api_url, engine):
    insert(engine, "shelters", "S1")
    token = create_token(engine, load_roles(Catalog().values()), "emergency", "e", None)
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(api_url, ServerSettings(), pool_size=2)) as client:
        assert client.get("/health").json()["schema_revision"] is not None
        made = client.post("/collections/shelters/items", json=shelter(), headers=auth)
        assert made.status_code == 201, made.text
        asset = made.json()["ids"][0]
        path = f"/collections/shelters/items/{asset}"
        assert (
            client.patch(path, json={"properties": {"capacity": 900}}, headers=auth).status_code
            == 204
        )
        assert client.delete(path, headers=auth).status_code == 204
        assert client.get(tile_path("shelters", LON, LAT, 15)).status_code == 200
        sid = client.post("/scenarios", json={"title": "演练"}, headers=auth).json()["id"]
        body = shelter() | {"id": "S-PLAN"}
        r = client.post(
            "/collections/shelters/items", json=body, headers=auth, params={"scenario": sid}
        )
        assert r.status_code == 201, r.text
        assert client.delete(f"/scenarios/{sid}", headers=auth).status_code == 204
        buffer = {"layer": "shelters", "distance_m": 100, "save": True}
        assert client.post("/analysis/buffer", json=buffer, headers=auth).status_code == 200
    with engine.connect() as c:
        kept = c.execute(text("SELECT count(*) FROM city.shelters_history")).scalar_one()
    assert kept == 2  # the patch and the delete each superseded one row state
