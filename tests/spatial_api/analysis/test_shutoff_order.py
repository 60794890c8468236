"""The printable shut-off order, on a network drawn by hand in metres (near 119.5 E, 35.5 N).

                               F (800, 400)
                               |  v5 at (800, 300): 260 m from any road
    ============ North Road (y = 40) ===============================
    R --p1-- A --p2-- B --p3-- C --p4-- D      v1 on p2 at x 400; v2 on p3 at x 750;
                      |   x              v4 on p4 at x 900; v3 (closed) on p5 at y -50
                      p5  the break (600, 0.5)
    ===== South <script> Street (y = -80) =====
                      E (500, -300)

R is the reservoir; past v2 (C, D, F) and past v4 and v5 the network is a dead end.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from pyproj import Transformer
from sqlalchemy import text

from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api.analysis.shutoff_order import customers_section
from tests.support.analysis import AUTH, problem

PLANE = Transformer.from_crs(
    "+proj=aeqd +lat_0=35.5 +lon_0=119.5 +ellps=GRS80 +units=m", 4490, always_xy=True
)
XY = {"R": (0, 0), "A": (200, 0), "B": (500, 0), "C": (800, 0), "D": (1100, 0)}
XY |= {"E": (500, -300), "F": (800, 400)}
PIPES = {  # id: from, to, diameter
    "p1": ("R", "A", 300),
    "p2": ("A", "B", 200),
    "p3": ("B", "C", 200),
    "p4": ("C", "D", 150),
    "p5": ("B", "E", 100),
    "p6": ("C", "F", 100),
}
VALVES = {
    "v1": ((400, 0), "open"),
    "v2": ((750, 0), "open"),
    "v3": ((500, -50), "closed"),
    "v4": ((900, 0), "open"),
    "v5": ((800, 300), "open"),
}
NORTH, SOUTH = "North Road 北路", "South <script>alert(1)</script> Street"
ROADS = {"so-north": (NORTH, 40), "so-south": (SOUTH, -80)}
BREAK = {"utility": "water"}


def lonlat(x: float, y: float) -> tuple[float, float]:
    return PLANE.transform(x, y)


def line(*points: tuple[float, float], z: str = " -1.2") -> str:
    return "SRID=4490;LINESTRING Z ({})".format(
        ", ".join("{} {}".format(*lonlat(*p)) + z for p in points)
    )


@pytest.fixture(scope="module")
def network(engine, client):
    node = (
        "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valve_state, geom) VALUES "
        "(:a, 'water', :k, :s, ST_SetSRID(ST_MakePoint(:x, :y, -1.2), 4490))"
    )
    with engine.begin() as c:
        for n, xy in XY.items():
            kind = "reservoir" if n == "R" else "junction"
            c.execute(text(node), {"a": f"so{n}", "k": kind, "s": None, **_xy(xy)})
        for v, (xy, state) in VALVES.items():
            c.execute(text(node), {"a": f"so{v}", "k": "valve", "s": state, **_xy(xy)})
        for k, (a, b, d) in PIPES.items():
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, "
                    "diameter_mm, geom) VALUES (:k, 'water', :a, :b, :d, ST_GeomFromEWKT(:g))"
                ),
                {"k": f"so{k}", "a": f"so{a}", "b": f"so{b}", "d": d, "g": line(XY[a], XY[b])},
            )
        for asset, (name, y) in ROADS.items():
            c.execute(
                text(
                    "INSERT INTO city.roads (asset_id, name, road_class, geom) "
                    "VALUES (:a, :n, 'secondary', ST_GeomFromEWKT(:g))"
                ),
                {"a": asset, "n": name, "g": line((-100, y), (1200, y), z="").replace(" Z", "")},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id LIKE 'sop%'"))
        c.execute(text("DELETE FROM city.pipe_nodes WHERE asset_id ~ '^so([A-Z]|v[0-9])$'"))
        c.execute(text("DELETE FROM city.roads WHERE asset_id LIKE 'so-%'"))


def _xy(xy: tuple[float, float]) -> dict[str, float]:
    x, y = lonlat(*xy)
    return {"x": x, "y": y}


class Tables(HTMLParser):
    """Rows of each table by its first class: (row class, [cell texts])."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = (a.get("class") or "").split(" ")[0]
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append((a.get("class") or "", []))
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def order(client, headers=AUTH, **body) -> tuple[str, dict[str, list[tuple[str, list[str]]]]]:
    r = client.post("/analysis/isolate/order.html", headers=headers, json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    parser = Tables()
    parser.feed(r.text)
    return r.text, parser.tables


def at_break(**more) -> dict:
    return {"point": lonlat(600, 0.5), **BREAK, **more}


def valve_rows(tables) -> list[tuple[str, str, str, str]]:
    """(number, id, action, road) per valve row; a group heading as ('group', text, '', '')."""
    out = []
    for cls, cells in tables["valves"]:
        if cls == "group":
            out.append(("group", cells[0], "", ""))
        elif cls.startswith("valve"):
            out.append((cells[1], cells[2], cells[4], cells[7]))
    return out


def test_the_valves_come_in_order_with_their_roads(client, network):
    page, tables = order(client, **at_break())
    # The break's segment is bounded by v1, v2 and the closed v3; nearest the break first.
    assert valve_rows(tables) == [
        ("group", "Bounding the break's own segment", "", ""),
        ("", "sov3", "already closed: check", "South <script>alert(1)</script> Street (30 m)"),
        ("1", "sov2", "CLOSE · supply beyond is cut", "North Road 北路 (40 m)"),
        ("2", "sov1", "CLOSE", "North Road 北路 (40 m)"),
    ]
    assert "Shut-off order · 关阀通知单" in page and "sop3" in page


def test_a_stuck_valves_alternates_are_grouped_under_it(client, network):
    page, tables = order(client, **at_break(inoperable_valves=["sov2"]))
    rows = valve_rows(tables)
    assert rows[:3] == [
        ("group", "Bounding the break's own segment", "", ""),
        ("", "sov3", "already closed: check", "South <script>alert(1)</script> Street (30 m)"),
        ("1", "sov1", "CLOSE", "North Road 北路 (40 m)"),
    ]
    assert rows[3][0] == "group"
    assert rows[3][1].startswith("Because sov2 is stuck (") and "close instead" in rows[3][1]
    # v4 is 300 m from the break, v5 361 m and 260 m from any road.
    assert rows[4:] == [
        ("", "sov2", "stuck – passed", "North Road 北路 (40 m)"),
        ("2", "sov4", "CLOSE · supply beyond is cut", "North Road 北路 (40 m)"),
        ("3", "sov5", "CLOSE · supply beyond is cut", "—"),
    ]
    facts = dict(tables["facts"][i][1] for i in range(len(tables["facts"])))
    assert facts["stuck valves reported"] == "sov2"
    zones = [cells for cls, cells in tables["zones"] if cls == "zone"]
    assert sorted(z[1] for z in zones) == ["sop4", "sop6"]


def test_totals_are_the_json_answers(client, network):
    body = at_break(inoperable_valves=["sov2"])
    r = client.post("/analysis/isolate", headers=AUTH, json=body)
    assert r.status_code == 200, r.text
    summary = r.json()["features"][0]["properties"]
    _, tables = order(client, **body)
    totals = {cls.split()[1]: cells for cls, cells in tables["pipes"] if cls.startswith("total")}
    for k in ("isolated", "cut_off", "total"):
        assert totals[k][1] == f"{summary[f'{k}_length_m']:.1f}"
        assert totals[k][3] == f"{summary[f'{k}_volume_m3']:.2f}"
    stretches = [f["properties"] for f in r.json()["features"] if "length_m" in f["properties"]]
    rows = [(cells[0], cells[3]) for cls, cells in tables["pipes"] if cls == "pipe"]
    assert rows == [(p["asset_id"], f"{p['length_m']:.1f}") for p in stretches]
    assert len(rows) == 8  # six isolated stretches (sop3 in two), two cut off


def test_the_page_is_self_contained_and_escaped(client, network):
    page, _ = order(client, **at_break(datetime="2099-01-01T00:00:00Z"))
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page, flags=re.I)
    refs += re.findall(r"""url\(\s*["']?([^"')]*)""", page, flags=re.I)
    assert all(ref.startswith("#") for ref in refs), refs
    assert "<script" not in page.replace("&lt;script&gt;", "")
    assert "South &lt;script&gt;alert(1)&lt;/script&gt; Street" in page
    assert "@page" in page and "size: A4" in page and "<svg" in page
    assert "2099-01-01T00:00:00Z" in page


def test_bad_bodies_and_roles_answer_as_the_json_route(client, engine, network):
    both = {"pipe": "sop3", "point": [119.5, 35.5]}
    for path in ("/analysis/isolate", "/analysis/isolate/order.html"):
        problem(client.post(path, headers=AUTH, json=both), 422)
        problem(client.post(path, headers=AUTH, json={"pipe": "nope"}), 404, "no pipe 'nope'")
        problem(client.post(path, json={"pipe": "sop3"}), 403, "restricted")
        nope = {"pipe": "sop3", "scenario": "nope"}
        problem(client.post(path, headers=AUTH, json=nope), 404, "no scenario 'nope'")
    roles = load_roles(Catalog().values())
    planner = {"Authorization": f"Bearer {create_token(engine, roles, 'planner', 'so-p', None)}"}
    for path in ("/analysis/isolate", "/analysis/isolate/order.html"):
        problem(client.post(path, headers=planner, json={"pipe": "sop3"}), 403, "pipelines")
    problem(
        client.post(
            "/analysis/isolate/order.html", headers=AUTH, json={"pipe": "sop3", "save": True}
        ),
        400,
        "save",
    )


def test_the_route_is_documented_as_html(client, network):
    op = client.app.openapi()["paths"]["/analysis/isolate/order.html"]["post"]
    assert "text/html" in op["responses"]["200"]["content"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "IsolateRequest"
    )


def test_customers_out_are_listed_when_counted():
    summary = {
        "customers_out": 3,
        "customers_out_by_kind": {"household": 2, "hospital": 1},
        "people_out": 7,
        "customers_method": "counted from service_connections",
        "critical_customers": [
            {
                "customer_id": "c<1>",
                "name": "<script>x</script> Hospital",
                "critical_kind": "hospital",
                "pipe": "sop3",
                "role": "isolated_customer",
                "zone": None,
            }
        ],
    }
    parser = Tables()
    parser.feed(customers_section(summary))
    facts = dict(cells for _, cells in parser.tables["facts"])
    assert facts == {"customers out": "3", "people out": "7", "· hospital": "1", "· household": "2"}
    assert parser.tables["critical"][1][1] == [
        "c<1>",
        "<script>x</script> Hospital",
        "hospital",
        "sop3",
        "isolated_customer",
        "—",
    ]
    assert "<script>" not in customers_section(summary)
    method = {"customers_out": None, "customers_method": "not counted: no layer"}
    assert customers_section(method) == "<p>Customers not counted: no layer.</p>"


def test_a_break_by_pipe_id_prints_from_the_pipes_middle(client, network):
    # The whole of sop3 is out: v2 is inside, so v1, v3 and the valves past C bound it.
    _, tables = order(client, pipe="sop3")
    rows = valve_rows(tables)
    assert [r[:2] for r in rows] == [
        ("group", "Bounding the break's own segment"),
        ("", "sov3"),  # 158 m from sop3's middle (650, 0)
        ("1", "sov1"),  # 250 m
        ("2", "sov4"),  # 250 m, after sov1 by id
        ("3", "sov5"),  # 335 m
    ]
