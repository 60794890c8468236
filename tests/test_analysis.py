"""Analysis in metres and location services, checked against independent references.

Geodesic references come from pyproj's Geod (GeographicLib); overlay areas from shapely in a
local azimuthal equidistant projection; nearest from brute force over every feature.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod, Transformer
from shapely.geometry import box, shape
from sqlalchemy import text

from citygis.settings import ServerSettings
from layers import ALL_LAYERS
from loaders import chinese_offsets
from spatial_api import create_app

TOKEN = "analysis-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GEOD = Geod(ellps="WGS84")
PROBLEM = "application/problem+json"

# Two districts side by side, a logistics park across their border, pipes in both.
D1, D2 = box(120.0, 36.0, 120.1, 36.1), box(120.1, 36.0, 120.2, 36.1)
PARK = box(120.08, 36.04, 120.12, 36.06)
PIPES = [  # asset, utility, (lon, lat) start, end
    ("P1", "water", (120.05, 36.05), (120.15, 36.05)),
    ("P2", "gas", (120.02, 36.02), (120.08, 36.02)),
    ("P3", "water", (120.12, 36.08), (120.18, 36.08)),
]
# A 3×3 road grid at 121.00–121.002 E, 36.5–36.502 N; node (i, j) = (121 + i/1000, 36.5 + j/1000).
STEP = 0.001


def node(i: int, j: int) -> tuple[float, float]:
    return (round(121 + i * STEP, 6), round(36.5 + j * STEP, 6))


ROADS = []  # asset, from node, to node, speed, oneway
for j in range(3):
    for i in range(2):
        ROADS.append((f"h{i}{j}", (i, j), (i + 1, j), 36.0, False))
for i in range(3):
    for j in range(2):
        ROADS.append((f"v{i}{j}", (i, j), (i, j + 1), 36.0, False))
ROADS = [r for r in ROADS if r[0] not in ("h10", "v00")]
ROADS += [("h10", (2, 0), (1, 0), 36.0, True),   # one way westwards only
          ("v00", (0, 0), (0, 1), 18.0, False),  # slow
          ("island", (5, 5), (6, 5), 36.0, False)]  # not connected to the grid


def seg(a, b) -> float:
    return GEOD.inv(*a, *b)[2]


def sites() -> list[tuple[str, float, float, str]]:
    rng = np.random.default_rng(7)
    pts = rng.uniform((120.3, 36.0), (120.5, 36.2), size=(60, 2))
    out = [(f"S{i:02d}", x, y, "5A" if i % 4 == 0 else "3A") for i, (x, y) in enumerate(pts)]
    # At 60°N a degree of longitude is half a degree of latitude: planar and geodesic
    # nearest disagree here, which the exact nearest must get right.
    return out + [("N_lat", 10.0, 60.015, "3A"), ("N_lon", 10.02, 60.0, "3A")]


def ewkt_line(a, b, z: str = "") -> str:
    return f"SRID=4490;LINESTRING({a[0]} {a[1]}{z}, {b[0]} {b[1]}{z})"


def ewkt_poly(p) -> str:
    return "SRID=4490;MULTIPOLYGON(" + shapely.to_wkt(p)[len("POLYGON "):] + ")"


@pytest.fixture(scope="module")
def data(engine):
    with engine.begin() as c:
        for asset, poly, name in (("D1", D1, "West"), ("D2", D2, "East")):
            c.execute(text("INSERT INTO city.districts (asset_id, name, geom) "
                           "VALUES (:a, :n, ST_GeomFromEWKT(:g))"),
                      {"a": asset, "n": name, "g": ewkt_poly(poly)})
        c.execute(text("INSERT INTO city.logistics_parks (asset_id, name, kind, geom) "
                       "VALUES ('L1', 'Port park', 'port', ST_GeomFromEWKT(:g))"),
                  {"g": ewkt_poly(PARK)})
        for asset, utility, a, b in PIPES:
            c.execute(text("INSERT INTO city.pipelines (asset_id, utility, geom) "
                           "VALUES (:a, :u, ST_GeomFromEWKT(:g))"),
                      {"a": asset, "u": utility, "g": ewkt_line(a, b, " -1.5")})
        for asset, x, y, grade in sites():
            c.execute(text("INSERT INTO city.scenic_sites (asset_id, name, grade, geom) "
                           "VALUES (:a, :a, :g, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"),
                      {"a": asset, "g": grade, "x": x, "y": y})
        # A site that closed in 2020: gone now, there as of 2019.
        c.execute(text("INSERT INTO city.scenic_sites (asset_id, name, valid, geom) VALUES "
                       "('OLD', 'old', tstzrange('2000-01-01', '2020-01-01'), "
                       "ST_SetSRID(ST_MakePoint(120.09, 36.05), 4490))"))
        for asset, a, b, speed, oneway in ROADS:
            c.execute(text("INSERT INTO city.roads (asset_id, road_class, speed_kmh, oneway, "
                           "geom) VALUES (:a, 'residential', :s, :o, ST_GeomFromEWKT(:g))"),
                      {"a": asset, "s": speed, "o": oneway, "g": ewkt_line(node(*a), node(*b))})
        c.execute(text("INSERT INTO city.roads (asset_id, road_class, geom) VALUES "
                       "('R_QD', 'primary', ST_GeomFromEWKT(:g))"),
                  {"g": ewkt_line((120.09, 36.049), (120.09, 36.03))})
    yield
    tables = ", ".join(f"city.{spec.id}" for spec in ALL_LAYERS)
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables}, city.results CASCADE"))


@pytest.fixture(scope="module")
def client(db_url, data):
    with TestClient(create_app(db_url, ServerSettings(restricted_tokens=TOKEN),
                               pool_size=2)) as c:
        yield c


def problem(r, status: int, *words: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status
    for w in words:
        assert w in body["detail"], body["detail"]
    return body


def geodesic_circle_area(lon: float, lat: float, d: float) -> float:
    az = np.linspace(0, 360, 4097)[:-1]
    lons, lats, _ = GEOD.fwd(np.full_like(az, lon), np.full_like(az, lat), az,
                             np.full_like(az, d))
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0])


# -- buffer ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("lon", "lat"), [(120.32, 36.06), (10.0, 0.5), (30.0, 60.0),
                                          (0.0, -70.0)])
@pytest.mark.parametrize("d", [50.0, 5_000.0, 500_000.0])
def test_buffer_area_matches_geodesic_circle(client, lon, lat, d):
    r = client.post("/analysis/buffer", json={
        "geometry": {"type": "Point", "coordinates": [lon, lat]}, "distance_m": d})
    assert r.status_code == 200, r.text
    body = r.json()
    ref = geodesic_circle_area(lon, lat, d)
    area = body["features"][0]["properties"]["area_m2"]
    assert abs(area - ref) / ref < 0.005
    assert abs(area - ref) / ref < 0.001  # measured -0.04 %
    assert "azimuthal equidistant" in body["method"]["buffer"]
    assert body["crs"] == "CRS84"
    # The boundary really is d metres from the centre, in every direction.
    ring = np.array(body["features"][0]["geometry"]["coordinates"][0])
    dist = GEOD.inv(np.full(len(ring), lon), np.full(len(ring), lat), ring[:, 0], ring[:, 1])[2]
    assert np.allclose(dist, d, rtol=1e-4)


def test_buffer_layer_features_dissolved_and_filtered(client):
    r = client.post("/analysis/buffer", headers=AUTH, json={
        "layer": "pipelines", "filter": {"utility": "water"}, "distance_m": 100})
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert sorted(f["properties"]["asset_id"] for f in feats) == ["P1", "P3"]
    for f in feats:
        _, utility, a, b = next(p for p in PIPES if p[0] == f["properties"]["asset_id"])
        capsule = 2 * 100 * seg(a, b) + math.pi * 100 ** 2
        assert f["properties"]["area_m2"] == pytest.approx(capsule, rel=0.003)
    r = client.post("/analysis/buffer", headers=AUTH, json={
        "layer": "pipelines", "distance_m": 100, "dissolve": True})
    assert [f["properties"]["count"] for f in r.json()["features"]] == [3]


def test_buffer_in_projected_crs_and_out_crs(client):
    to_4549 = Transformer.from_crs(4326, 4549, always_xy=True)
    x, y = to_4549.transform(120.32, 36.06)
    r = client.post("/analysis/buffer", json={
        "geometry": {"type": "Point", "coordinates": [x, y]}, "crs": "EPSG:4549",
        "distance_m": 1000, "out_crs": "EPSG:4549"})
    body = r.json()
    assert body["crs"] == "EPSG:4549"
    ring = shape(body["features"][0]["geometry"])
    assert ring.centroid.distance(shapely.Point(x, y)) < 0.5
    assert ring.area == pytest.approx(math.pi * 1000 ** 2, rel=0.002)  # GK scale ≈ 1 here


# -- overlay --------------------------------------------------------------------------------

def local_area(geom) -> float:
    c = geom.centroid
    t = Transformer.from_crs(4326, f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84",
                             always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(*xy.T))).area


def test_overlay_intersection_areas_and_attributes(client):
    r = client.post("/analysis/overlay", json={
        "operation": "intersection", "a": {"layer": "logistics_parks"},
        "b": {"layer": "districts"}})
    assert r.status_code == 200, r.text
    got = {f["properties"]["b_name"]: f["properties"] for f in r.json()["features"]}
    assert set(got) == {"West", "East"}
    for name, district in (("West", D1), ("East", D2)):
        ref = local_area(PARK.intersection(district))
        assert got[name]["area_m2"] == pytest.approx(ref, rel=1e-3)
        assert got[name]["a_name"] == "Port park" and got[name]["a_kind"] == "port"
        assert got[name]["b_asset_id"] in ("D1", "D2")


def test_overlay_difference_and_union_with_geometry(client):
    west_half = box(120.0, 36.0, 120.09, 36.1)
    b = {"geometry": shapely.geometry.mapping(west_half)}
    r = client.post("/analysis/overlay", json={
        "operation": "difference", "a": {"layer": "logistics_parks"}, "b": b})
    [f] = r.json()["features"]
    assert f["properties"]["area_m2"] == pytest.approx(
        local_area(PARK.difference(west_half)), rel=1e-3)
    r = client.post("/analysis/overlay", json={
        "operation": "union", "a": {"layer": "logistics_parks"}, "b": b})
    total = sum(f["properties"]["area_m2"] for f in r.json()["features"])
    assert total == pytest.approx(local_area(PARK.union(west_half)), rel=1e-3)


def test_overlay_pipe_length_by_utility_per_district(client):
    r = client.post("/analysis/overlay", headers=AUTH, json={
        "operation": "intersection", "a": {"layer": "pipelines"}, "b": {"layer": "districts"},
        "group_by": ["b_name", "a_utility"]})
    assert r.status_code == 200, r.text
    got = {(f["properties"]["b_name"], f["properties"]["a_utility"]): f["properties"]
           for f in r.json()["features"]}
    expected = {
        ("West", "gas"): seg((120.02, 36.02), (120.08, 36.02)),
        ("West", "water"): seg((120.05, 36.05), (120.1, 36.05)),
        ("East", "water"): seg((120.1, 36.05), (120.15, 36.05)) +
        seg((120.12, 36.08), (120.18, 36.08)),
    }
    assert set(got) == set(expected)
    for key, length in expected.items():
        assert got[key]["length_m"] == pytest.approx(length, abs=0.01)
    assert got[("East", "water")]["count"] == 2


# -- location services ----------------------------------------------------------------------

def brute_nearest(lon, lat, k, grade=None):
    cands = [(GEOD.inv(lon, lat, x, y)[2], a) for a, x, y, g in sites()
             if grade is None or g == grade]
    return sorted(cands)[:k]


@pytest.mark.parametrize(("lon", "lat", "k"), [(120.4, 36.1, 1), (120.4, 36.1, 5),
                                               (120.31, 36.19, 12), (10.0, 60.0, 1)])
def test_nearest_matches_brute_force(client, lon, lat, k):
    r = client.get("/lbs/nearest", params={"layer": "scenic_sites", "lon": lon, "lat": lat,
                                           "k": k})
    assert r.status_code == 200, r.text
    got = [(f["properties"]["distance_m"], f["id"]) for f in r.json()["features"]]
    ref = brute_nearest(lon, lat, k)
    assert [a for _, a in got] == [a for _, a in ref]
    assert np.allclose([d for d, _ in got], [d for d, _ in ref], atol=0.001)


def test_nearest_with_filter_radius_and_datetime(client):
    r = client.post("/lbs/nearest", json={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1,
                                          "k": 3, "filter": {"grade": "5A"}})
    assert [f["id"] for f in r.json()["features"]] == \
        [a for _, a in brute_nearest(120.4, 36.1, 3, "5A")]
    r = client.get("/lbs/nearest", params={"layer": "scenic_sites", "lon": 120.09,
                                           "lat": 36.05, "k": 1, "max_distance_m": 10})
    assert r.json()["features"] == []
    r = client.get("/lbs/nearest", params={"layer": "scenic_sites", "lon": 120.09,
                                           "lat": 36.05, "k": 1, "datetime": "2019-06-01"})
    assert [f["id"] for f in r.json()["features"]] == ["OLD"]


def test_gcj02_point_finds_the_same_nearest(client):
    lon, lat = 120.4, 36.1
    glon, glat = chinese_offsets.wgs84_to_gcj02(lon, lat)
    assert GEOD.inv(lon, lat, float(glon), float(glat))[2] > 100  # the shift is real
    q = {"layer": "scenic_sites", "k": 3}
    wgs = client.get("/lbs/nearest", params=q | {"lon": lon, "lat": lat}).json()["features"]
    gcj = client.get("/lbs/nearest", params=q | {"lon": float(glon), "lat": float(glat),
                                                 "crs": "gcj02"}).json()["features"]
    assert [f["id"] for f in gcj] == [f["id"] for f in wgs]
    assert np.allclose([f["properties"]["distance_m"] for f in gcj],
                       [f["properties"]["distance_m"] for f in wgs], atol=0.01)


def test_within_counts(client):
    d = 5000
    expected = [a for dist, a in brute_nearest(120.4, 36.1, 100) if dist <= d]
    r = client.get("/lbs/within", params={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1,
                                          "distance_m": d, "limit": 2})
    body = r.json()
    assert body["number_matched"] == len(expected) > 2
    assert [f["id"] for f in body["features"]] == expected[:2]


def test_reverse_lookup(client):
    r = client.get("/lbs/reverse", params={"lon": 120.091, "lat": 36.05})
    assert r.status_code == 200, r.text
    roles = {f["properties"]["role"]: f for f in r.json()["features"]}
    assert set(roles) == {"district", "logistics_park", "nearest_road"}
    assert roles["district"]["properties"]["name"] == "West"
    assert roles["logistics_park"]["properties"]["name"] == "Port park"
    assert roles["nearest_road"]["id"] == "R_QD"
    ref = GEOD.inv(120.091, 36.05, 120.09, 36.049)[2]  # the road's end is its nearest point
    assert roles["nearest_road"]["properties"]["distance_m"] == pytest.approx(ref, abs=0.001)
    # In 2019 the closed site was open, and nothing else existed yet.
    r = client.get("/lbs/reverse", params={"lon": 120.091, "lat": 36.05,
                                           "datetime": "2019-06-01"})
    assert [(f["properties"]["role"], f["id"]) for f in r.json()["features"]] == \
        [("scenic_site", "OLD")]


# -- routing --------------------------------------------------------------------------------

def route(client, a, b, **kw):
    return client.post("/lbs/route", json={"from": list(node(*a)), "to": list(node(*b))} | kw)


def test_route_respects_oneway_and_speed(client):
    r = route(client, (0, 0), (2, 0))
    assert r.status_code == 200, r.text
    [f] = r.json()["features"]
    path = [(0, 0), (1, 0), (1, 1), (2, 1), (2, 0)]  # h10 is one way westwards; v00 is slow
    assert [tuple(round(c, 6) for c in xy) for xy in f["geometry"]["coordinates"]] == \
        [node(*n) for n in path]
    length = sum(seg(node(*a), node(*b)) for a, b in zip(path, path[1:], strict=False))
    assert f["properties"]["length_m"] == pytest.approx(length, abs=0.01)
    assert f["properties"]["duration_s"] == pytest.approx(length / 10, abs=0.01)
    assert f["properties"]["roads"] == ["h00", "v10", "h11", "v20"]
    back = route(client, (2, 0), (0, 0)).json()["features"][0]
    assert back["properties"]["roads"] == ["h10", "h00"]


def along(a, b, f: float, south_m: float = 0.0) -> tuple[float, float]:
    """The point a fraction f from node a to node b, moved south_m metres south."""
    (x0, y0), (x1, y1) = node(*a), node(*b)
    return (x0 + f * (x1 - x0), y0 + f * (y1 - y0) - south_m / 110_950)


def test_route_starts_and_ends_on_the_road_not_at_the_nearest_node(client):
    start = along((0, 1), (1, 1), 0.5, south_m=5)  # beside the middle of h01
    r = client.post("/lbs/route", json={"from": start, "to": list(node(2, 1))})
    assert r.status_code == 200, r.text
    f = r.json()["features"][0]
    mid = along((0, 1), (1, 1), 0.5)
    assert f["geometry"]["coordinates"][0] == pytest.approx(list(mid), abs=1e-7)
    assert f["properties"]["roads"] == ["h01", "h11"]
    length = seg(mid, node(1, 1)) + seg(node(1, 1), node(2, 1))
    assert f["properties"]["length_m"] == pytest.approx(length, abs=0.01)
    assert f["properties"]["duration_s"] == pytest.approx(length / 10, abs=0.01)
    assert f["properties"]["snap_from_m"] == pytest.approx(5, abs=0.05)

    # Both ends on one edge: only the stretch between them is driven.
    a, b = along((0, 1), (1, 1), 0.25), along((0, 1), (1, 1), 0.75)
    same = client.post("/lbs/route", json={"from": a, "to": b}).json()["features"][0]
    assert same["properties"]["roads"] == ["h01"]
    assert same["properties"]["length_m"] == pytest.approx(seg(a, b), abs=0.01)

    # h10 runs one way, westwards: from its middle west is direct, east goes round.
    mid10 = along((2, 0), (1, 0), 0.5)
    west = client.post("/lbs/route", json={"from": mid10, "to": list(node(1, 0))}).json()
    assert west["features"][0]["properties"]["roads"] == ["h10"]
    east = client.post("/lbs/route", json={"from": mid10, "to": list(node(2, 0))}).json()
    assert east["features"][0]["properties"]["roads"] == ["h10", "v10", "h11", "v20"]


@pytest.mark.parametrize("budget", [{"distance_m": 150}, {"time_s": 15}])
def test_isochrone_contains_exactly_the_reachable_nodes(client, budget):
    r = client.post("/lbs/isochrone", json={"from": list(node(0, 0)), "include_nodes": True}
                    | budget)
    assert r.status_code == 200, r.text
    area, *nodes = r.json()["features"]
    reached = {tuple(round(c, 6) for c in f["geometry"]["coordinates"]) for f in nodes}
    expected = {node(0, 0), node(1, 0), node(0, 1)} if "distance_m" in budget else \
        {node(0, 0), node(1, 0)}
    assert reached == expected
    polygon = shape(area["geometry"])
    grid = {node(i, j) for i in range(3) for j in range(3)}
    assert {n for n in grid if polygon.contains(shapely.Point(n))} == expected
    assert area["properties"]["area_m2"] > 0


def test_no_route_is_a_404_with_a_reason(client):
    problem(route(client, (0, 0), (5, 5)), 404, "not connected")
    far = client.post("/lbs/route", json={"from": [121.5, 36.9], "to": list(node(0, 0))})
    problem(far, 404, "no road within 500 m of from")
    problem(route(client, (0, 0), (0, 0)), 404, "at the same point")
    problem(route(client, (0, 0), (2, 0), datetime="1990-01-01"), 404, "no segments")
    problem(route(client, (0, 0), (2, 0), datetime="2020-01-01/2021-01-01"), 400, "instant")


# -- valve isolation ----------------------------------------------------------------------------

# N1 -p1- N2(open) -p2- N3 -p3- N4(broken) -p4- N5 -p5- N6(open) ; N3 -p6- N7(closed) -p7- N8
# and a gas pipe g1 from N3: another network, never crossed.
NET_NODES = {"N1": None, "N2": "open", "N3": None, "N4": "broken", "N5": None, "N6": "open",
             "N7": "closed", "N8": None}
NET_PIPES = [("p1", "N1", "N2"), ("p2", "N2", "N3"), ("p3", "N3", "N4"), ("p4", "N4", "N5"),
             ("p5", "N5", "N6"), ("p6", "N3", "N7"), ("p7", "N7", "N8")]


def net_xy(n: str) -> tuple[float, float]:
    i = int(n[1:])
    return (122.0 + 0.001 * min(i, 6), 37.0) if i <= 6 else (122.002, 37.0 - 0.001 * (i - 6))


@pytest.fixture
def network(engine):
    with engine.begin() as c:
        for n, state in NET_NODES.items():
            c.execute(text(
                "INSERT INTO city.pipe_nodes (asset_id, utility, node_kind, valve_state, geom) "
                "VALUES (:a, 'water', :k, :s, ST_SetSRID(ST_MakePoint(:x, :y, -1.5), 4490))"),
                {"a": n, "k": "valve" if state else "junction", "s": state,
                 "x": net_xy(n)[0], "y": net_xy(n)[1]})
        for asset, a, b, utility in [*(p + ("water",) for p in NET_PIPES),
                                     ("g1", "N3", "N9", "gas")]:
            (x0, y0), (x1, y1) = net_xy(a), net_xy(b if b != "N9" else "N1")
            c.execute(text("INSERT INTO city.pipelines (asset_id, utility, from_node, to_node, "
                           "geom) VALUES (:a, :u, :f, :t, ST_GeomFromEWKT(:g))"),
                      {"a": asset, "u": utility, "f": a, "t": b,
                       "g": ewkt_line((x0, y0), (x1, y1 - 0.0001), " -1.5")})
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id ~ '^[pg][0-9]$'"))
        c.execute(text("DELETE FROM city.pipe_nodes WHERE asset_id ~ '^N[0-9]$'"))


def test_isolating_a_break_closes_the_nearest_operable_valves(client, network):
    r = client.post("/analysis/isolate", headers=AUTH, json={"pipe": "p3"})
    assert r.status_code == 200, r.text
    summary, *rest = r.json()["features"]
    roles = {f["properties"]["asset_id"]: f["properties"]["role"] for f in rest}
    assert {a for a, role in roles.items() if role == "close"} == {"N2", "N6"}
    assert {a for a, role in roles.items() if role == "already_closed"} == {"N7"}
    assert {a for a, role in roles.items() if role == "broken_passed"} == {"N4"}
    pipes = {a for a, role in roles.items() if role == "isolated_pipe"}
    assert pipes == {"p2", "p3", "p4", "p5", "p6"}  # not p1, p7 (beyond valves), not gas g1
    lengths = {f["properties"]["asset_id"]: f["properties"]["length_m"] for f in rest
               if f["properties"]["role"] == "isolated_pipe"}
    assert summary["properties"]["isolated_length_m"] == pytest.approx(sum(lengths.values()))
    assert summary["properties"] | {"isolated_length_m": 0} == {
        "role": "summary", "broken_pipe": "p3", "utility": "water", "valves_to_close": 2,
        "isolated_pipes": 5, "isolated_length_m": 0, "complete": True}
    # A point beside p5 finds p5: the same section, bounded by the same valves.
    x, y = net_xy("N5")
    near = client.post("/analysis/isolate", headers=AUTH,
                       json={"point": [x + 0.0005, y + 0.0001]}).json()["features"]
    assert near[0]["properties"]["broken_pipe"] == "p5"
    assert {f["properties"]["asset_id"] for f in near[1:]
            if f["properties"]["role"] == "close"} == {"N2", "N6"}
    # A search radius that stops inside the section says it is incomplete.
    small = client.post("/analysis/isolate", headers=AUTH,
                        json={"pipe": "p3", "max_radius_m": 60}).json()["features"]
    assert small[0]["properties"]["complete"] is False


def test_isolation_errors(client, network):
    problem(client.post("/analysis/isolate", json={"pipe": "p3"}), 403, "restricted")
    problem(client.post("/analysis/isolate", headers=AUTH, json={"pipe": "nope"}), 404,
            "no pipe 'nope'")
    problem(client.post("/analysis/isolate", headers=AUTH, json={"point": [100.0, 10.0]}),
            404, "no pipe")
    r = client.post("/analysis/isolate", headers=AUTH, json={"pipe": "p3", "point": [1, 2]})
    assert r.status_code == 422
    problem(client.post("/analysis/isolate", headers=AUTH,
                        json={"pipe": "p3", "max_radius_m": 10**6}), 400, "max_radius_m")


# -- clearances ---------------------------------------------------------------------------------

CX, CY = 122.10, 37.10
M_LAT = 1 / 110_960  # degrees of latitude per metre, near 37°N


@pytest.fixture
def buried(engine):
    """W1 (water, DN300, z −1.5); G1 (gas, DN200, z −1.2) 0.8 m north of it; D1 (drainage,
    DN400, z −1.9) crossing both; F1 far away."""
    # Short pipes (180 m), so a straight pipe and a parallel of latitude differ by < 1 mm.
    w, e = CX + 0.004, CX + 0.006
    pipes = [("W1", "water", 300, (w, CY), (e, CY), -1.5),
             ("G1", "gas", 200, (w, CY + 0.8 * M_LAT), (e, CY + 0.8 * M_LAT), -1.2),
             ("D1", "drainage", 400, (CX + 0.005, CY - 0.001), (CX + 0.005, CY + 0.001), -1.9),
             ("F1", "water", 100, (w, CY + 0.001), (e, CY + 0.001), -1.0)]
    with engine.begin() as c:
        for asset, utility, d, a, b, z in pipes:
            c.execute(text("INSERT INTO city.pipelines (asset_id, utility, diameter_mm, geom) "
                           "VALUES (:a, :u, :d, ST_GeomFromEWKT(:g))"),
                      {"a": asset, "u": utility, "d": d, "g": ewkt_line(a, b, f" {z}")})
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.pipelines WHERE asset_id IN ('W1','G1','D1','F1')"))


def test_clearances_in_a_dig_side_by_side_and_crossing(client, buried):
    area = box(CX + 0.004, CY - 0.0005, CX + 0.006, CY + 0.0005)
    r = client.post("/analysis/clearance", headers=AUTH, json={
        "area": shapely.geometry.mapping(area)})
    assert r.status_code == 200, r.text
    got = {(f["properties"]["a"], f["properties"]["b"]): f["properties"]
           for f in r.json()["features"]}
    assert list(got) == [("D1", "G1"), ("D1", "W1"), ("G1", "W1")]
    side = got[("G1", "W1")]
    gap = seg((CX, CY), (CX, CY + 0.8 * M_LAT))
    assert not side["crossing"]
    assert side["horizontal_m"] == pytest.approx(gap - 0.25, abs=0.002)
    assert side["vertical_m"] == pytest.approx(0.3 - 0.25, abs=1e-6)
    assert side["required_m"] == 0.5 and side["violation"] is False  # 0.55 m ≥ 0.5 m
    cross = got[("D1", "W1")]
    assert cross["crossing"] and cross["horizontal_m"] < 0
    assert cross["vertical_m"] == pytest.approx(0.4 - 0.35, abs=1e-6)
    assert cross["required_m"] == 0.15 and cross["violation"] is True  # 0.05 m < 0.15 m
    assert got[("D1", "G1")]["vertical_m"] == pytest.approx(0.7 - 0.3, abs=1e-6)
    assert got[("D1", "G1")]["violation"] is False
    strict = client.post("/analysis/clearance", headers=AUTH, json={
        "area": shapely.geometry.mapping(area), "min_horizontal_m": 0.6}).json()
    assert [f["properties"]["violation"] for f in strict["features"]] == [False, True, True]


def test_a_planned_pipe_is_checked_against_what_is_buried(client, buried):
    south = CY - 0.3 * M_LAT
    r = client.post("/analysis/clearance", headers=AUTH, json={"planned": {
        "geometry": {"type": "LineString", "coordinates": [[CX + 0.0045, south],
                                                           [CX + 0.0055, south]]},
        "z_m": -1.45, "diameter_mm": 100, "utility": "power"}})
    assert r.status_code == 200, r.text
    got = {f["properties"]["b"]: f["properties"] for f in r.json()["features"]}
    assert set(got) == {"W1", "G1", "D1"}  # F1 is 110 m away
    assert got["W1"]["horizontal_m"] == pytest.approx(
        seg((CX, CY), (CX, south)) - 0.2, abs=0.002)
    assert got["W1"]["violation"] is True and got["G1"]["violation"] is False
    assert got["D1"]["crossing"] and got["D1"]["vertical_m"] == pytest.approx(0.2, abs=1e-6)
    assert got["D1"]["violation"] is False
    assert {f["properties"]["a"] for f in r.json()["features"]} == {"(planned)"}


def test_clearance_errors(client, buried):
    area = shapely.geometry.mapping(box(CX, CY, CX + 0.001, CY + 0.001))
    problem(client.post("/analysis/clearance", json={"area": area}), 403, "restricted")
    problem(client.post("/analysis/clearance", headers=AUTH,
                        json={"area": {"type": "Point", "coordinates": [CX, CY]}}), 400, "area")
    problem(client.post("/analysis/clearance", headers=AUTH,
                        json={"area": area, "search_m": 500}), 400, "search_m")
    assert client.post("/analysis/clearance", headers=AUTH, json={}).status_code == 422


# -- sector coverage --------------------------------------------------------------------------

SECTORS = [  # asset, operator, technology, lon, lat, azimuth, beamwidth
    ("S1", "china_mobile", "lte", 120.05, 36.05, 90.0, 60.0),
    ("S2", "china_mobile", "nr", 120.05, 36.05, 270.0, 60.0),
    ("S3", "china_unicom", "lte", 120.15, 36.05, None, None),   # omnidirectional
    ("S4", "china_telecom", "lte", 120.10, 36.03, 0.0, 360.0),  # on the D1|D2 border
]
R = 1000.0


def wedge_area(r: float, bw: float) -> float:
    """The inscribed polygon's area: 32 arc steps for a wedge, 128 for a full circle."""
    n, angle = (128, 2 * math.pi) if bw >= 360 else (32, math.radians(bw))
    return n * 0.5 * r * r * math.sin(angle / n)


@pytest.fixture
def sectors(engine):
    with engine.begin() as c:
        for asset, op, tech, lon, lat, az, bw in SECTORS:
            c.execute(text(
                "INSERT INTO city.sectors (asset_id, site_id, operator, technology, azimuth_deg,"
                " beamwidth_deg, geom) VALUES (:a, 'SITE', :op, :t, :az, :bw, "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"),
                {"a": asset, "op": op, "t": tech, "az": az, "bw": bw, "x": lon, "y": lat})
        c.execute(text(  # dismantled in 2015: coverage now must not include it
            "INSERT INTO city.sectors (asset_id, site_id, operator, technology, valid, geom) "
            "VALUES ('OLD', 'SITE', 'china_mobile', 'gsm', tstzrange('2000-01-01', "
            "'2015-01-01'), ST_SetSRID(ST_MakePoint(120.05, 36.05), 4490))"))
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.sectors"))


def test_coverage_wedges_point_the_right_way_with_true_radii(client, sectors):
    r = client.post("/analysis/coverage", json={"radius_m": R,
                                                "radius_by_technology": {"nr": 500}})
    assert r.status_code == 200, r.text
    got = {f["properties"]["asset_id"]: f for f in r.json()["features"]}
    assert set(got) == {"S1", "S2", "S3", "S4"}
    radii = {"S1": R, "S2": 500.0, "S3": R, "S4": R}
    for asset, _, _, lon, lat, _, bw in SECTORS:
        area = got[asset]["properties"]["area_m2"]
        assert area == pytest.approx(wedge_area(radii[asset], bw or 360), rel=2e-3), asset
        ring = shape(got[asset]["geometry"]).exterior.coords
        far = max(seg((lon, lat), p) for p in ring)
        assert far == pytest.approx(radii[asset], abs=0.05), asset  # metres on the spheroid
    assert shape(got["S1"]["geometry"]).centroid.x > 120.05  # azimuth 90°: east
    assert shape(got["S2"]["geometry"]).centroid.x < 120.05  # azimuth 270°: west
    past = client.post("/analysis/coverage", json={"datetime": "2010-06-01"}).json()
    assert [f["properties"]["asset_id"] for f in past["features"]] == ["OLD"]


def test_coverage_overlaid_with_districts_gives_area_per_operator(client, sectors):
    r = client.post("/analysis/overlay", json={
        "operation": "intersection", "group_by": ["a_operator", "b_name"],
        "a": {"coverage": {"radius_m": R, "dissolve_by": "operator"}},
        "b": {"layer": "districts"}})
    assert r.status_code == 200, r.text
    area = {(f["properties"]["a_operator"], f["properties"]["b_name"]):
            f["properties"]["area_m2"] for f in r.json()["features"]}
    wedge, disc = wedge_area(R, 60), wedge_area(R, 360)
    assert set(area) == {("china_mobile", "West"), ("china_telecom", "East"),
                         ("china_telecom", "West"), ("china_unicom", "East")}
    assert area[("china_mobile", "West")] == pytest.approx(2 * wedge, rel=2e-3)
    assert area[("china_unicom", "East")] == pytest.approx(disc, rel=2e-3)
    # The border sector's disc is cut in two halves, one per district.
    assert area[("china_telecom", "West")] == pytest.approx(disc / 2, rel=5e-3)
    assert area[("china_telecom", "East")] == pytest.approx(disc / 2, rel=5e-3)

    gaps = client.post("/analysis/overlay", json={
        "operation": "difference", "a": {"layer": "districts", "filter": {"name": "West"}},
        "b": {"coverage": {"radius_m": R, "dissolve_by": "all"}}}).json()["features"]
    west = GEOD.geometry_area_perimeter(D1)[0]
    covered = 2 * wedge + disc / 2
    assert gaps[0]["properties"]["area_m2"] == pytest.approx(west - covered, rel=1e-4)


@pytest.mark.parametrize(("body", "status", "word"), [
    ({"radius_m": 0}, 400, "radius_m"),
    ({"radius_m": 60_000}, 400, "radius_m"),
    ({"radius_by_technology": {"nr": -5}}, 400, "radius_by_technology.nr"),
    ({"radius_by_technology": {"6g": 5}}, 422, "radius_by_technology"),
    ({"dissolve_by": "colour"}, 422, "dissolve_by"),
    ({"filter": {"operator": 3}}, 400, "operator"),
])
def test_bad_coverage_requests_are_4xx(client, body, status, word):
    r = client.post("/analysis/coverage", json=body)
    assert r.status_code == status, r.text
    assert word in r.text


# -- result layers --------------------------------------------------------------------------

def test_saved_results_list_get_and_expire(client, engine):
    r = client.post("/analysis/buffer", json={
        "geometry": {"type": "Point", "coordinates": [120.3, 36.0]}, "distance_m": 100,
        "save": True, "ttl_s": 600})
    ref = r.json()["result"]
    assert ref["href"] == f"/results/{ref['id']}"
    assert ref["id"] in [x["id"] for x in client.get("/results").json()]
    got = client.get(ref["href"]).json()
    assert got["features"][0]["properties"]["area_m2"] == \
        r.json()["features"][0]["properties"]["area_m2"]
    assert shape(got["features"][0]["geometry"]).equals_exact(
        shape(r.json()["features"][0]["geometry"]), 1e-8)
    with engine.begin() as c:
        c.execute(text("UPDATE city.results SET expires_at = now() - interval '1 s' "
                       "WHERE id = :id"), {"id": ref["id"]})
    problem(client.get(ref["href"]), 404, "expired")
    assert ref["id"] not in [x["id"] for x in client.get("/results").json()]


def test_results_from_restricted_layers_stay_restricted(client):
    r = client.post("/analysis/buffer", headers=AUTH, json={
        "layer": "pipelines", "distance_m": 10, "save": True})
    href = r.json()["result"]["href"]
    problem(client.get(href), 404, "restricted")
    assert client.get(href, params={"token": TOKEN}).status_code == 200
    got = client.get(href, headers=AUTH).json()
    assert got["number_returned"] == 3, (r.json()["number_returned"], got)


def test_a_saved_result_is_an_ogc_collection_with_items_and_tiles(client):
    import mapbox_vector_tile
    import morecantile
    r = client.post("/lbs/within", json={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1,
                                         "distance_m": 5000, "save": True})
    want = {f["id"]: f for f in r.json()["features"]}
    ref = r.json()["result"]
    cid = f"result-{ref['id']}"
    assert ref["collection"] == f"/collections/{cid}"
    listed = {c["id"]: c for c in client.get("/collections").json()["collections"]}
    assert cid in listed and "districts" in listed
    meta = client.get(ref["collection"]).json()
    assert meta["id"] == cid and meta["title"] == "Result: within"
    lon0, lat0, lon1, lat1 = meta["extent"]["spatial"]["bbox"][0]
    xs = [f["geometry"]["coordinates"][0] for f in want.values()]
    assert (lon0, lon1) == pytest.approx((min(xs), max(xs)), abs=1e-9)

    # Paged, in feature order, with next links until the last page.
    n = len(want)
    assert n > 4
    page = client.get(f"{ref['collection']}/items", params={"limit": 4}).json()
    assert page["numberMatched"] == n and page["numberReturned"] == 4
    assert [f["id"] for f in page["features"]] == [1, 2, 3, 4]
    assert any(link["rel"] == "next" for link in page["links"])
    rest = client.get(f"{ref['collection']}/items", params={"limit": 100, "offset": 4}).json()
    assert rest["numberReturned"] == n - 4
    assert not any(link["rel"] == "next" for link in rest["links"])
    got = [f["properties"]["name"] for f in page["features"] + rest["features"]]
    assert got == [f["properties"]["name"] for f in want.values()]  # nearest first, kept

    # bbox and CRS: EPSG:4549 metres out, and a GCJ-02 feature ~500 m from WGS 84.
    one = client.get(f"{ref['collection']}/items/1").json()
    x, y = one["geometry"]["coordinates"]
    small = client.get(f"{ref['collection']}/items",
                       params={"bbox": f"{x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}"}).json()
    assert [f["id"] for f in small["features"]] == [1]
    gk = client.get(f"{ref['collection']}/items/1", params={"crs": "EPSG:4549"})
    assert gk.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4549>"
    e, nn = Transformer.from_crs(4490, 4549, always_xy=True).transform(x, y)
    assert gk.json()["geometry"]["coordinates"] == pytest.approx([e, nn], abs=0.01)
    gcj = client.get(f"{ref['collection']}/items/1", params={"crs": "gcj02"}).json()
    assert 300 < seg((x, y), gcj["geometry"]["coordinates"]) < 700

    # Vector tiles: the feature is in its z15 tile with the result's properties.
    tile = morecantile.tms.get("WebMercatorQuad").tile(x, y, 15)
    t = client.get(f"{ref['collection']}/tiles/WebMercatorQuad/15/{tile.y}/{tile.x}")
    assert t.status_code == 200
    assert t.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = mapbox_vector_tile.decode(t.content)[cid]
    props = {f["id"]: f["properties"] for f in layer["features"]}
    assert props[1]["name"] == one["properties"]["name"]
    assert props[1]["distance_m"] == pytest.approx(one["properties"]["distance_m"])
    assert client.get(t.request.url, headers={"If-None-Match": t.headers["etag"]}
                      ).status_code == 304
    empty = client.get(f"{ref['collection']}/tiles/WebMercatorQuad/15/0/0")
    assert empty.status_code == 204
    # On a GCJ-02 basemap the feature sits where the basemap has it (~500 m away).
    wmq = morecantile.tms.get("WebMercatorQuad")
    glon, glat = (float(v) for v in chinese_offsets.wgs84_to_gcj02(x, y))
    gt = wmq.tile(glon, glat, 17)
    shifted = client.get(f"{ref['collection']}/tiles/WebMercatorQuad/17/{gt.y}/{gt.x}",
                         params={"shift": "gcj02"})
    b = wmq.xy_bounds(gt)
    gx, gy = wmq.xy(glon, glat)
    [moved] = [f for f in mapbox_vector_tile.decode(shifted.content)[cid]["features"]
               if f["id"] == 1]
    mx, my = moved["geometry"]["coordinates"]
    # Within 1.5 tile units (11 cm at z17, a tenth of a pixel): grid rounding and the fit.
    assert abs(mx - (gx - b.left) / (b.right - b.left) * 4096) <= 1.5
    assert abs(my - (gy - b.bottom) / (b.top - b.bottom) * 4096) <= 1.5

    problem(client.get(f"{ref['collection']}/items/{n + 1}"), 404, "no feature")
    problem(client.get(f"{ref['collection']}/items", params={"datetime": "2020-01-01"}),
            400, "datetime")
    problem(client.get(f"{ref['collection']}/items", params={"limit": 0}), 400, "limit")
    problem(client.get("/collections/result-not-a-uuid/items"), 404, "result-not-a-uuid")
    problem(client.get("/collections/result-00000000-0000-0000-0000-000000000000"), 404,
            "no live result")


def test_a_restricted_result_collection_needs_the_token(client):
    import mapbox_vector_tile
    import morecantile
    r = client.post("/analysis/buffer", headers=AUTH, json={
        "layer": "pipelines", "distance_m": 10, "save": True})
    coll = r.json()["result"]["collection"]
    cid = coll.rsplit("/", 1)[1]
    assert cid not in [c["id"] for c in client.get("/collections").json()["collections"]]
    problem(client.get(f"{coll}/items"), 404, "restricted")
    tile = morecantile.tms.get("WebMercatorQuad").tile(120.1, 36.05, 10)
    tile_url = f"{coll}/tiles/WebMercatorQuad/10/{tile.y}/{tile.x}"
    problem(client.get(tile_url), 404, "restricted")
    assert cid in [c["id"] for c in client.get("/collections", headers=AUTH).json()[
        "collections"]]
    page = client.get(f"{coll}/items", headers=AUTH).json()
    assert page["numberMatched"] == 3
    t = client.get(tile_url, headers=AUTH)
    assert t.status_code == 200 and t.headers["cache-control"].startswith("private")
    assert len(mapbox_vector_tile.decode(t.content)[cid]["features"]) == 3


# -- bad input ------------------------------------------------------------------------------

POINT = {"type": "Point", "coordinates": [120.3, 36.0]}
BAD = [
    ({"geometry": {"type": "Circle", "coordinates": [1, 2]}, "distance_m": 1}, 400, "type"),
    ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1],
                                                       [0, 0]]]}, "distance_m": 1},
     400, "Self-intersection"),
    ({"geometry": {"type": "LineString", "coordinates": [[0, 0]]}, "distance_m": 1}, 400,
     "malformed"),
    ({"geometry": {"type": "LineString", "coordinates": [[120 + i / 1e5, 36] for i in
                                                         range(10_001)]},
      "distance_m": 1}, 413, "10001 vertices"),
    ({"geometry": {"type": "Point", "coordinates": [36.0, 200.0]}, "distance_m": 1}, 400,
     "out of range"),
    ({"geometry": POINT, "distance_m": -5}, 400, "distance_m"),
    ({"geometry": POINT, "distance_m": 2_000_000}, 400, "distance_m"),
    ({"geometry": POINT, "distance_m": 5, "crs": "EPSG:2000"}, 400, "unsupported CRS"),
    ({"geometry": POINT, "distance_m": 5, "out_crs": "urn:nope"}, 400, "unsupported CRS"),
    ({"geometry": POINT, "distance_m": 5, "save": True, "ttl_s": 10**8}, 400, "ttl_s"),
    ({"layer": "nowhere", "distance_m": 5}, 404, "unknown layer"),
    ({"layer": "pipelines", "distance_m": 5}, 403, "restricted"),
    ({"layer": "districts", "filter": {"colour": "red"}, "distance_m": 5}, 400, "colour"),
    ({"layer": "districts", "filter": {"population": "many"}, "distance_m": 5}, 400,
     "integer"),
    ({"layer": "districts", "distance_m": 5, "datetime": "yesterday"}, 400, "RFC 3339"),
    ({"distance_m": 5}, 422, "exactly one"),
    ({"geometry": POINT}, 422, "distance_m"),
]


@pytest.mark.parametrize(("body", "status", "word"), BAD)
def test_bad_buffer_requests_are_problems(client, body, status, word):
    problem(client.post("/analysis/buffer", json=body), status, word)


@pytest.mark.parametrize(("path", "params", "status", "word"), [
    ("/lbs/nearest", {"layer": "scenic_sites", "k": 500}, 400, "k: 500"),
    ("/lbs/nearest", {"layer": "hazard_sources"}, 403, "restricted"),
    ("/lbs/nearest", {"layer": "hazard_sources", "token": "wrong"}, 403, "restricted"),
    ("/lbs/nearest", {"layer": "scenic_sites", "max_distance_m": -1}, 400, "max_distance"),
    ("/lbs/nearest", {"layer": "scenic_sites", "crs": "wgs99"}, 400, "unsupported CRS"),
    ("/lbs/within", {"layer": "scenic_sites", "distance_m": 1e7}, 400, "distance_m"),
    ("/lbs/within", {"layer": "scenic_sites", "distance_m": 10, "limit": 10**6}, 400,
     "limit"),
    ("/lbs/reverse", {"site_radius_m": 0}, 400, "site_radius_m"),
    ("/lbs/nearest", {"layer": "scenic_sites", "lon": "east"}, 422, "lon"),
])
def test_bad_lbs_requests_are_problems(client, path, params, status, word):
    problem(client.get(path, params={"lon": 120.4, "lat": 36.1} | params), status, word)


def test_bad_overlay_and_result_requests_are_problems(client):
    body = {"operation": "intersection", "a": {"layer": "districts"},
            "b": {"layer": "districts"}}
    problem(client.post("/analysis/overlay", json=body | {"group_by": ["c_name"]}), 400,
            "group_by")
    problem(client.post("/analysis/overlay", json=body | {"group_by": ["a_nope"]}), 400,
            "a_nope")
    problem(client.post("/analysis/overlay", json=body | {"operation": "clip"}), 422,
            "operation")
    problem(client.post("/analysis/overlay", json=body | {"b": {"layer": "pipelines"}}), 403,
            "restricted")
    problem(client.get("/results/00000000-0000-0000-0000-000000000000"), 404, "no live result")
    problem(client.get("/results/not-a-uuid"), 422, "result_id")
    problem(client.post("/lbs/isochrone", json={"from": list(node(0, 0))}), 422,
            "exactly one")
    problem(client.post("/lbs/isochrone", json={"from": list(node(0, 0)), "time_s": 1e6}),
            400, "time_s")



def test_too_many_results_is_a_413(client, monkeypatch):
    from spatial_api.analysis import answer
    monkeypatch.setattr(answer, "MAX_FEATURES", 2)
    r = client.get("/lbs/within", params={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1,
                                          "distance_m": 50_000})
    problem(r, 413, "at most 2")


def test_gcj02_out_crs_round_trips(client):
    r = client.get("/lbs/nearest", params={"layer": "scenic_sites", "lon": 120.4, "lat": 36.1,
                                           "k": 1, "out_crs": "gcj02"})
    body = r.json()
    assert body["number_returned"] == 1, body
    assert body["crs"] == "gcj02"
    x, y = body["features"][0]["geometry"]["coordinates"]
    lon, lat = chinese_offsets.gcj02_to_wgs84(x, y)
    site = next(s for s in sites() if s[0] == body["features"][0]["id"])
    assert GEOD.inv(float(lon), float(lat), site[1], site[2])[2] < 0.01
