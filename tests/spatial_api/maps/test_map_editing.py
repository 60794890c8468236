"""Editing on the map (issue 11, item 8): a real Chromium adds, changes, moves and deletes
features through the editing panel, and the API then answers with what was drawn."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest

from citygis.settings import ServerSettings
from citygis.tokens import create_token, revoke_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.support.browser import Browser, needs_chromium
from tests.support.loading import count
from tests.support.server import serving

pytestmark = [pytest.mark.clients, needs_chromium]

LON, LAT = 120.3350, 36.0640  # central Qingdao, inside the demo city
SHELTER = ("name", "capacity", "kind", "area_m2", "status")


@pytest.fixture(scope="module")
def tokens(demo_db, engine) -> dict[str, str]:
    roles = load_roles(Catalog().values())
    return {
        r: create_token(engine, roles, r, f"map-{r}", None)
        for r in ("emergency", "planner", "admin")
    }


@pytest.fixture(scope="module")
def live_url(demo_db) -> Iterator[str]:
    # Browsers may keep current tiles an hour: only the map's own revalidation after an
    # edit can then bring the change (test_edit_move_and_delete_a_shelter_with_etags).
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CITYGIS_TILES_CURRENT_MAX_AGE_S", "3600")
        with serving(create_app(demo_db, ServerSettings(), pool_size=2)) as url:
            yield url


def open_with_http_cache(browser: Browser, url: str):
    """/map as Browser.open_map opens it, but watched instead of routed: Playwright's
    routing turns the HTTP cache off, and a tile the browser still holds (max-age) is what
    an edit must not leave on the map. Anything not on loopback is still recorded."""
    page = browser.browser.new_page(viewport={"width": 1200, "height": 800})
    page.on(
        "request",
        lambda r: (
            urlsplit(r.url).hostname == "127.0.0.1"
            or urlsplit(r.url).scheme in ("data", "blob")
            or browser.blocked.append(r.url)
        ),
    )
    page.on("pageerror", lambda e: browser.errors.append(str(e)))
    page.goto(url)
    page.evaluate("citygis.ready")
    return page


def open_editor(
    browser: Browser, url: str, token: str, lon: float = LON, lat: float = LAT, cache=False
):
    map_url = f"{url}/map?token={token}"
    page = open_with_http_cache(browser, map_url) if cache else browser.open_map(map_url)
    # The role's own panel (emergency, planner) covers the map's left, where these click.
    page.evaluate(FOLD_ROLE_PANELS)
    page.evaluate(f"citygis.map.jumpTo({{center: [{lon}, {lat}], zoom: 16}})")
    page.evaluate("citygis.idle()")
    return page


FOLD_ROLE_PANELS = """
for (const [panel, button] of [["emergency-panel", "em-fold"], ["planner-panel", "pl-fold"],
                               ["crew-panel", "crew-collapse"]]) {
  const el = document.getElementById(panel);
  const open = el && !el.hidden && !el.classList.contains("collapsed");
  if (open) document.getElementById(button).click();
}
"""


def pixel(page, lon: float, lat: float) -> tuple[int, int]:
    """Where lon/lat is on the page, to the nearest pixel."""
    return tuple(
        page.evaluate(
            f"""(() => {{ const p = citygis.map.project([{lon}, {lat}]);
            const r = citygis.map.getCanvas().getBoundingClientRect();
            return [Math.round(r.left + p.x), Math.round(r.top + p.y)]; }})()"""
        )
    )


def click_map(page, lon: float, lat: float) -> tuple[float, float]:
    """A real mouse click at lon/lat; returns the lon/lat the map makes of that pixel."""
    x, y = pixel(page, lon, lat)
    page.mouse.click(x, y)
    lnglat = page.evaluate(
        f"""(() => {{ const r = citygis.map.getCanvas().getBoundingClientRect();
        return citygis.map.unproject([{x} - r.left, {y} - r.top]).toArray(); }})()"""
    )
    return tuple(lnglat)


def on_map(layer: str, asset: str, also: str = "true") -> str:
    """A JS test: the asset is drawn on the map (and `also` holds of it)."""
    return (
        f"citygis.map.queryRenderedFeatures({{layers: citygis.state.layerIds.{layer}}})"
        f".some((f) => f.properties.asset_id === {asset!r} && {also})"
    )


def add_shelter(page, **values: str) -> tuple[float, float]:
    page.select_option("#edit-layer", "shelters")
    page.click("#edit-add")
    where = click_map(page, LON, LAT)
    for name, value in values.items():
        if page.locator(f"#field-{name}").evaluate("e => e.tagName") == "SELECT":
            page.select_option(f"#field-{name}", value)
        else:
            page.fill(f"#field-{name}", value)
    return where


def saved(page) -> None:
    page.click("#edit-save")
    page.wait_for_function(
        "/^(Created|Saved)/.test(document.getElementById('edit-status').textContent)"
    )


def shelter(url: str, asset: str) -> httpx.Response:
    return httpx.get(f"{url}/collections/shelters/items/{asset}")


def test_emergency_creates_a_shelter_by_clicking_the_map(live_url, tokens, browser, shots):
    page = open_editor(browser, live_url, tokens["emergency"])
    assert page.is_visible("#editor") and page.text_content("#edit-role") == "emergency"
    layers = page.eval_on_selector_all("#edit-layer option", "os => os.map(o => o.value)")
    assert layers == [
        "shelters",
        "hazard_sources",
        "protected_targets",
        "emergency_resources",
        "hazard_zones",
        "incidents",
    ]
    lon, lat = add_shelter(
        page,
        name="八大关临时避难点",
        capacity="1200",
        kind="square",
        area_m2="5400.5",
        status="open",
    )
    assert page.text_content("#edit-geometry-text").startswith(f"Point {lon:.5f}, {lat:.5f}")
    page.fill("#edit-valid-from", "2026-03-01T08:00:00")  # local time, as the user reads it
    since = page.evaluate("new Date('2026-03-01T08:00:00').toISOString()")
    page.screenshot(path=shots / "edit-1-new-shelter-form.png")
    page.click("#edit-save")
    page.wait_for_function(
        "document.getElementById('edit-status').textContent.startsWith('Created')"
    )
    asset = page.evaluate("citygis.editor.state.feature.id")
    page.wait_for_function(on_map("shelters", asset))  # its tiles came again at once
    assert page.input_value("#field-capacity") == "1200"  # now open for editing
    assert page.is_visible("#edit-delete")
    page.screenshot(path=shots / "edit-2-created.png")

    got = shelter(live_url, asset)
    assert got.status_code == 200
    props = got.json()["properties"]
    assert {k: props[k] for k in SHELTER} == {
        "name": "八大关临时避难点",
        "capacity": 1200,
        "kind": "square",
        "area_m2": 5400.5,
        "status": "open",
    }
    assert got.json()["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-9)
    assert datetime.fromisoformat(props["valid_from"]) == datetime.fromisoformat(since)


def test_a_bad_value_is_refused_by_the_form_then_by_the_server(
    live_url, tokens, browser, engine, shots
):
    page = open_editor(browser, live_url, tokens["emergency"])
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    before = count(engine, "SELECT count(*) FROM city.shelters")
    add_shelter(page, name="坏数据", capacity="-5")
    page.click("#edit-save")  # the form checks the catalog's minimum itself
    assert "greater than or equal to 0" in page.text_content("#field-capacity-problem")
    assert posts == []
    # A form that let it through (say, one older than the catalog): the server says why.
    page.eval_on_selector("#field-capacity", "e => e.removeAttribute('min')")
    page.click("#edit-save")
    page.locator("#edit-message").wait_for()
    assert page.text_content("#field-capacity-problem") == "-5 is below 0"
    assert page.get_attribute("#field-capacity", "aria-invalid") == "true"
    assert "correct the fields marked in red" in page.text_content("#edit-message")
    assert len(posts) == 1 and count(engine, "SELECT count(*) FROM city.shelters") == before
    page.locator("#editor").screenshot(path=shots / "edit-3-server-422.png")


def test_edit_move_and_delete_a_shelter_with_etags(live_url, tokens, browser, shots):
    auth = {"Authorization": f"Bearer {tokens['emergency']}"}
    made = httpx.post(
        f"{live_url}/collections/shelters/items",
        headers=auth,
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [LON + 0.002, LAT]},
            "properties": {"name": "栈桥广场", "capacity": 300, "kind": "square", "status": "open"},
        },
    )
    asset = made.json()["ids"][0]
    page = open_editor(browser, live_url, tokens["emergency"], LON + 0.002, LAT, cache=True)
    # Click the shelter, then Edit in its popup.
    page.evaluate(f"""citygis.inspect({{point: citygis.map.project([{LON + 0.002}, {LAT}]),
                                        lngLat: {{lng: {LON + 0.002}, lat: {LAT}}}}})""")
    page.locator(".popup-edit").wait_for()
    page.screenshot(path=shots / "edit-0-popup-with-edit.png")
    page.click(".popup-edit")
    page.wait_for_function(f"citygis.editor.state.feature?.id === {asset!r}")
    assert page.input_value("#field-name") == "栈桥广场"
    page.select_option("#field-status", "full")
    page.fill("#field-capacity", "320")
    page.click("#edit-save")
    page.wait_for_function("document.getElementById('edit-status').textContent.startsWith('Saved')")
    assert {k: shelter(live_url, asset).json()["properties"][k] for k in SHELTER} == {
        "name": "栈桥广场",
        "capacity": 320,
        "kind": "square",
        "area_m2": None,
        "status": "full",
    }
    # Its tile came again at once, though the browser had it (max-age) a moment ago.
    page.wait_for_function(on_map("shelters", asset, "f.properties.capacity === 320"))

    # Someone else changes it meanwhile: this page's ETag is stale, the save is a 412.
    etag = shelter(live_url, asset).headers["etag"]
    other = httpx.patch(
        f"{live_url}/collections/shelters/items/{asset}",
        headers=auth | {"If-Match": etag, "Content-Type": "application/merge-patch+json"},
        content='{"properties": {"capacity": 350}}',
    )
    assert other.status_code == 204, other.text
    page.fill("#field-capacity", "400")
    page.click("#edit-save")
    page.locator("#edit-message.warning").wait_for()
    assert "Someone else changed this feature" in page.text_content("#edit-message")
    page.locator("#editor").screenshot(path=shots / "edit-4-stale-412.png")
    assert shelter(live_url, asset).json()["properties"]["capacity"] == 350
    page.click("#edit-message button")  # Reload
    page.wait_for_function("document.getElementById('field-capacity').value === '350'")

    # Move it: Move, then click where it goes; Save sends the new geometry.
    page.click("#edit-move")
    lon, lat = click_map(page, LON + 0.001, LAT + 0.001)
    assert "(moved, not saved)" in page.text_content("#edit-geometry-text")
    page.click("#edit-save")
    page.wait_for_function("document.getElementById('edit-status').textContent.startsWith('Saved')")
    moved = shelter(live_url, asset).json()
    assert moved["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-9)
    assert moved["properties"]["capacity"] == 350 and moved["properties"]["status"] == "full"
    near = (
        f"Math.hypot(f.geometry.coordinates[0] - {lon}, f.geometry.coordinates[1] - {lat}) < 1e-5"
    )
    page.wait_for_function(on_map("shelters", asset, near))  # drawn where it went

    # Or drag its marker.
    box = page.locator(".edit-marker").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y + 30, steps=6)
    page.mouse.up()
    assert "(moved, not saved)" in page.text_content("#edit-geometry-text")
    dragged = page.evaluate("citygis.editor.state.geometry.coordinates")
    assert dragged[0] < lon and dragged[1] < lat
    saved(page)
    assert shelter(live_url, asset).json()["geometry"]["coordinates"] == pytest.approx(
        dragged, abs=1e-9
    )

    page.click("#edit-delete")
    assert page.text_content("#edit-delete") == "Really delete?"
    page.click("#edit-delete")
    page.wait_for_function(
        "document.getElementById('edit-status').textContent.startsWith('Deleted')"
    )
    assert shelter(live_url, asset).status_code == 404
    page.wait_for_function(f"!({on_map('shelters', asset)})")
    history = httpx.get(f"{live_url}/collections/shelters/items/{asset}/history").json()
    assert [f["properties"]["capacity"] for f in history["features"]] == [300, 320, 350, 350, 350]


def test_a_gas_leak_is_recorded_then_moves_from_reported_to_contained(live_url, tokens, browser):
    page = open_editor(browser, live_url, tokens["emergency"])
    page.select_option("#edit-layer", "incidents")
    page.click("#edit-add")
    click_map(page, LON - 0.001, LAT - 0.001)
    assert page.eval_on_selector("#field-started_at", "e => e.type") == "datetime-local"
    page.fill("#field-name", "燃气泄漏 · 香港中路")
    page.select_option("#field-kind", "gas_leak")
    page.select_option("#field-severity", "II")
    page.select_option("#field-status", "reported")
    page.fill("#field-started_at", "2026-03-01T10:05:00")
    started = page.evaluate("new Date('2026-03-01T10:05:00').toISOString()")
    saved(page)
    incident = page.evaluate("citygis.editor.state.feature.id")
    assert page.input_value("#field-started_at") == "2026-03-01T10:05"  # as stored, local
    patches: list[str] = []
    page.on("request", lambda r: r.method == "PATCH" and patches.append(r.post_data))
    for status in ("active", "contained"):
        page.select_option("#field-status", status)
        saved(page)
    # Merge patches of what changed only, each against the version the page last read.
    assert [json.loads(b) for b in patches] == [
        {"properties": {"status": "active"}},
        {"properties": {"status": "contained"}},
    ]
    history = httpx.get(f"{live_url}/collections/incidents/items/{incident}/history").json()
    versions = [f["properties"] for f in history["features"]]
    assert [v["status"] for v in versions] == ["reported", "active", "contained"]
    assert {datetime.fromisoformat(v["started_at"]) for v in versions} == {
        datetime.fromisoformat(started)
    }
    assert versions[-1]["kind"] == "gas_leak" and versions[-1]["severity"] == "II"


def test_a_revoked_token_is_told_plainly(live_url, engine, browser):
    roles = load_roles(Catalog().values())
    token = create_token(engine, roles, "emergency", "map-revoked", None)
    page = open_editor(browser, live_url, token)
    add_shelter(page, name="撤销之后")
    revoke_token(engine, "map-revoked")
    deadline = time.monotonic() + 30  # the server hears of it through NOTIFY
    while httpx.get(f"{live_url}/map/session.json", params={"token": token}).status_code != 401:
        assert time.monotonic() < deadline, "the revoked token is still accepted"
        time.sleep(0.1)
    page.click("#edit-save")
    page.locator("#edit-message.error").wait_for()
    assert page.text_content("#edit-message").startswith(
        "Your token was not accepted: it is unknown, expired or revoked."
    )


def test_polygons_and_lines_are_drawn_vertex_by_vertex(live_url, tokens, browser, shots):
    page = open_editor(browser, live_url, tokens["admin"])
    page.select_option("#edit-layer", "logistics_parks")
    page.click("#edit-add")
    # Left of the panel, which covers the map's right-hand side.
    ring = [
        click_map(page, LON + dx, LAT + dy) for dx, dy in ((0, 0), (-0.003, 0), (-0.002, -0.002))
    ]
    assert page.is_disabled("#edit-save")  # until the polygon is finished
    page.fill("#field-name", "试验物流园")
    page.select_option(
        "#field-kind", page.eval_on_selector("#field-kind", "e => e.options[1].value")
    )
    page.screenshot(path=shots / "edit-5-drawing-a-polygon.png")
    page.click("#edit-finish")
    page.click("#edit-save")
    page.wait_for_function(
        "document.getElementById('edit-status').textContent.startsWith('Created')"
    )
    park = page.evaluate("citygis.editor.state.feature.id")
    got = httpx.get(f"{live_url}/collections/logistics_parks/items/{park}").json()["geometry"]
    assert got["type"] == "MultiPolygon"
    assert np.allclose(got["coordinates"][0][0], [*ring, ring[0]], rtol=0, atol=1e-9)
    page.wait_for_function(on_map("logistics_parks", park))

    page.select_option("#edit-layer", "roads")
    page.click("#edit-add")
    line = [click_map(page, LON - 0.004, LAT + 0.001), click_map(page, LON - 0.003, LAT + 0.002)]
    x, y = pixel(page, LON - 0.001, LAT + 0.002)
    zoom = page.evaluate("citygis.map.getZoom()")
    page.mouse.dblclick(x, y)  # the last vertex, and the end of the line
    assert "LineString" in page.text_content("#edit-geometry-text")
    assert page.evaluate("citygis.map.getZoom()") == zoom  # no zoom on that double-click
    page.select_option("#field-road_class", "primary")
    page.click("#edit-save")
    page.wait_for_function(
        "document.getElementById('edit-status').textContent.startsWith('Created')"
    )
    road = page.evaluate("citygis.editor.state.feature.id")
    got = httpx.get(f"{live_url}/collections/roads/items/{road}").json()
    assert got["properties"]["road_class"] == "primary"
    assert got["geometry"]["type"] == "LineString" and len(got["geometry"]["coordinates"]) == 3
    assert np.allclose(got["geometry"]["coordinates"][:2], line, rtol=0, atol=1e-9)


def test_a_viewer_sees_no_editing_panel_and_a_planner_edits_only_its_layers(
    live_url, tokens, browser, shots
):
    page = browser.open_map(f"{live_url}/map")
    assert not page.is_visible("#editor")
    assert page.evaluate("typeof window.citygisEditor") == "undefined"  # never fetched
    assert page.evaluate("citygis.state.session.role") == "viewer"
    page.screenshot(path=shots / "edit-6-viewer-no-panel.png")
    page = browser.open_map(f"{live_url}/map?token={tokens['planner']}")
    layers = page.eval_on_selector_all("#edit-layer option", "os => os.map(o => o.value)")
    assert layers == ["base_stations", "sectors"]
