"""Hazard zones: ERG 2016 circles and downwind squares, Guide 115, NCTC stand-off, custom.

Geodesic references are pyproj's Geod (GeographicLib), independent of PostGIS and of the
AEQD the zones are drawn in; table values are those of domain-facts §2.2, §2.3 and §2.5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import shape

from loaders import chinese_offsets
from tests.support.analysis import GEOD, problem

LON, LAT = 120.32, 36.06  # 市南区, Qingdao
POINT = [LON, LAT]
CHLORINE = {
    "preset": "erg",
    "point": POINT,
    "material": "UN1017",
    "spill": "small",
    "time_of_day": "day",
    "wind_from_deg": 270,
}


def post(client, body: dict) -> dict:
    r = client.post("/analysis/hazard-zone", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def zones(body: dict) -> dict[str, dict]:
    return {f["properties"]["zone"]: f for f in body["features"]}


def ring(f: dict) -> np.ndarray:
    return np.array(f["geometry"]["coordinates"][0])


def geod_area(f: dict) -> float:
    """Geodesic area of the polygon's rings (holes subtracted), by pyproj, not PostGIS."""
    rings = [np.array(r) for r in f["geometry"]["coordinates"]]
    areas = [abs(GEOD.polygon_area_perimeter(r[:, 0], r[:, 1])[0]) for r in rings]
    return areas[0] - sum(areas[1:])


def from_point(coords: np.ndarray, lon: float = LON, lat: float = LAT):
    """(azimuth °, geodesic distance m) of each vertex from the point."""
    n = len(coords)
    az, _, dist = GEOD.inv(np.full(n, lon), np.full(n, lat), coords[:, 0], coords[:, 1])
    return np.mod(az, 360), dist


def far_edge_midpoint(square: dict, bearing: float) -> tuple[float, float]:
    """The vertex beyond half the side nearest the downwind axis: (azimuth, distance)."""
    az, dist = from_point(ring(square))
    off = np.abs((az - bearing + 180) % 360 - 180)
    i = np.argmin(np.where(dist > dist.max() / 2, off, np.inf))
    return az[i], dist[i]


def test_chlorine_small_day_isolation_circle_is_60_m(client):
    iso = zones(post(client, CHLORINE))["isolation"]
    assert iso["properties"]["distance_m"] == 60
    exact = math.pi * 60**2
    assert abs(geod_area(iso) - exact) / exact < 0.001
    assert abs(iso["properties"]["area_m2"] - exact) / exact < 0.001
    assert np.allclose(from_point(ring(iso))[1], 60, rtol=1e-4)


def test_west_wind_puts_the_300_m_square_east_of_the_spill(client):
    square = zones(post(client, CHLORINE))["protective_action"]
    p = square["properties"]
    assert (p["distance_m"], p["wind_from_deg"], p["wind_to_deg"]) == (300, 270, 90)
    coords = ring(square)
    assert (coords[:, 0] >= LON - 1e-9).all()  # nothing west of the spill
    az, dist = far_edge_midpoint(square, 90)
    assert abs(dist - 300) / 300 < 0.005 and abs(az - 90) < 0.01
    # Its centroid lies 150 m downwind, its corners at 300·√1.25 m, its area 300².
    c = shape(square["geometry"]).centroid
    caz, cdist = from_point(np.array([[c.x, c.y]]))
    assert abs(cdist[0] - 150) / 150 < 0.005 and abs(caz[0] - 90) < 0.1
    assert from_point(coords)[1].max() == pytest.approx(300 * math.sqrt(1.25), rel=1e-4)
    assert abs(geod_area(square) - 300**2) / 300**2 < 0.005
    assert abs(p["area_m2"] - 300**2) / 300**2 < 0.005


@pytest.mark.parametrize("wind_from", [0, 45, 90, 180, 333.5, 360])
def test_the_wind_turns_the_square(client, wind_from):
    square = zones(post(client, CHLORINE | {"wind_from_deg": wind_from}))["protective_action"]
    bearing = (wind_from + 180) % 360
    az, dist = far_edge_midpoint(square, bearing)
    assert abs(dist - 300) / 300 < 0.005
    assert abs((az - bearing + 180) % 360 - 180) < 0.01


def test_erg_night_table3_and_names(client):
    night = zones(post(client, CHLORINE | {"time_of_day": "night"}))
    assert night["protective_action"]["properties"]["distance_m"] == 1100
    rail = zones(
        post(
            client,
            CHLORINE | {"spill": "large", "container": "rail_tank_car", "wind_class": "moderate"},
        )
    )
    assert rail["isolation"]["properties"]["distance_m"] == 1000
    assert rail["protective_action"]["properties"]["distance_m"] == 6400
    assert rail["protective_action"]["properties"]["container"] == "rail_tank_car"
    assert "Table 3" in rail["isolation"]["properties"]["table"]
    ammonia = zones(post(client, CHLORINE | {"material": "ammonia", "time_of_day": "night"}))
    p = ammonia["protective_action"]["properties"]
    assert (p["un_number"], p["material"], p["distance_m"]) == ("UN1005", "Ammonia, anhydrous", 200)
    assert ammonia["isolation"]["properties"]["distance_m"] == 30


@pytest.mark.parametrize(
    ("device", "mandatory", "preferred"), [("pipe_bomb", 21, 366), ("semi_trailer", 479, 2835)]
)
def test_bomb_distances_are_the_nctc_table(client, device, mandatory, preferred):
    body = post(client, {"preset": "bomb", "point": POINT, "device": device})
    z = zones(body)
    assert list(z) == ["evacuation", "shelter_in_place"]
    assert z["evacuation"]["properties"]["distance_m"] == mandatory
    shelter = z["shelter_in_place"]
    assert shelter["properties"]["distance_m"] == preferred
    assert shelter["properties"]["inner_distance_m"] == mandatory
    assert len(shelter["geometry"]["coordinates"]) == 2  # an annulus: outer ring and hole
    exact = math.pi * (preferred**2 - mandatory**2)
    assert abs(geod_area(shelter) - exact) / exact < 0.001
    assert abs(shelter["properties"]["area_m2"] - exact) / exact < 0.001
    assert "NCTC" in shelter["properties"]["edition"]


@pytest.mark.parametrize(
    ("inputs", "isolation"),
    [
        ({"material": "propane", "spill": "small"}, 100),
        ({"material": "propane", "spill": "large"}, 800),
        ({"material": "UN1075", "spill": "large"}, 800),
        ({"material": "natural_gas_pipeline"}, 100),
        ({"material": "butane", "in_fire": True}, 1600),
    ],
)
def test_erg115_isolation(client, inputs, isolation):
    body = post(client, {"preset": "erg115", "point": POINT} | inputs)
    assert [f["properties"]["zone"] for f in body["features"]] == ["isolation"]
    p = body["features"][0]["properties"]
    assert p["distance_m"] == isolation and p["guide"] == "115"
    exact = math.pi * isolation**2
    assert abs(geod_area(body["features"][0]) - exact) / exact < 0.001


def test_erg115_bleve_evacuation_takes_the_next_tank_size_up(client):
    body = post(
        client,
        {
            "preset": "erg115",
            "point": POINT,
            "material": "lpg",
            "spill": "large",
            "tank_capacity_l": 1000,
        },
    )
    bleve = zones(body)["evacuation"]["properties"]
    assert (bleve["distance_m"], bleve["table_capacity_l"], bleve["tank_capacity_l"]) == (
        834,
        2000,
        1000,
    )
    assert bleve["reason"] == "BLEVE" and bleve["edition"] == "ERG 2016"


def test_custom_circle_and_downwind_sector(client):
    body = post(
        client,
        {
            "preset": "custom",
            "point": POINT,
            "radius_m": 250,
            "sector": {"angle_deg": 60, "length_m": 1000},
            "wind_from_deg": 0,  # a north wind: the sector points south
        },
    )
    z = zones(body)
    assert z["isolation"]["properties"]["distance_m"] == 250
    sector = z["downwind_sector"]
    assert sector["properties"]["wind_to_deg"] == 180
    az, dist = from_point(ring(sector))
    arc = dist > 1
    assert np.allclose(dist[arc], 1000, rtol=1e-4)
    assert az[arc].min() == pytest.approx(150, abs=0.01)
    assert az[arc].max() == pytest.approx(210, abs=0.01)
    exact = math.pi * 1000**2 / 6
    assert abs(geod_area(sector) - exact) / exact < 0.001


def test_custom_polygon_keeps_its_shape_and_area(client):
    poly = [[120.3, 36.05], [120.31, 36.05], [120.31, 36.06], [120.3, 36.06], [120.3, 36.05]]
    body = post(
        client,
        {"preset": "custom", "point": POINT, "polygon": {"type": "Polygon", "coordinates": [poly]}},
    )
    f = body["features"][0]
    assert f["properties"]["zone"] == "isolation" and f["properties"]["distance_m"] is None
    ref = abs(GEOD.polygon_area_perimeter(*np.array(poly).T)[0])
    assert abs(f["properties"]["area_m2"] - ref) / ref < 1e-6


EVERY_PRESET = [
    CHLORINE,
    {
        "preset": "erg115",
        "point": POINT,
        "material": "lpg",
        "spill": "small",
        "tank_capacity_l": 100,
    },
    {"preset": "erg115", "point": POINT, "material": "natural_gas_pipeline"},
    {"preset": "bomb", "point": POINT, "device": "suicide_vest"},
    {"preset": "custom", "point": POINT, "radius_m": 500},
]


@pytest.mark.parametrize("body", EVERY_PRESET, ids=lambda b: f"{b['preset']}-{b.get('material')}")
def test_every_feature_names_its_source_and_edition(client, body):
    for f in post(client, body)["features"]:
        p = f["properties"]
        assert p["preset"] == body["preset"]
        assert p["source"]
        if body["preset"] == "custom":
            assert p["edition"] is None and p["source"].startswith("custom")
        else:
            assert p["edition"] in (
                "ERG 2016",
                "DOT ERG Guide 115 (edition not stated by the source)",
                "NCTC bomb threat stand-off chart, 2013/2014 revision",
            )
        for key in ("zone", "distance_m", "area_m2", "material", "device", "spill"):
            assert key in p
        assert "time_of_day" in p and "wind_from_deg" in p


def test_save_gives_a_result_collection(client):
    body = post(client, CHLORINE | {"save": True})
    ref = body["result"]
    assert ref["collection"] == f"/collections/result-{ref['id']}"
    items = client.get(f"{ref['collection']}/items")
    assert items.status_code == 200, items.text
    got = sorted(f["properties"]["zone"] for f in items.json()["features"])
    assert got == ["isolation", "protective_action"]
    info = next(x for x in client.get("/results").json() if x["id"] == ref["id"])
    assert info["kind"] == "hazard-zone" and info["params"]["preset"] == "erg"
    assert info["params"]["wind_from_deg"] == 270 and info["feature_count"] == 2


def test_gcj02_point_in_and_out(client):
    gx, gy = (float(v) for v in chinese_offsets.wgs84_to_gcj02(LON, LAT))
    body = post(client, CHLORINE | {"point": [gx, gy], "crs": "gcj02", "out_crs": "gcj02"})
    assert body["crs"] == "gcj02"
    iso = zones(body)["isolation"]
    cx, cy = ring(iso)[:-1].mean(axis=0)
    wx, wy = (float(v) for v in chinese_offsets.gcj02_to_wgs84(cx, cy))
    assert GEOD.inv(LON, LAT, wx, wy)[2] < 0.5
    assert abs(gx - LON) > 1e-3  # the offset is real, so the test means something


BAD = [
    (CHLORINE | {"material": "UN9999"}, 400, "not in the shipped ERG 2016 Table 1"),
    (CHLORINE | {"material": "unobtainium"}, 400, "UN1017 Chlorine"),
    (CHLORINE | {"material": "propane"}, 400, "use preset erg115"),
    (CHLORINE | {"wind_from_deg": 361}, 422, "wind_from_deg"),
    (CHLORINE | {"wind_from_deg": -1}, 422, "wind_from_deg"),
    ({k: v for k, v in CHLORINE.items() if k != "wind_from_deg"}, 422, "wind_from_deg"),
    (CHLORINE | {"spill": "large"}, 400, "rail_tank_car"),
    (
        CHLORINE | {"spill": "large", "container": "barrel", "wind_class": "low"},
        400,
        "'barrel' for Chlorine (UN1017) is not in the shipped ERG 2016 Table 3",
    ),
    (
        CHLORINE | {"material": "1050", "spill": "large", "container": "x", "wind_class": "low"},
        400,
        "Table 3 values for a large spill of Hydrogen chloride (UN1050) are not in",
    ),
    (
        CHLORINE
        | {"material": "1079", "spill": "large", "container": "multiple_ton_cylinders"}
        | {"wind_class": "high"},
        400,
        "which holds rail_tank_car",
    ),
    (CHLORINE | {"container": "rail_tank_car"}, 400, "small spill is read from Table 1"),
    (CHLORINE | {"wind_class": "breezy", "spill": "large"}, 422, "wind_class"),
    (CHLORINE | {"point": [36.06, 200]}, 400, "out of range"),
    (CHLORINE | {"crs": "EPSG:2000"}, 400, "unsupported CRS"),
    (CHLORINE | {"device": "pipe_bomb"}, 422, "device"),
    ({"preset": "volcano", "point": POINT}, 422, "preset"),
    ({"preset": "erg115", "point": POINT, "material": "hydrogen"}, 400, "natural_gas_pipeline"),
    ({"preset": "erg115", "point": POINT, "material": "propane"}, 400, "spill: small or large"),
    (
        {"preset": "erg115", "point": POINT, "material": "natural_gas_pipeline", "spill": "small"},
        400,
        "do not apply to a natural-gas pipeline leak",
    ),
    (
        {"preset": "erg115", "point": POINT, "material": "lpg", "spill": "large"}
        | {"tank_capacity_l": 200_000},
        400,
        "above the largest tank in the shipped BLEVE table (140000 L",
    ),
    ({"preset": "erg115", "point": POINT, "material": "lpg", "tank_capacity_l": 0}, 422, "tank"),
    ({"preset": "bomb", "point": POINT, "device": "nuke"}, 400, "pipe_bomb, suicide_vest"),
    ({"preset": "custom", "point": POINT}, 422, "exactly one of radius_m or polygon"),
    (
        {"preset": "custom", "point": POINT, "radius_m": 5, "sector": {"angle_deg": 30}},
        422,
        "length_m",
    ),
    (
        {"preset": "custom", "point": POINT, "radius_m": 5}
        | {"sector": {"angle_deg": 30, "length_m": 100}},
        422,
        "needs wind_from_deg",
    ),
    ({"preset": "custom", "point": POINT, "radius_m": 0}, 400, "radius_m"),
    (
        {"preset": "custom", "point": POINT, "radius_m": 5, "wind_from_deg": 0}
        | {"sector": {"angle_deg": 30, "length_m": 2e6}},
        400,
        "sector.length_m",
    ),
    (
        {"preset": "custom", "point": POINT, "polygon": {"type": "Point", "coordinates": POINT}},
        400,
        "expected a Polygon",
    ),
]


@pytest.mark.parametrize(("body", "status", "words"), BAD)
def test_bad_hazard_requests_are_problems(client, body, status, words):
    problem(client.post("/analysis/hazard-zone", json=body), status, words)


def test_unknown_query_parameter_is_refused(client):
    r = client.post("/analysis/hazard-zone", params={"radius": "5"}, json=CHLORINE)
    problem(r, 400, "radius")
