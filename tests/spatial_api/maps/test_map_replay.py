"""Replay on the demo city (issue 13, item 6): a real Chromium, with an emergency token, picks
an incident in the emergency panel and moves the replay slider to the minute it was
reported; the map then draws the roads valid at that instant, exactly those the API lists
in the viewport. Before the roads' valid_from the map has none.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from tests.support.browser import Browser, needs_chromium
from tests.support.server import serving
from tests.support.webmap import webmap_app

pytestmark = [pytest.mark.clients, needs_chromium]

INCIDENT = """
SELECT i.asset_id, ST_X(i.geom), ST_Y(i.geom),
       (SELECT min(lower(h.valid)) FROM city.incidents h WHERE h.asset_id = i.asset_id)
FROM city.incidents_current i WHERE i.status <> 'closed' ORDER BY i.asset_id LIMIT 1
"""
EDGE_PX = 8  # lines drawn within this of the viewport's edge may or may not be picked


@pytest.fixture(scope="module")
def token(demo_db, engine) -> str:
    roles = load_roles(Catalog().values())
    return create_token(engine, roles, "emergency", "duty-officer", None)


@pytest.fixture(scope="module")
def live_url(demo_db) -> Iterator[str]:
    with serving(webmap_app(demo_db)) as url:
        yield url


def road_ids(url: str, token: str, bounds: list[float], when: str) -> set[int]:
    """Version ids of the roads valid at `when` whose geometry meets `bounds`, by the API."""
    r = httpx.get(
        f"{url}/collections/roads/items",
        params={
            "bbox": ",".join(f"{v:.7f}" for v in bounds),
            "datetime": when,
            "properties": "version_id",
            "limit": 10_000,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["numberMatched"] == body["numberReturned"]
    return {f["properties"]["version_id"] for f in body["features"]}


def bounds_within(page, px: int) -> list[float]:
    """The viewport's lon/lat bounds, moved `px` pixels inwards (negative: outwards)."""
    return page.evaluate(
        f"""(() => {{ const c = citygis.map.getCanvas(), m = citygis.map;
        const w = c.clientWidth, h = c.clientHeight;
        const sw = m.unproject([{px}, h - {px}]), ne = m.unproject([w - {px}, {px}]);
        return [sw.lng, sw.lat, ne.lng, ne.lat]; }})()"""
    )


def roads_only(browser: Browser, url: str):
    """/map at a command centre's 1366×768 in Qingdao's time zone, every layer but the
    roads switched off in the legend, so the screenshot shows them."""
    page = browser.browser.new_page(
        viewport={"width": 1366, "height": 768}, timezone_id="Asia/Shanghai"
    )
    page.route("**/*", browser.only_localhost)
    page.on("pageerror", lambda e: browser.errors.append(str(e)))
    page.goto(url)
    page.evaluate("citygis.ready")
    for other in page.eval_on_selector_all(
        "#layers input[type=checkbox]:not(#toggle-roads)", "bs => bs.map((b) => b.id)"
    ):
        page.uncheck(f"#{other}")
    return page


def drawn_roads(page) -> set[int]:
    return set(
        page.evaluate(
            "[...new Set(citygis.map.queryRenderedFeatures("
            "{layers: citygis.state.layerIds.roads}).map((f) => f.id))]"
        )
    )


def test_the_map_at_an_incidents_reported_instant_shows_its_roads(
    live_url, token, engine, browser: Browser, shots
):
    with engine.connect() as c:  # an open incident (the panel lists those), its report
        asset, lon, lat, reported = c.execute(text(INCIDENT)).one()
        roads_from = c.execute(text("SELECT min(lower(valid)) FROM city.roads")).scalar_one()
    assert roads_from < reported  # the demo's roads have history before its incidents
    page = roads_only(browser, f"{live_url}/map?token={token}")
    page.select_option("#em-incident", asset)
    page.wait_for_function("document.querySelectorAll('#em-log li').length >= 3")
    page.evaluate("citygis.idle()")  # choosing an incident flies to it: then look wider
    page.evaluate(f"citygis.map.jumpTo({{center: [{lon}, {lat}], zoom: 13}})")
    # The replay slider, by the minute from a little before the first version: the first
    # minute at or after the report.
    start = page.evaluate("citygis.emergency.state.replay.start")  # ms since the epoch
    minute = math.ceil((reported.timestamp() * 1000 - start) / 60_000)
    page.fill("#em-replay", str(minute))
    page.dispatch_event("#em-replay", "input")
    when = page.evaluate("citygis.state.datetime")
    at = datetime.fromisoformat(when.replace("Z", "+00:00"))
    assert reported <= at < reported + timedelta(minutes=1)
    shown = page.evaluate("citygis.map.getSource('em-incident').getData()")
    assert [f["properties"]["status"] for f in shown["features"]] == ["reported"]
    page.evaluate("citygis.idle()")
    drawn = drawn_roads(page)
    inner = road_ids(live_url, token, bounds_within(page, EDGE_PX), when)
    outer = road_ids(live_url, token, bounds_within(page, -EDGE_PX), when)
    page.screenshot(path=shots / "replay-1-reported.png")
    assert len(inner) >= 20  # a city block's worth, so "some" would not pass by luck
    assert inner <= drawn <= outer, (len(inner), len(drawn), len(outer))
    # Before the roads were built the map has none, and the API agrees; back at the
    # report, the same roads again (so the empty map was not tiles still on their way).
    before = (roads_from - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    for instant, want in ((before, set()), (when, drawn)):
        page.evaluate(f"citygis.setInstant({instant!r})")
        page.wait_for_function(
            "([t]) => citygis.map.getSource('roads').tiles[0].includes(encodeURIComponent(t))"
            " && citygis.map.isSourceLoaded('roads')",
            arg=[instant],
        )
        page.evaluate("citygis.idle()")
        assert drawn_roads(page) == want, instant
        if instant == before:
            assert road_ids(live_url, token, bounds_within(page, -EDGE_PX), before) == set()
            page.screenshot(path=shots / "replay-2-before-the-roads.png")
