"""The API over the test database: health, the layer list, problem+json errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from citygis.db import head_revision
from citygis.settings import ServerSettings
from layers import ALL_LAYERS
from spatial_api import create_app
from tests.support.server import free_port

TOKEN = "test-token-for-restricted-layers"


@pytest.fixture(scope="module")
def client(db_url):
    settings = ServerSettings(restricted_tokens=TOKEN)
    with TestClient(create_app(db_url, settings, pool_size=2)) as c:
        yield c


def test_health_reports_the_stack(client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["postgis"].startswith("3.")
    assert body["pgrouting"].startswith("3.")
    assert body["schema_revision"] == head_revision()


def test_restricted_layers_need_a_token(client):
    public = {layer["id"]: layer for layer in client.get("/layers").json()}
    assert "hazard_sources" not in public and "pipe_nodes" not in public
    assert "districts" in public
    # Pipelines show their public view: the utility only.
    assert [a["name"] for a in public["pipelines"]["attributes"]] == ["utility"]
    r = client.get("/layers/hazard_sources")
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert "restricted" in r.json()["detail"]
    assert (
        client.get("/layers/hazard_sources", headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    assert (
        client.get("/layers/pipelines", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
        == 200
    )


def test_layer_list_is_the_catalog(client):
    r = client.get("/layers", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    got = r.json()
    assert [layer["id"] for layer in got] == [spec.id for spec in ALL_LAYERS]
    pipelines = next(layer for layer in got if layer["id"] == "pipelines")
    assert pipelines["access"] == "restricted"
    assert pipelines["dimension"] == 3
    assert pipelines["style"]["palette"]["gas"] == "#ff00ff"
    diameter = next(a for a in pipelines["attributes"] if a["name"] == "diameter_mm")
    assert (diameter["unit"], diameter["minimum"], diameter["exclusive_minimum"]) == ("mm", 0, True)


def test_unknown_layer_is_a_404_problem(client):
    r = client.get("/layers/no_such_layer")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "about:blank",
        "title": "Layer not found",
        "status": 404,
        "detail": "unknown layer 'no_such_layer'",
    }


def test_unknown_path_is_a_404_problem(client):
    r = client.get("/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_openapi_is_served(client):
    r = client.get("/api")
    assert r.status_code == 200
    assert r.json()["openapi"].startswith("3.")
    assert "/layers/{layer_id}" in r.json()["paths"]


def test_serve_command_prints_its_url_and_answers(db_url):
    port = free_port()
    env = os.environ | {"CITYGIS_DATABASE_URL": db_url, "CITYGIS_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "citygis.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.3)
        assert r.status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out


def test_a_value_the_database_cannot_compute_is_a_400_not_a_500(db_url):
    """The net under every analysis's own checks: SQLSTATE class 22 (here, an underflow)."""
    from sqlalchemy import text

    app = create_app(db_url, ServerSettings(), pool_size=1)

    @app.get("/underflow")
    async def underflow() -> None:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT CAST(:x AS float8) * 1e-300"), {"x": 5e-324})

    with TestClient(app) as c:
        r = c.get("/underflow")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "value out of range: underflow" in r.json()["detail"]
