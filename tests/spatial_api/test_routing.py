"""Every route refuses a query parameter it does not know, with a 400 naming it.

Defect: some routes refused unknown parameters, others ignored them silently
(`/collections/sensors/readings/latest?sensor_kind=…` returned every sensor; it now filters,
tests/spatial_api/test_readings.py).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from citygis.settings import ServerSettings
from spatial_api import create_app

TOKEN = "routing-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PATH_VALUES = {
    "layer_id": "shelters",
    "tileMatrixSetId": "WebMercatorQuad",
    "tileMatrix": "0",
    "tileRow": "0",
    "tileCol": "0",
    "feature_id": "S1",
    "sensor_id": "SEN-1",
    "result_id": "00000000-0000-0000-0000-000000000000",
    "assetId": "S1",
    "scenario_id": "scn-000000000000",
    "fmt": "svg",
}


@pytest.fixture(scope="module")
def client(db_url):
    with TestClient(create_app(db_url, ServerSettings(restricted_tokens=TOKEN), pool_size=2)) as c:
        yield c


def operations(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/api").json()["paths"]
    ops = [
        (method.upper(), re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path))
        for path, item in paths.items()
        for method in item
    ]
    return [*ops, ("GET", "/map")]


def test_every_operation_refuses_an_unknown_query_parameter(client):
    ops = operations(client)
    assert len(ops) > 40
    for method, path in ops:
        r = client.request(method, path, params={"no_such_param": "1"}, headers=AUTH)
        assert r.status_code == 400, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json", (method, path)
        assert "no_such_param" in r.json()["detail"], (method, path, r.json())


@pytest.mark.parametrize(
    "path", ["/conformance", "/collections/shelters", "/collections/shelters/items"]
)
def test_transport_parameters_are_accepted_everywhere(client, path):
    r = client.get(path, params={"f": "json", "token": TOKEN})
    assert r.status_code == 200, r.text


def test_attribute_filters_still_work_where_routes_take_them(client):
    assert client.get("/collections/shelters/items", params={"kind": "park"}).status_code == 200
    r = client.get(
        "/collections/shelters/tiles/WebMercatorQuad/tilejson.json", params={"kind": "park"}
    )
    assert r.status_code == 200 and "kind=park" in r.json()["tiles"][0]
    bad = client.get(
        "/collections/shelters/tiles/WebMercatorQuad/tilejson.json", params={"colour": "red"}
    )
    assert bad.status_code == 400 and "colour" in bad.json()["detail"]
