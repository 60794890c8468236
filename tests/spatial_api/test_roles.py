"""Roles and tokens against a live app: who sees what, 401 vs 403, revocation, the cache."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from citygis.cli import app as cli
from citygis.settings import ServerSettings
from citygis.tokens import create_token, revoke_token
from layers import ALL_LAYERS, Access, Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.tiles.test_tiles import LAT, LON, insert, tile_path

ROLES = load_roles(Catalog().values())
PUBLIC = {s.id for s in ALL_LAYERS if s.access is Access.public}
VIEWS = {s.id for s in ALL_LAYERS if s.public_view is not None}  # pipelines, generalised
# What each built-in role lists in /collections (the table; public layers for all).
SEES = {
    "viewer": PUBLIC | VIEWS,
    "planner": PUBLIC | VIEWS,
    "crew": PUBLIC | {"pipelines", "pipe_nodes", "sensors", "owners", "service_connections"},
    "emergency": {s.id for s in ALL_LAYERS},
    "admin": {s.id for s in ALL_LAYERS},
}


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db, ServerSettings(), pool_size=2)) as c:
        yield c


@pytest.fixture
def tokens(engine, client) -> dict[str, dict[str, str]]:
    """An Authorization header per role (viewer: none)."""
    out: dict[str, dict[str, str]] = {"viewer": {}}
    for role in ("planner", "crew", "emergency", "admin"):
        out[role] = {"Authorization": f"Bearer {create_token(engine, ROLES, role, role, None)}"}
    return out


def collection_ids(client, headers) -> set[str]:
    r = client.get("/collections", headers=headers)
    assert r.status_code == 200
    return {c["id"] for c in r.json()["collections"]}


@pytest.mark.parametrize("role", list(SEES))
def test_each_role_lists_exactly_its_layers(client, tokens, role):
    assert collection_ids(client, tokens[role]) == SEES[role]


@pytest.mark.parametrize("role", list(SEES))
@pytest.mark.parametrize("layer", ["pipelines", "hazard_sources", "shelters"])
def test_items_and_tiles_follow_the_role(client, engine, tokens, role, layer):
    insert(engine, layer, "X1")
    want = 200 if layer in SEES[role] else 403
    assert client.get(f"/collections/{layer}/items", headers=tokens[role]).status_code == want
    assert client.get(tile_path(layer, LON, LAT, 15), headers=tokens[role]).status_code == want


def test_a_cached_tile_never_crosses_roles(client, engine, tokens):
    insert(engine, "pipe_nodes", "P1")
    path = tile_path("pipe_nodes", LON, LAT, 15)
    crew = client.get(path, headers=tokens["crew"])
    assert crew.status_code == 200 and len(crew.content) > 0
    for role in ("viewer", "planner"):
        r = client.get(path, headers=tokens[role])
        assert r.status_code == 403, role
        assert r.content != crew.content
    # Another role that may read it gets it, under its own key.
    assert client.get(path, headers=tokens["emergency"]).content == crew.content
    multi = client.get(
        tile_path(None, LON, LAT, 15),
        params={"collections": "shelters,pipe_nodes"},
        headers=tokens["planner"],
    )
    assert multi.status_code == 403


def test_unknown_revoked_and_expired_tokens_are_401(client, engine):
    r = client.get("/collections", headers={"Authorization": "Bearer cgt_nope"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["detail"] == "unknown token"

    token = create_token(engine, ROLES, "crew", "crew-van-3", None)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/collections/pipelines/items", headers=auth).status_code == 200
    revoke_token(engine, "crew-van-3")
    deadline = time.monotonic() + 5  # the NOTIFY reaches the app's listener
    while client.get("/collections/pipelines/items", headers=auth).status_code == 200:
        assert time.monotonic() < deadline, "a revoked token still works after 5 s"
        time.sleep(0.05)
    r = client.get("/collections/pipelines/items", headers=auth)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    # The tile fast lane refuses it too.
    assert client.get(tile_path("pipelines", LON, LAT, 15), headers=auth).status_code == 401

    with engine.begin() as c:
        c.execute(text("UPDATE city.tokens SET expires_at = now() - interval '1 s'"))
        c.execute(text("UPDATE city.tokens SET revoked_at = NULL"))
    client.app.state.token_book.forget()
    r = client.get("/collections", headers=auth)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_last_use_is_recorded(client, engine, tokens):
    client.get("/collections", headers=tokens["planner"])
    with engine.connect() as c:
        used = dict(c.execute(text("SELECT name, last_used_at IS NOT NULL FROM city.tokens")).all())
    assert used == {"planner": True, "crew": False, "emergency": False, "admin": False}


def test_legacy_restricted_tokens_are_admin(clean_db):
    settings = ServerSettings(restricted_tokens="old-shared-secret")
    with TestClient(create_app(clean_db, settings, pool_size=2)) as c:
        headers = {"Authorization": "Bearer old-shared-secret"}
        assert collection_ids(c, headers) == SEES["admin"]


def test_a_saved_restricted_result_shows_only_to_roles_that_read_its_inputs(client, engine, tokens):
    insert(engine, "pipelines", "P1")
    body = {"layer": "pipelines", "distance_m": 5, "save": True}
    r = client.post("/analysis/buffer", json=body, headers=tokens["crew"])
    assert r.status_code == 200, r.text
    href = r.json()["result"]["href"]
    got = {role: client.get(href, headers=tokens[role]).status_code for role in SEES}
    assert got == {"viewer": 404, "planner": 404, "crew": 200, "emergency": 200, "admin": 200}


def test_a_roles_file_redefines_roles(clean_db, engine, tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text('[roles.contractor]\nreads = ["pipelines"]\nwrites = []\n')
    settings = ServerSettings(roles_file=path)
    with TestClient(create_app(clean_db, settings, pool_size=2)) as c:
        roles = c.app.state.roles
        token = create_token(engine, roles, "contractor", "dig-co", None)
        assert collection_ids(c, {"Authorization": f"Bearer {token}"}) == PUBLIC | {"pipelines"}


def test_token_cli_prints_the_token_alone_on_the_last_line(clean_db, engine):
    env = {"CITYGIS_DATABASE_URL": clean_db, "COLUMNS": "120"}
    runner = CliRunner()
    made = runner.invoke(
        cli, ["token", "create", "--role", "crew", "--name", "night-shift"], env=env
    )
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("cgt_") and " " not in token
    with engine.connect() as c:
        stored = c.execute(text("SELECT sha256, role FROM city.tokens")).one()
    assert stored.role == "crew" and token not in stored.sha256  # only the hash is kept

    listed = runner.invoke(cli, ["token", "list"], env=env)
    assert "night-shift" in listed.output and token not in listed.output
    again = runner.invoke(
        cli, ["token", "create", "--role", "crew", "--name", "night-shift"], env=env
    )
    assert again.exit_code == 1 and "exists" in again.output
    bad = runner.invoke(cli, ["token", "create", "--role", "pilot"], env=env)
    assert bad.exit_code == 1 and "unknown role 'pilot'" in bad.output
    assert runner.invoke(cli, ["token", "revoke", "night-shift"], env=env).exit_code == 0
    gone = runner.invoke(cli, ["token", "revoke", "night-shift"], env=env)
    assert gone.exit_code == 1 and "no live token" in gone.output


def test_the_demo_makes_one_token_per_role_and_retires_the_last_ones(client, clean_db):
    from citygis.token_cmd import demo_tokens

    first = demo_tokens(clean_db)
    assert list(first) == ["planner", "crew", "emergency", "admin"]
    second = demo_tokens(clean_db)
    client.app.state.token_book.forget()
    for role in first:
        old = {"Authorization": f"Bearer {first[role]}"}
        new = {"Authorization": f"Bearer {second[role]}"}
        assert client.get("/collections", headers=old).status_code == 401
        assert collection_ids(client, new) == SEES[role]
