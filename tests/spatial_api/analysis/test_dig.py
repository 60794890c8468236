"""The dig report: depths at the dig's edges, owners with contacts, nodes inside, the section.

The city is laid out in metres in the azimuthal equidistant plane about (CX, CY), where
every expected value below is worked out by hand. The dig is a 10 m (east) × 16 m
(north) rectangle about the centre; the 0.5 m tolerance zone makes it 11 × 17 m.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from pyproj import Transformer
from sqlalchemy import text

from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from tests.support.analysis import AUTH, problem

CX, CY = 121.50, 37.30
PLANE = Transformer.from_pipeline(
    "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
    f"+step +proj=aeqd +lat_0={CY} +lon_0={CX} +ellps=GRS80"
)


def lonlat(x: float, y: float) -> tuple[float, float]:
    return PLANE.transform(x, y, direction="INVERSE")


def line(*xyz: tuple[float, float, float]) -> str:
    pts = ", ".join(
        f"{lo!r} {la!r} {z!r}" for (lo, la), z in ((lonlat(x, y), z) for x, y, z in xyz)
    )
    return f"SRID=4490;LINESTRING Z ({pts})"


def dig_area() -> dict:
    corners = [lonlat(x, y) for x, y in ((-5, -8), (5, -8), (5, 8), (-5, 8), (-5, -8))]
    return {"type": "Polygon", "coordinates": [corners]}


COLUMNS = ("a", "u", "dn", "mat", "pc", "o", "ds", "de", "st", "g")
# fmt: off
PIPES = [  # id, utility, DN, material, pressure, owner, depth start/end, status, geometry
    # A sloping 3D water main that sags to z 7.0 in the middle, ground 11.0 → 10.8.
    ("W1", "water", 300, "ductile_iron", "medium", "Water Co", 1.0, 2.0, "in_service",
     line((-60, 0, 10.0), (0, 0, 7.0), (60, 0, 8.8))),
    # Only end depths (no Z): north from y −40 to y 80 at x 2.
    ("G1", "gas", 200, "pe", "low", "Ghost Gas Co", 1.0, 3.0, "in_service",
     line((2, -40, 0.0), (2, 80, 0.0))),
    # Z and no depth, no owner: −Z is the depth.
    ("D1", "drainage", 500, "concrete", "gravity", None, None, None, "in_service",
     line((-50, -3, -5.0), (50, -3, -5.0))),
    ("F1", "water", 100, "pe", "low", "Water Co", 1.0, 1.0, "in_service",  # 100 m away
     line((-50, 100, -1.0), (50, 100, -1.0))),
    ("P9", "power", 100, "copper", None, "Water Co", 1.0, 1.0, "planned",  # not laid yet
     line((-50, 1, -1.0), (50, 1, -1.0))),
]
# fmt: on
NODES = [  # id, utility, kind, valve state, depth, owner, x, y, z
    ("V1", "water", "valve", "open", 3.5, "Water Co", 2, 0, 7.3),
    ("V2", "gas", "valve", "closed", 1.2, "Ghost Gas Co", 2, 30, -1.2),
    ("WN1", "water", "junction", None, 1.0, "Water Co", -60, 0, 10.0),
    ("M1", "drainage", "manhole", None, None, None, -3, -3.4, -5.2),
]


@pytest.fixture(scope="module")
def buried(engine):
    with engine.begin() as c:
        for row in PIPES:
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, diameter_mm, material, "
                    "pressure_class, owner, depth_start_m, depth_end_m, status, from_node, "
                    "valid, geom) VALUES (:a, :u, :dn, :mat, :pc, :o, :ds, :de, :st, :fn, "
                    "tstzrange('1990-01-01', NULL), ST_GeomFromEWKT(:g))"
                ),
                dict(zip(COLUMNS, row, strict=True)) | {"fn": "WN1" if row[0] == "W1" else None},
            )
        for *row, x, y, z in NODES:
            lo, la = lonlat(x, y)
            c.execute(
                text(
                    "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valve_state, "
                    "depth_m, owner, valid, geom) VALUES (:a, :u, :k, :s, :d, :o, "
                    "tstzrange('1990-01-01', NULL), ST_SetSRID(ST_MakePoint(:x, :y, :z), 4490))"
                ),
                dict(zip("auksdo", row, strict=True)) | {"x": lo, "y": la, "z": z},
            )
        c.execute(
            text(
                "INSERT INTO city.owners (asset_id, name, utility, phone_24h, email, contact, "
                "address, valid, geom) VALUES ('O1', 'Water Co', 'water', '0532-0000-1234', "
                "'duty@water.example.org', 'Duty desk', '1 Pipe Rd', "
                "tstzrange('2000-01-01', NULL), ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
            ),
            {"x": CX, "y": CY},
        )
    yield
    with engine.begin() as c:
        for table, rows in (("pipelines", PIPES), ("pipe_nodes", NODES)):
            ids = [r[0] for r in rows]
            c.execute(text(f"DELETE FROM city.{table} WHERE asset_id = ANY(:i)"), {"i": ids})
        c.execute(text("DELETE FROM city.owners WHERE asset_id = 'O1'"))


def dig(client, headers=AUTH, **body):
    r = client.post("/analysis/dig", headers=headers, json={"area": dig_area(), **body})
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    return features[0]["properties"], {f["properties"]["asset_id"]: f for f in features[1:]}


def test_depths_where_pipes_enter_and_leave_the_dig(client, buried):
    summary, got = dig(client, depth_m=3.7)
    assert sorted(got) == ["D1", "G1", "M1", "V1", "W1"]  # F1 far, P9 planned, V2 outside
    w = got["W1"]["properties"]
    # Enters at x −5.5 (chainage 54.5 m): z 10 − 3·54.5/60 = 7.275, ground 11 − 0.2·54.5/120.
    assert w["depth_basis"] == "z"
    assert w["chainage_enter_m"] == pytest.approx(54.5, abs=0.001)
    assert w["chainage_leave_m"] == pytest.approx(65.5, abs=0.001)
    assert w["depth_enter_m"] == pytest.approx(3.634167, abs=0.002)
    # Leaves at x 5.5 (65.5 m): z 7 + 1.8·5.5/60 = 7.165, ground 10.890833.
    assert w["depth_leave_m"] == pytest.approx(3.725833, abs=0.002)
    assert w["depth_min_m"] == pytest.approx(3.634167, abs=0.002)
    assert w["depth_max_m"] == pytest.approx(3.9, abs=0.002)  # the sag at x 0, inside
    assert w["top_min_m"] == pytest.approx(3.634167 - 0.15, abs=0.002)
    assert w["at_risk"] is True
    assert (w["utility"], w["diameter_mm"], w["material"], w["pressure_class"]) == (
        "water",
        300,
        "ductile_iron",
        "medium",
    )
    x = [PLANE.transform(*c)[0] for c in got["W1"]["geometry"]["coordinates"]]
    assert x == pytest.approx([-5.5, 0.0, 5.5], abs=0.002)  # the portion inside, its sag kept
    g = got["G1"]["properties"]
    # Only end depths: 1 + 2·31.5/120 and 1 + 2·48.5/120 (the zone's edges at y ∓8.5).
    assert g["depth_basis"] == "end_depths"
    assert g["depth_enter_m"] == pytest.approx(1.525, abs=0.002)
    assert g["depth_leave_m"] == pytest.approx(1.808333, abs=0.002)
    assert (g["depth_min_m"], g["depth_max_m"]) == (g["depth_enter_m"], g["depth_leave_m"])
    d = got["D1"]["properties"]
    assert d["depth_basis"] == "z_as_depth" and d["depth_min_m"] == d["depth_max_m"] == 5.0
    assert d["at_risk"] is False  # its top at 4.75 m, below the dig's 3.7 m
    assert summary["pipes"] == 3 and summary["at_risk"] == 3  # W1, G1, V1
    assert summary["depth_bases"] == {"end_depths": 1, "z": 1, "z_as_depth": 1}


def test_owners_with_contacts_and_an_unknown_owner(client, buried):
    summary, got = dig(client)
    w = got["W1"]["properties"]
    assert (w["owner"], w["owner_known"], w["owner_phone_24h"]) == (
        "Water Co",
        True,
        "0532-0000-1234",
    )
    assert w["owner_email"] == "duty@water.example.org" and w["owner_contact"] == "Duty desk"
    g = got["G1"]["properties"]
    assert (g["owner"], g["owner_known"], g["owner_phone_24h"]) == ("Ghost Gas Co", False, None)
    assert got["D1"]["properties"]["owner_known"] is None  # no owner recorded
    assert [o["phone_24h"] for o in summary["owners"]] == ["0532-0000-1234"]
    assert summary["owners_unknown"] == ["Ghost Gas Co"]
    assert w["at_risk"] is None  # no dig depth given


def test_owners_as_of_the_same_instant(client, buried):
    summary, got = dig(client, datetime="1995-01-01T00:00:00Z")
    assert got["W1"]["properties"]["owner_known"] is False  # Water Co's row begins in 2000
    assert summary["owners_unknown"] == ["Ghost Gas Co", "Water Co"]
    _, before = dig(client, datetime="1985-01-01T00:00:00Z")
    assert before == {}


def test_nodes_and_valves_inside(client, buried):
    _, got = dig(client, depth_m=3.0)
    assert got["W1"]["properties"]["nodes_inside"] == ["V1"]
    assert got["D1"]["properties"]["nodes_inside"] == ["M1"]
    v = got["V1"]["properties"]
    assert (v["kind"], v["node_kind"], v["valve_state"], v["depth_m"]) == (
        "node",
        "valve",
        "open",
        3.5,
    )
    assert v["at_risk"] is False and v["owner_phone_24h"] == "0532-0000-1234"
    m = got["M1"]["properties"]
    assert (m["depth_basis"], m["depth_m"]) == ("z_as_depth", 5.2)


def test_the_section_along_the_longest_axis_and_along_a_drawn_line(client, buried):
    summary, _ = dig(client)
    section = summary["section"]
    assert section["line"] == "longest axis through the centroid"
    assert section["length_m"] == pytest.approx(17.0, abs=0.001)  # south to north, zone to zone
    got = [(c["asset_id"], c["distance_m"], c["depth_m"]) for c in section["crossings"]]
    assert got == [
        ("D1", pytest.approx(5.5, abs=0.002), 5.0),
        ("W1", pytest.approx(8.5, abs=0.002), pytest.approx(3.9, abs=0.002)),
    ]
    drawn = {"type": "LineString", "coordinates": [lonlat(-10, 1), lonlat(10, 1)]}
    summary, _ = dig(client, section=drawn)
    (g,) = summary["section"]["crossings"]
    assert g["asset_id"] == "G1" and g["distance_m"] == pytest.approx(12.0, abs=0.002)
    assert g["depth_m"] == pytest.approx(1 + 2 * 41 / 120, abs=0.002)


def test_a_trench_along_the_mains_is_cut_across_them(client, buried):
    """A 40 m × 7 m trench east–west over W1 and D1, which run along it: its long axis
    crosses only G1, so the section is its short axis, south to north across both."""
    corners = [lonlat(x, y) for x, y in ((-20, -5), (20, -5), (20, 2), (-20, 2), (-20, -5))]
    summary, _ = dig(client, area={"type": "Polygon", "coordinates": [corners]})
    section = summary["section"]
    assert section["line"] == "shortest axis through the centroid (more pipes cross it)"
    assert section["length_m"] == pytest.approx(8.0, abs=0.001)  # y −5.5 to 2.5, zone to zone
    got = [(c["asset_id"], c["distance_m"], c["depth_m"]) for c in section["crossings"]]
    assert got == [
        ("D1", pytest.approx(2.5, abs=0.002), 5.0),
        ("W1", pytest.approx(5.5, abs=0.002), pytest.approx(3.9, abs=0.002)),
    ]


def test_the_section_svg_names_each_crossing_pipe(client, buried):
    r = client.post(
        "/analysis/dig/section.svg", headers=AUTH, json={"area": dig_area(), "depth_m": 3.7}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/svg+xml"
    words = " ".join(
        t.text or "" for t in ET.fromstring(r.content).iter("{http://www.w3.org/2000/svg}text")
    )
    assert "W1" in words and "D1" in words and "G1" not in words  # G1 runs along the line
    assert "water DN300" in words and "dig depth 3.7 m" in words
    png = client.post("/analysis/dig/section.png", headers=AUTH, json={"area": dig_area()})
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_printable_report_holds_the_phone(client, buried):
    r = client.post(
        "/analysis/dig/report.html", headers=AUTH, json={"area": dig_area(), "depth_m": 3.7}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "0532-0000-1234" in page and "@page" in page and "<svg" in page
    assert "Ghost Gas Co" in page and "no owners row" in page and "AT RISK" in page


def test_who_may_ask(client, engine, buried):
    body = {"area": dig_area()}
    problem(client.post("/analysis/dig", json=body), 403, "restricted")
    problem(client.post("/analysis/dig/report.html", json=body), 403, "restricted")
    roles = load_roles(Catalog().values())
    planner = {"Authorization": f"Bearer {create_token(engine, roles, 'planner', 'dig-p', None)}"}
    problem(client.post("/analysis/dig", json=body, headers=planner), 403, "owners")
    crew = {"Authorization": f"Bearer {create_token(engine, roles, 'crew', 'dig-c', None)}"}
    assert client.post("/analysis/dig", json=body, headers=crew).status_code == 200


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[CX, CY], [CX + 1e-4, CY + 1e-4], [CX + 1e-4, CY], [CX, CY + 1e-4], [CX, CY]]],
}
HUGE = {
    "type": "Polygon",
    "coordinates": [[[CX, CY], [CX + 0.2, CY], [CX + 0.2, CY + 0.2], [CX, CY + 0.2], [CX, CY]]],
}


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/analysis/dig", {"area": BOWTIE}, 422, ("area", "Self-intersection")),
        ("/analysis/dig", {"area": {"type": "Point", "coordinates": [CX, CY]}}, 422, ()),
        ("/analysis/dig", {"area": HUGE}, 400, ("at most 10 km across",)),
        ("/analysis/dig", {"tolerance_m": -1}, 422, ("tolerance_m",)),
        ("/analysis/dig", {"datetime": "2020-01-01/2021-01-01"}, 400, ("instant",)),
        ("/analysis/dig", {"scenario": "nope"}, 404, ("scenario",)),
        ("/analysis/dig/report.html", {"save": True}, 400, ("save",)),
        ("/analysis/dig/section.pdf", {}, 422, ("fmt",)),
    ],
)
def test_bad_input(client, buried, path, body, status, words):
    problem(client.post(path, headers=AUTH, json={"area": dig_area()} | body), status, *words)


def test_a_scenario_pipe_shows_in_the_scenario_only(client, buried):
    made = client.post("/scenarios", headers=AUTH, json={"title": "new gas main"})
    assert made.status_code == 201, made.text
    scenario = made.json()["id"]
    pipe = {
        "type": "Feature",
        "id": "S1",
        "geometry": {
            "type": "LineString",
            "coordinates": [[*lonlat(-40, 4), -2.0], [*lonlat(40, 4), -2.0]],
        },
        "properties": {"utility": "gas", "diameter_mm": 160, "owner": "Water Co"},
    }
    r = client.post(
        "/collections/pipelines/items", params={"scenario": scenario}, headers=AUTH, json=pipe
    )
    assert r.status_code == 201, r.text
    try:
        _, live = dig(client)
        _, planned = dig(client, scenario=scenario)
        assert "S1" not in live
        s1 = planned["S1"]["properties"]
        assert (s1["depth_basis"], s1["depth_enter_m"], s1["owner_known"]) == (
            "z_as_depth",
            2.0,
            True,
        )
    finally:
        client.delete(f"/scenarios/{scenario}", headers=AUTH)


def test_the_geojson_answer_can_be_saved_as_a_result_layer(client, buried):
    r = client.post("/analysis/dig", headers=AUTH, json={"area": dig_area(), "save": True})
    assert r.status_code == 200, r.text
    items = client.get(f"{r.json()['result']['collection']}/items", headers=AUTH)
    assert items.status_code == 200, items.text
    assert {f["properties"]["asset_id"] for f in items.json()["features"][1:]} >= {"W1", "V1"}
