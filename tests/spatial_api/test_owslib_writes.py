"""OWSLib's OGC API Features client creates, replaces and deletes against a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from owslib.ogcapi.features import Features

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.support.server import serving

pytestmark = pytest.mark.clients


@pytest.fixture
def live(clean_db, engine) -> Iterator[tuple[str, dict[str, str]]]:
    token = create_token(engine, load_roles(Catalog().values()), "emergency", "owslib", None)
    with serving(create_app(clean_db, ServerSettings(), pool_size=2)) as url:
        yield url, {"Authorization": f"Bearer {token}"}


def feature(fid: str, name: str, capacity: int) -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Point", "coordinates": [120.3841, 36.0623]},
        "properties": {"name": name, "capacity": capacity, "kind": "park", "status": "open"},
    }


def test_owslib_creates_updates_and_deletes_a_shelter(live):
    url, auth = live
    api = Features(url, headers=dict(auth))
    assert api.collection_item_create("shelters", feature("shelter-zsgy", "中山公园", 5000))
    assert api.response_headers["Location"].endswith("/collections/shelters/items/shelter-zsgy")
    got = api.collection_item("shelters", "shelter-zsgy")
    assert got["properties"]["capacity"] == 5000

    api.headers["Content-Type"] = "application/geo+json"
    body = json.dumps(feature("shelter-zsgy", "中山公园", 6200))
    assert api.collection_item_update("shelters", "shelter-zsgy", body)
    assert api.collection_item("shelters", "shelter-zsgy")["properties"]["capacity"] == 6200
    history = api._request(path="collections/shelters/items/shelter-zsgy/history")
    assert [f["properties"]["capacity"] for f in history["features"]] == [5000, 6200]

    assert api.collection_item_delete("shelters", "shelter-zsgy")
    with pytest.raises(RuntimeError, match="no feature"):
        api.collection_item("shelters", "shelter-zsgy")

    viewer = Features(url)
    viewer.headers = {}  # OWSLib 0.35 shares one headers dict between instances
    with pytest.raises(RuntimeError, match="needs a token of a role that may"):
        viewer.collection_item_create("shelters", feature("shelter-x", "x", 1))
