"""The crew panel (issue 12, item 13): a real Chromium at 1366×768 finds the valves for a
break clicked on the map, passes a stuck valve, reads a dig and the active alarms, on a
network drawn by hand in metres about (CX, CY):

    N-R ==W-1== N-A ==W-2== N-B ==W-3== N-C      V-11 on W-1 at x 100; V-12 on W-2 at 210;
     (reservoir)            ‖                     V-21 on W-3 at 510; V-22 on W-4 at y −10.
                           W-4                    E-1: a power cable 2 m north of the main,
                            ‖                     x 150–750, no valves.
                           N-D

A break on W-2 closes V-12, V-21 and V-22 (N-C and N-D are then cut off); with V-12 stuck,
V-11 closes instead, its alternate. The dig spans x 640–660: W-3 and E-1 cross it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from pyproj import Transformer
from sqlalchemy import text

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.support.browser import Browser, needs_chromium
from tests.support.factories import insert_sql, sample_row
from tests.support.server import serving

pytestmark = [pytest.mark.clients, needs_chromium]

CX, CY = 120.45, 36.12
PLANE = Transformer.from_pipeline(
    "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
    f"+step +proj=aeqd +lat_0={CY} +lon_0={CX} +ellps=GRS80"
)
NODES = {  # id: utility, kind, (x, y)
    "N-R": ("water", "reservoir", (0, 0)),
    "N-A": ("water", "junction", (200, 0)),
    "N-B": ("water", "junction", (500, 0)),
    "N-C": ("water", "junction", (800, 0)),
    "N-D": ("water", "junction", (500, -300)),
    "V-11": ("water", "valve", (100, 0)),
    "V-12": ("water", "valve", (210, 0)),
    "V-21": ("water", "valve", (510, 0)),
    "V-22": ("water", "valve", (500, -10)),
    "P-1": ("power", "junction", (150, 2)),
    "P-2": ("power", "junction", (750, 2)),
}
WATER, POWER = "青岛水务集团", "国网青岛供电公司"
PIPES = {  # id: utility, from, to, DN, depth, owner
    "W-1": ("water", "N-R", "N-A", 300, 1.5, WATER),
    "W-2": ("water", "N-A", "N-B", 200, 1.5, WATER),
    "W-3": ("water", "N-B", "N-C", 150, 1.5, WATER),
    "W-4": ("water", "N-B", "N-D", 150, 1.5, WATER),
    "E-1": ("power", "P-1", "P-2", 100, 0.8, POWER),
}
OWNERS = {"O-W": (WATER, "water", "0532-8285 1234"), "O-P": (POWER, "power", "95598")}
DIG = [(640, -6), (660, -6), (660, 8), (640, 8)]
SENSOR = "GS-7"
NOW = datetime.now(UTC).replace(microsecond=0)
READINGS = [(NOW - timedelta(minutes=m), v) for m, v in ((45, 4.0), (30, 12.0), (15, 22.5))]


def lonlat(x: float, y: float) -> tuple[float, float]:
    return PLANE.transform(x, y, direction="INVERSE")


def point(x: float, y: float, z: float = -1.5) -> str:
    lo, la = lonlat(x, y)
    return f"SRID=4490;POINT Z ({lo!r} {la!r} {z})"


def line(a: tuple[float, float], b: tuple[float, float], z: float) -> str:
    (x0, y0), (x1, y1) = lonlat(*a), lonlat(*b)
    return f"SRID=4490;LINESTRING Z ({x0!r} {y0!r} {z}, {x1!r} {y1!r} {z})"


@pytest.fixture(scope="module")
def network(engine) -> Iterator[None]:
    xy = {n: at for n, (_, _, at) in NODES.items()}
    sensors = Catalog()["sensors"]
    with engine.begin() as c:
        for n, (utility, kind, (x, y)) in NODES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valve_state, "
                    "valid, geom) VALUES (:a, :u, :k, :s, tstzrange('1990-01-01', NULL), "
                    "ST_GeomFromEWKT(:g))"
                ),
                {"a": n, "u": utility, "k": kind, "s": "open" if kind == "valve" else None}
                | {"g": point(x, y)},
            )
        for p, (utility, a, b, dn, depth, owner) in PIPES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, "
                    "diameter_mm, material, depth_start_m, depth_end_m, owner, valid, geom) "
                    "VALUES (:p, :u, :a, :b, :dn, :m, :d, :d, :o, "
                    "tstzrange('1990-01-01', NULL), ST_GeomFromEWKT(:g))"
                ),
                {"p": p, "u": utility, "a": a, "b": b, "dn": dn, "d": depth, "o": owner}
                | {"m": "ductile_iron" if utility == "water" else "copper"}
                | {"g": line(xy[a], xy[b], -depth)},
            )
        for o, (name, utility, phone) in OWNERS.items():
            c.execute(
                text(
                    "INSERT INTO city.owners (asset_id, name, utility, phone_24h, valid, geom) "
                    "VALUES (:o, :n, :u, :t, tstzrange('2000-01-01', NULL), "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"o": o, "n": name, "u": utility, "t": phone, "x": CX, "y": CY},
            )
        row = sample_row(sensors, SENSOR) | {"sensor_kind": "gas_concentration", "unit": "%LEL"}
        row |= {"utility": "gas", "valid": "[2024-01-01,)"}
        row["geom"] = "SRID=4490;POINT({!r} {!r})".format(*lonlat(600, 20))
        c.execute(text(insert_sql(sensors, row)), row)
        c.execute(
            text("INSERT INTO city.sensor_readings VALUES (:s, :t, :v)"),
            [{"s": SENSOR, "t": t, "v": v} for t, v in READINGS],
        )
    yield
    with engine.begin() as c:
        for table, ids in (("pipelines", PIPES), ("pipe_nodes", NODES), ("owners", OWNERS)):
            c.execute(text(f"DELETE FROM city.{table} WHERE asset_id = ANY(:i)"), {"i": list(ids)})
        c.execute(text("DELETE FROM city.sensor_readings WHERE sensor_id = :s"), {"s": SENSOR})
        c.execute(text("DELETE FROM city.sensors WHERE asset_id = :s"), {"s": SENSOR})
        c.execute(text("TRUNCATE city.tokens, city.audit"))


@pytest.fixture(scope="module")
def crew_token(network, engine) -> str:
    return create_token(engine, load_roles(Catalog().values()), "crew", "map-crew", None)


@pytest.fixture(scope="module")
def live_url(db_url, network) -> Iterator[str]:
    with serving(create_app(db_url, ServerSettings(), pool_size=2)) as url:
        yield url


def open_map(browser: Browser, url: str, at: tuple[float, float], zoom: float):
    """/map on a crew's laptop screen (1366×768), at x/y metres of the drawn network."""
    page = browser.browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(90_000)  # a loaded CI machine draws slowly; nothing here hangs
    page.route("**/*", browser.only_localhost)
    page.on("pageerror", lambda e: browser.errors.append(str(e)))
    page.goto(url)
    page.evaluate("citygis.ready")
    lon, lat = lonlat(*at)
    page.evaluate(f"citygis.map.jumpTo({{center: [{lon}, {lat}], zoom: {zoom}}})")
    page.evaluate("citygis.idle()")
    return page


def click(page, x: float, y: float, double: bool = False) -> None:
    """A real mouse click at x/y metres of the drawn network."""
    lon, lat = lonlat(x, y)
    px, py = page.evaluate(
        f"""(() => {{ const p = citygis.map.project([{lon}, {lat}]);
        const r = citygis.map.getCanvas().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }})()"""
    )
    (page.mouse.dblclick if double else page.mouse.click)(px, py)


def valves(page) -> list[str]:
    return page.eval_on_selector_all("#crew-valves li", "ls => ls.map(l => l.dataset.valve)")


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "es => es.map(e => e.textContent.trim())")


def opened_text(popup, expected: str, timeout_s: float = 90) -> str:
    """The text of a page the panel opened from a blob: URL, once it holds `expected`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:  # popup.url may still say about:blank: ask the page itself
            where, body = popup.evaluate("[location.protocol, document.body?.innerText || '']")
            if where == "blob:" and expected in body:
                return body
        except PlaywrightError:  # navigating from about:blank meanwhile
            pass
        time.sleep(0.2)
    raise AssertionError(f"the page opened never showed {expected!r}")


def break_at(page, utility: str, x: float, y: float) -> None:
    page.select_option("#crew-utility", utility)
    page.click("#crew-place")
    click(page, x, y)
    page.wait_for_function("!document.getElementById('crew-break-status').textContent")
    page.wait_for_function("!citygis.map.isMoving()")  # brought the valves into view


def test_a_break_on_the_water_main_lists_its_valves_and_a_stuck_one_its_alternate(
    live_url, crew_token, browser, shots
):
    page = open_map(browser, f"{live_url}/map?token={crew_token}", (330, 0), 16)
    assert page.is_visible("#crew-panel") and page.text_content("#crew-role") == "crew"
    utilities = page.eval_on_selector_all("#crew-utility option", "os => os.map(o => o.value)")
    assert utilities == ["water", "drainage", "gas", "heating", "telecom", "power"]
    # Power runs 2 m away and has no valves: the server says so, in the panel.
    break_at(page, "power", 350, -0.5)
    assert page.is_visible("#crew-break-message.error")
    assert "no operable valve of the power network" in page.text_content("#crew-break-message")
    page.screenshot(path=shots / "crew-0-power-has-no-valves.png")

    break_at(page, "water", 350, -0.5)
    assert page.is_hidden("#crew-break-message")
    assert page.text_content("#crew-broken-pipe") == "W-2"
    assert valves(page) == ["V-12", "V-21", "V-22"]
    assert texts(page, "#crew-valves .valve-where") == [
        "open · along W-2, 10.0 m from its start node",
        "open · along W-3, 10.0 m from its start node",
        "open · along W-4, 10.0 m from its start node",
    ]
    assert texts(page, "#crew-valves .alternate") == []
    marked = "ms => ms.map(m => [m.dataset.valve, m.textContent])"
    assert page.eval_on_selector_all(".crew-valve", marked) == [
        ["V-12", "1"],
        ["V-21", "2"],
        ["V-22", "3"],
    ]
    # 290 m of W-2 and 10 m each of W-3 and W-4 are shut off; past V-21 and V-22, dry.
    rows = page.eval_on_selector_all(
        "#crew-totals tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert rows[0] == ["Shut off · 隔离", "3", "310.0 m", "9.46 m³", "1"]
    assert rows[1] == ["Cut off · 断水", "2", "580.0 m", "10.25 m³", "2"]
    assert texts(page, "#crew-zones li") == ["Zone 1: W-3 · 290.0 m", "Zone 2: W-4 · 290.0 m"]
    drawn = "citygis.map.queryRenderedFeatures({layers: ['%s']}).map(f => f.properties.asset_id)"
    assert set(page.evaluate(drawn % "crew:isolated")) == {"W-2", "W-3", "W-4"}
    assert set(page.evaluate(drawn % "crew:cut-off")) == {"W-3", "W-4"}
    page.screenshot(path=shots / "crew-1-break-valves.png")

    page.click("#crew-valves li[data-valve='V-12'] button")  # found stuck
    page.wait_for_function("citygis.crew.state.answer?.summary.inoperable_valves.length === 1")
    page.wait_for_function("!citygis.map.isMoving()")
    assert valves(page) == ["V-11", "V-21", "V-22"]
    assert texts(page, "#crew-valves .alternate") == ["alternate for V-12"]
    assert texts(page, "#crew-stuck li strong") == ["V-12"]
    assert "close V-11 instead" in page.text_content("#crew-stuck li")
    assert page.is_visible(".crew-valve.stuck[data-valve='V-12']")
    page.screenshot(path=shots / "crew-2-stuck-valve.png")

    page.click(".crew-valve.stuck[data-valve='V-12']")  # on the map: unmark it
    page.wait_for_function("citygis.crew.state.answer?.summary.inoperable_valves.length === 0")
    assert valves(page) == ["V-12", "V-21", "V-22"]
    assert page.query_selector("#crew-stuck") is None


def test_the_shut_off_order_opens_or_says_it_is_not_there(live_url, crew_token, browser):
    page = open_map(browser, f"{live_url}/map?token={crew_token}", (330, 0), 16)
    break_at(page, "water", 350, -0.5)
    body = {"point": lonlat(350, -0.5), "utility": "water", "inoperable_valves": []}
    route = httpx.post(
        f"{live_url}/analysis/isolate/order.html",
        headers={"Authorization": f"Bearer {crew_token}"},
        json=body,
    )
    if route.status_code == 404:  # the route is another item's; until it is there
        page.click("#crew-order")
        page.locator("#crew-break-message.error").wait_for()
        assert "shut-off order is not available on this server yet" in page.text_content(
            "#crew-break-message"
        )
        return
    assert route.status_code == 200, route.text
    with page.expect_popup() as opened:
        page.click("#crew-order")
    assert "V-12" in opened_text(opened.value, "V-22")


def test_a_public_page_has_no_crew_panel(live_url, network, browser):
    page = open_map(browser, f"{live_url}/map", (330, 0), 16)
    assert page.is_hidden("#crew-panel")
    assert page.evaluate("typeof window.citygisCrew") == "undefined"  # never fetched


def test_a_dig_lists_what_is_buried_with_owners_phones_and_a_section(
    live_url, crew_token, browser, shots
):
    page = open_map(browser, f"{live_url}/map?token={crew_token}", (650, 1), 18)
    page.click("#crew-tab-dig")
    page.fill("#crew-dig-depth", "1")
    page.click("#crew-dig-draw")
    for x, y in DIG[:-1]:
        click(page, x, y)
    click(page, *DIG[-1], double=True)  # the last vertex, and the end of the polygon
    page.locator("#crew-dig-table").wait_for()
    rows = page.eval_on_selector_all(
        "#crew-dig-table tbody tr",
        "rs => rs.map(r => [r.dataset.asset, ...[...r.cells].slice(1).map(c => c.innerText)])",
    )
    assert rows == [
        ["E-1", "0.80 → 0.80 m\n0.80–0.80 m", "DN100\ncopper", f"{POWER}\n☎ 95598"],
        ["W-3", "1.50 → 1.50 m\n1.50–1.50 m", "DN150\nductile_iron", f"{WATER}\n☎ 0532-8285 1234"],
    ]
    risky = page.eval_on_selector_all(
        "#crew-dig-table tr.at-risk", "rs => rs.map(r => r.dataset.asset)"
    )
    assert risky == ["E-1"]  # its top is 0.75 m deep, above the 1 m dig
    phones = page.eval_on_selector_all("#crew-owners a.tel", "as => as.map(a => a.href)")
    assert phones == ["tel:95598", "tel:053282851234"]  # owners sorted by name
    page.wait_for_function("document.getElementById('crew-section-img')?.naturalWidth > 0")
    first = page.get_attribute("#crew-section-img", "src")
    page.screenshot(path=shots / "crew-3-dig.png")

    page.click("#crew-section-draw")
    click(page, 650, -10)
    click(page, 650, 12)
    page.wait_for_function(
        f"document.getElementById('crew-section-img')?.src !== {first!r}"
        " && document.getElementById('crew-section-img')?.naturalWidth > 0"
    )
    assert page.evaluate("citygis.crew.state.digSection.coordinates.length") == 2
    with page.expect_popup() as opened:
        page.click("#crew-dig-report")
    assert "0532-8285 1234" in opened_text(opened.value, "E-1")
    page.locator("#crew-panel").screenshot(path=shots / "crew-4-dig-section.png")


def test_the_active_alarms_list_flies_to_the_sensor(live_url, crew_token, browser, shots):
    page = open_map(browser, f"{live_url}/map?token={crew_token}", (330, 0), 15)
    assert page.text_content("#crew-alarm-count") == "1"  # one sensor, at two levels
    page.click("#crew-tab-alarms")
    items = page.eval_on_selector_all(
        "#crew-alarms-list li",
        "ls => ls.map(l => [l.dataset.sensor, l.querySelector('.level').textContent,"
        " l.querySelector('.kind').textContent.trim(), l.querySelector('.value').textContent])",
    )
    assert items == [
        [SENSOR, "L2 alarm · 报警", "gas_concentration · gas", "22.50 %LEL (≥ 20.00 %LEL)"],
        [SENSOR, "L1 warning · 预警", "gas_concentration · gas", "22.50 %LEL (≥ 10.00 %LEL)"],
    ]
    since = texts(page, "#crew-alarms-list .since")
    local = page.evaluate(
        """(iso) => { const d = new Date(iso), p = (n) => String(n).padStart(2, "0");
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
               `${p(d.getHours())}:${p(d.getMinutes())}`; }""",
        READINGS[2][0].isoformat(),
    )
    assert since[0] == f"since {local} · peak 22.50 %LEL"
    assert page.eval_on_selector_all(".alarm-ring", "rs => rs.map(r => r.dataset.sensor)") == [
        SENSOR
    ]
    page.screenshot(path=shots / "crew-5-alarms.png")
    page.click("#crew-alarms-list li button")
    page.wait_for_function("citygis.map.getZoom() > 16.999 && !citygis.map.isMoving()")
    centre = page.evaluate("citygis.map.getCenter().toArray()")
    assert centre == pytest.approx(list(lonlat(600, 20)), abs=1e-6)
    assert page.evaluate("citygis.map.getZoom()") == pytest.approx(17)


def test_beside_the_emergency_panel_one_card_is_open_at_a_time(
    live_url, network, engine, browser, shots
):
    token = create_token(engine, load_roles(Catalog().values()), "emergency", "map-em", None)
    page = open_map(browser, f"{live_url}/map?token={token}", (330, 0), 16)
    assert page.is_visible("#emergency-panel") and page.is_visible("#crew-panel")
    folded = "(id) => document.getElementById(id).classList.contains('collapsed')"
    assert page.evaluate(folded, "crew-panel") and not page.evaluate(folded, "emergency-panel")
    page.screenshot(path=shots / "crew-6-emergency-role-folded.png")
    page.click("#crew-collapse")  # open the crew card: the emergency card folds
    assert not page.evaluate(folded, "crew-panel") and page.evaluate(folded, "emergency-panel")
    crew, em = (page.locator(f"#{i}").bounding_box() for i in ("crew-panel", "emergency-panel"))
    assert em["y"] + em["height"] <= crew["y"]  # below the folded emergency header
    page.screenshot(path=shots / "crew-7-emergency-role-crew-open.png")
    page.click("#em-fold")  # and back
    assert page.evaluate(folded, "crew-panel") and not page.evaluate(folded, "emergency-panel")
