"""A restricted layer's public view: what a role that may not read it sees instead of a 403.

Pipelines declare one (layers/pipelines.py): the utility only, on lines snapped to a 50 m
grid in 2D. Items and tiles serve it; the layer's readers still see everything, and
analyses still need them.
"""

from __future__ import annotations

import math

import pytest

from layers import Catalog
from layers.query import M_PER_DEG_LAT, M_PER_DEG_LON_EQUATOR
from tests.tiles.test_tiles import features, insert, tile_path

PIPE = "LINESTRING Z (120.32001 36.06131 -1.8, 120.32212 36.06158 -2.1, 120.32419 36.06297 -2.4)"
LON_STEP = 50 / M_PER_DEG_LON_EQUATOR / math.cos(math.radians(36))
LAT_STEP = 50 / M_PER_DEG_LAT
HIDDEN = ("depth_start_m", "depth_end_m", "diameter_mm", "owner", "material", "pressure_class")


def on_grid(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) < 1e-6


@pytest.fixture
def pipe(engine) -> int:
    return insert(engine, "pipelines", "WS-SECRET-1", PIPE, utility="gas", owner="SECRET owner")


def test_the_view_keeps_only_its_attributes_and_no_depth():
    view = Catalog()["pipelines"].public()
    assert [a.name for a in view.attributes] == ["utility"]
    assert view.access == "public" and view.dimension == 2 and view.generalised_m == 50
    assert set(view.style.zoom_attributes.values()) == {("utility",)}  # at every zoom


def test_a_viewer_lists_the_view_and_reads_generalised_items(client, auth, pipe):
    listed = client.get("/collections").json()["collections"]
    assert "pipelines" in {c["id"] for c in listed}
    r = client.get("/collections/pipelines/items")
    assert r.status_code == 200, r.text
    assert "SECRET" not in r.text
    [feature] = r.json()["features"]
    assert feature["id"] == f"v{pipe}"  # not the asset's id
    props = feature["properties"]
    assert props["utility"] == "gas" and not set(HIDDEN) & set(props)
    coords = feature["geometry"]["coordinates"]
    assert all(len(c) == 2 for c in coords)  # no z: no depth
    assert all(on_grid(x, LON_STEP) and on_grid(y, LAT_STEP) for x, y in coords)
    # Every vertex moved at most half a cell's diagonal (35 m).
    stored = [tuple(map(float, p.split()[:2])) for p in PIPE[14:-1].split(", ")]
    for (x, y), (sx, sy) in zip(coords, stored, strict=True):
        moved = math.hypot((x - sx) / LON_STEP, (y - sy) / LAT_STEP) * 50
        assert moved <= 35.4


def test_the_readers_still_see_the_stored_pipe(client, auth, pipe):
    r = client.get("/collections/pipelines/items", headers=auth["crew"])
    [feature] = r.json()["features"]
    assert feature["id"] == "WS-SECRET-1" and feature["properties"]["owner"] == "SECRET owner"
    assert feature["geometry"]["coordinates"][0] == [120.32001, 36.06131, -1.8]


def test_bbox_and_filters_work_on_the_view_only(client, auth, pipe):
    near = "120.3199,36.0612,120.3201,36.0614"
    assert (
        client.get("/collections/pipelines/items", params={"bbox": near}).json()["numberReturned"]
        == 1
    )
    far = "120.40,36.10,120.41,36.11"
    assert (
        client.get("/collections/pipelines/items", params={"bbox": far}).json()["numberReturned"]
        == 0
    )
    ok = client.get("/collections/pipelines/items", params={"filter": "utility = 'gas'"})
    assert ok.json()["numberReturned"] == 1
    # A hidden attribute is not a queryable of the view: it cannot be probed by filtering.
    probe = client.get("/collections/pipelines/items", params={"filter": "diameter_mm > 100"})
    assert probe.status_code == 400, probe.text
    queryables = client.get("/collections/pipelines/queryables").json()["properties"]
    assert "utility" in queryables and not set(HIDDEN) & set(queryables)


def test_one_item_and_its_history_never_give_the_stored_geometry(client, auth, pipe):
    one = client.get(f"/collections/pipelines/items/v{pipe}")
    assert one.status_code == 200, one.text
    assert all(len(c) == 2 for c in one.json()["geometry"]["coordinates"])
    history = client.get(f"/collections/pipelines/items/v{pipe}/history")
    assert history.status_code == 200 and "SECRET" not in history.text
    [version] = history.json()["features"]
    assert all(len(c) == 2 for c in version["geometry"]["coordinates"])
    assert client.get("/collections/pipelines/items/WS-SECRET-1").status_code == 404


def test_tiles_carry_the_view(client, auth, pipe):
    path = tile_path("pipelines", 120.3221, 36.0616, 16)
    shown = features(client.get(path), "pipelines")
    assert list(shown) == [pipe]
    assert shown[pipe]["properties"] == {"asset_id": f"v{pipe}", "utility": "gas"}
    full = features(client.get(path, headers=auth["crew"]), "pipelines")
    assert full[pipe]["properties"]["asset_id"] == "WS-SECRET-1"
    multi = client.get(tile_path(None, 120.3221, 36.0616, 16))
    assert "SECRET" not in multi.content.decode("latin-1")
    assert list(features(multi, "pipelines")) == [pipe]


def test_analyses_and_writes_still_need_the_layers_readers(client, auth, pipe):
    buffer = client.post("/analysis/buffer", json={"layer": "pipelines", "distance_m": 5})
    assert buffer.status_code == 403
    planner = client.post(
        "/analysis/buffer",
        json={"layer": "pipelines", "distance_m": 5},
        headers=auth["planner"],
    )
    assert planner.status_code == 403
    write = client.delete(f"/collections/pipelines/items/v{pipe}", headers=auth["planner"])
    assert write.status_code == 403 and "restricted" in write.json()["detail"]


def test_the_layer_map_draws_the_view(client, auth, pipe):
    r = client.get("/collections/pipelines/map.html")
    assert r.status_code == 200, r.text
    assert "SECRET" not in r.text and f"v{pipe}" in r.text
