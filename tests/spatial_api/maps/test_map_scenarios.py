"""The scenario picker beside the time slider (issue 11, item 8): a real Chromium makes a
scenario from the panel, edits in it, sees it drawn only there, and commits it, or is told
plainly which live assets stand in the way."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from tests.spatial_api.maps import test_map_editing as editing
from tests.spatial_api.maps.test_map_editing import LAT, LON, click_map, on_map, open_editor, saved
from tests.support.browser import needs_chromium

pytestmark = [pytest.mark.clients, needs_chromium]

# The editing tests' demo city, server and tokens (browser and shots: conftest.py).
live_url, tokens = editing.live_url, editing.tokens  # demo_db: maps/conftest.py

TITLE = "八大关 5G 补点"


@pytest.fixture(autouse=True)
def no_scenarios_left(engine) -> Iterator[None]:
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.scenarios"))  # their edits go with them (cascade)


def item(url: str, token: str, asset: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{url}/collections/base_stations/items/{asset}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )


def new_scenario(page, title: str) -> str:
    """New scenario from the panel; the map then shows it. Returns its id."""
    page.click("#scenario-new")
    page.fill("#scenario-title", title)
    page.click("#scenario-create")
    page.wait_for_function("citygis.state.scenario !== null")
    page.locator("#scenario-badge").wait_for()
    page.wait_for_function(
        "/^No changes/.test(document.getElementById('scenario-changes').textContent)"
    )
    return page.evaluate("citygis.state.scenario.id")


def changes(page) -> str:
    return page.text_content("#scenario-changes")


def layers(page) -> list[list[str]]:
    """The panel's changes by layer: [layer, counts]."""
    return page.eval_on_selector_all(
        "#scenario-layers li", "ls => ls.map(l => [...l.children].map(c => c.textContent))"
    )


def test_a_planner_adds_a_site_in_a_scenario_then_commits_it(live_url, tokens, browser, shots):
    planner = tokens["planner"]
    page = open_editor(browser, live_url, planner)
    assert page.is_visible("#scenario-panel")
    assert page.eval_on_selector_all("#scenario option", "os => os.map(o => o.text)") == [
        "Live city · 现状"
    ]
    assert not page.is_visible("#scenario-badge")
    assert page.text_content("#edit-scope") == "Edits go to the live city."

    sid = new_scenario(page, TITLE)
    listed = httpx.get(f"{live_url}/scenarios", headers={"Authorization": f"Bearer {planner}"})
    assert [(s["id"], s["title"]) for s in listed.json()["scenarios"]] == [(sid, TITLE)]
    assert page.input_value("#scenario") == sid
    assert page.text_content("#scenario-badge").split() == (
        f"Scenario · 情景 Showing “{TITLE}”, not the live city Live city".split()
    )
    assert page.text_content("#edit-scope") == f"Edits go into scenario “{TITLE}” only."
    assert f"scenario={sid}" in page.evaluate("location.search")  # a reload keeps it
    tiles = page.evaluate("citygis.map.getSource('base_stations').serialize().tiles")
    assert all(f"scenario={sid}" in t for t in tiles)

    writes: list[str] = []
    page.on("request", lambda r: r.method != "GET" and writes.append(f"{r.method} {r.url}"))
    page.select_option("#edit-layer", "base_stations")
    page.click("#edit-add")
    click_map(page, LON, LAT)
    page.fill("#field-name", "八大关补点站")
    page.select_option("#field-structure", "pole")
    page.fill("#field-height_m", "25")
    page.select_option("#field-status", "planned")
    page.screenshot(path=shots / "scenario-1-new-site-in-scenario.png")
    saved(page)
    asset = page.evaluate("citygis.editor.state.feature.id")
    assert writes == [f"POST {live_url}/collections/base_stations/items?scenario={sid}"]

    # The API has it in the scenario, and the live city does not.
    inside = item(live_url, planner, asset, scenario=sid)
    assert inside.status_code == 200 and inside.json()["properties"]["name"] == "八大关补点站"
    assert item(live_url, planner, asset).status_code == 404
    # The map draws it, and the panel counts it.
    page.wait_for_function(on_map("base_stations", asset))
    page.wait_for_function("document.getElementById('scenario-count').textContent === '1'")
    assert changes(page) == "1 change to the live city"
    assert layers(page) == [["通信基站站址 Base-station sites", "1 added"]]
    page.screenshot(path=shots / "scenario-2-site-drawn-in-scenario.png")

    # Live city: the badge goes, and so does the site.
    page.select_option("#scenario", "")
    page.wait_for_function(f"!({on_map('base_stations', asset)})")
    page.evaluate("citygis.idle()")
    assert not page.is_visible("#scenario-badge") and not page.is_visible("#scenario-info")
    assert "scenario=" not in page.evaluate("location.search")
    assert page.evaluate("citygis.editor.state.feature") is None  # closed: it is not live
    page.screenshot(path=shots / "scenario-3-live-city-without-it.png")

    # Back to the scenario, and commit it from the panel (a second click confirms).
    page.select_option("#scenario", sid)
    page.wait_for_function(on_map("base_stations", asset))
    page.wait_for_function("!document.getElementById('scenario-commit').disabled")
    page.click("#scenario-commit")
    assert page.text_content("#scenario-commit") == "Commit 1 change?"
    page.screenshot(path=shots / "scenario-4-confirm-commit.png")
    page.click("#scenario-commit")
    page.wait_for_function(
        "document.getElementById('scenario-message').textContent.startsWith('Committed')"
    )
    live = item(live_url, planner, asset)
    assert live.status_code == 200 and live.json()["properties"]["height_m"] == 25
    assert page.input_value("#scenario") == "" and not page.is_visible("#scenario-badge")
    assert page.eval_on_selector_all("#scenario option", "os => os.length") == 1  # it is done
    page.wait_for_function(on_map("base_stations", asset))  # now drawn in the live city
    page.screenshot(path=shots / "scenario-5-committed-live.png")


def test_a_commit_that_conflicts_lists_the_assets_then_the_scenario_is_discarded(
    live_url, tokens, browser, shots
):
    planner = {"Authorization": f"Bearer {tokens['planner']}"}
    made = httpx.post(
        f"{live_url}/collections/base_stations/items",
        headers=planner,
        json={
            "type": "Feature",
            "id": "QD-SN-0999",
            "geometry": {"type": "Point", "coordinates": [LON + 0.002, LAT]},
            "properties": {"name": "汇泉广场站", "structure": "tower", "height_m": 30.0},
        },
    )
    assert made.status_code == 201, made.text
    page = open_editor(browser, live_url, tokens["planner"], LON + 0.002, LAT)
    sid = new_scenario(page, "汇泉塔加高")
    # The scenario's tiles replace the live ones: click once the site is drawn again (the
    # population grid under it would otherwise answer the click).
    page.wait_for_function("citygis.rendered('base_stations') > 0")
    page.evaluate("citygis.idle()")
    # The site is raised in the scenario, from its popup's Edit …
    page.evaluate(f"""citygis.inspect({{point: citygis.map.project([{LON + 0.002}, {LAT}]),
                                        lngLat: {{lng: {LON + 0.002}, lat: {LAT}}}}})""")
    page.click(".popup-edit")
    page.wait_for_function("citygis.editor.state.feature?.id === 'QD-SN-0999'")
    page.fill("#field-height_m", "45")
    saved(page)
    assert item(live_url, tokens["planner"], "QD-SN-0999").json()["properties"]["height_m"] == 30
    page.wait_for_function("document.getElementById('scenario-count').textContent === '1'")
    assert layers(page) == [["通信基站站址 Base-station sites", "1 changed"]]
    # … while someone changes it in the live city.
    live = httpx.patch(
        f"{live_url}/collections/base_stations/items/QD-SN-0999",
        headers=planner,
        json={"properties": {"owner": "中国铁塔"}},
    )
    assert live.status_code == 204, live.text

    page.click("#scenario-commit")
    page.click("#scenario-commit")
    page.locator("#scenario-message.warning").wait_for()
    assert page.text_content("#scenario-message p").startswith(
        "Not committed: 1 live asset changed since this scenario began. Nothing was applied."
    )
    assert page.eval_on_selector_all(
        "#scenario-message li", "ls => ls.map(l => l.textContent)"
    ) == ["QD-SN-0999"]
    assert page.input_value("#scenario") == sid and page.is_visible("#scenario-badge")
    page.screenshot(path=shots / "scenario-6-commit-409.png")
    props = item(live_url, tokens["planner"], "QD-SN-0999").json()["properties"]
    assert (props["height_m"], props["owner"]) == (30, "中国铁塔")

    page.click("#scenario-discard")
    assert page.text_content("#scenario-discard") == "Really discard?"
    page.click("#scenario-discard")
    page.wait_for_function(
        "document.getElementById('scenario-message').textContent.startsWith('Discarded')"
    )
    assert httpx.get(f"{live_url}/scenarios/{sid}", headers=planner).status_code == 404
    assert page.input_value("#scenario") == "" and not page.is_visible("#scenario-badge")


def test_no_picker_for_a_token_that_writes_nothing(live_url, browser):
    page = browser.open_map(f"{live_url}/map")
    assert not page.is_visible("#scenario-panel") and not page.is_visible("#scenario-badge")
    assert page.evaluate("typeof window.citygisScenarios") == "undefined"  # never fetched
