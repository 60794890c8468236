"""Impact of a chlorine leak's zones on a constructed block at 122 E, 37 N.

Items sit at pyproj geodesic offsets from the spill; lengths are checked against pyproj's
geodesic length of the part shapely cuts from the ring polygons (both in lon/lat, as
PostGIS cuts them), and against the analytic chords to a few centimetres.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, shape
from sqlalchemy import text

from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from tests.support.analysis import AUTH, GEOD, ewkt_line, problem

C = (122.0, 37.0)
CHLORINE = {
    "preset": "erg",
    "point": list(C),
    "material": "chlorine",
    "spill": "small",
    "time_of_day": "day",
    "wind_from_deg": 270,  # isolation circle 60 m; the 300 m square lies east
}


def at(az: float, dist: float, origin: tuple[float, float] = C) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], az, dist)
    return (lon, lat)


def east_north(e: float, n: float) -> tuple[float, float]:
    return at(math.degrees(math.atan2(e, n)), math.hypot(e, n))


# asset: (azimuth, metres, extra columns)
TARGETS = {
    "IMT1": (315, 30, 500),  # isolation circle only
    "IMT2": (90, 40, 200),  # circle and square: counted in the circle
    "IMT3": (90, 200, 1000),  # square only
    "IMT4": (270, 200, 9999),  # outside
    "IMT5": (80, 100, None),  # square, occupants unknown
}
SITES = {"IMS1": (100, 250, 10_000), "IMS2": (0, 500, 5_000)}
SHELTERS = {"IMH1": (200, 20, 300), "IMH2": (270, 1000, 800)}
HAZARDS = {"IMZ1": (120, 150), "IMZ2": (0, 2000)}
STATIONS = {"IMB1": (10, 50), "IMB2": (180, 700)}
PIPES = {  # asset: utility, from (east, north) m, to
    # Through the spill: 120 m in the circle, then 240 m in the square.
    "IMG1": ("gas", (-400, 0), (400, 0)),
    "IMW1": ("water", (250, -400), (250, 400)),  # across the square: 300 m
    "IMW2": ("water", (-400, 300), (400, 300)),  # north of everything
}
ROADS = {
    "IMR1": ((-500, 100), (500, 100)),  # 300 m across the square
    "IMR2": ((-20, -200), (-20, 200)),  # a chord of the circle 20 m west of the spill
    "IMR3": ((-500, -500), (500, -500)),  # clear
}


@pytest.fixture(scope="module")
def block(engine, data):
    with engine.begin() as c:

        def put(table: str, asset: str, cols: dict, geom: str) -> None:
            names = ", ".join(["asset_id", *cols, "geom"])
            values = ", ".join([":asset", *(f":{k}" for k in cols), "ST_GeomFromEWKT(:g)"])
            c.execute(
                text(f"INSERT INTO city.{table} ({names}) VALUES ({values})"),
                {"asset": asset, "g": geom} | cols,
            )

        def pt(az: float, d: float) -> str:
            x, y = at(az, d)
            return f"SRID=4490;POINT({x} {y})"

        for a, (az, d, pop) in TARGETS.items():
            put("protected_targets", a, {"name": a, "kind": "school", "population": pop}, pt(az, d))
        for a, (az, d, cap) in SITES.items():
            put("scenic_sites", a, {"name": a, "capacity": cap}, pt(az, d))
        for a, (az, d, cap) in SHELTERS.items():
            put("shelters", a, {"name": a, "capacity": cap, "status": "open"}, pt(az, d))
        for a, (az, d) in HAZARDS.items():
            put("hazard_sources", a, {"name": a, "kind": "lpg_storage"}, pt(az, d))
        for a, (az, d) in STATIONS.items():
            put("base_stations", a, {"name": a}, pt(az, d))
        for a, (u, p, q) in PIPES.items():
            put("pipelines", a, {"utility": u}, ewkt_line(east_north(*p), east_north(*q), " -1.5"))
        for a, (p, q) in ROADS.items():
            put(
                "roads", a, {"road_class": "residential"}, ewkt_line(east_north(*p), east_north(*q))
            )
    yield
    with engine.begin() as c:
        for table in (
            "protected_targets",
            "scenic_sites",
            "shelters",
            "hazard_sources",
            "base_stations",
            "pipelines",
            "roads",
        ):
            c.execute(text(f"DELETE FROM city.{table} WHERE asset_id LIKE 'IM%'"))


@pytest.fixture(scope="module")
def zone(client, block) -> dict:
    r = client.post("/analysis/hazard-zone", json=CHLORINE)
    assert r.status_code == 200, r.text
    return r.json()


def impact(client, zone, headers=None, **kw):
    return client.post("/analysis/impact", json={"zone": zone} | kw, headers=headers or {})


def by_role(body: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in body["features"]:
        out.setdefault(f["properties"]["role"], []).append(f)
    return out


def items(body: dict, role: str) -> dict[str, str]:
    """asset_id → ring of the items of one role (lines, one per ring: asset_id:ring)."""
    out = {}
    for f in by_role(body).get(role, []):
        p = f["properties"]
        key = p["asset_id"] + (f":{p['ring']}" if "length_m" in p else "")
        out[key] = p["ring"]
    return out


def geod_length(line) -> float:
    """pyproj's geodesic length of a (multi)line's parts."""
    total = 0.0
    for part in getattr(line, "geoms", [line]):
        if not part.is_empty:
            xy = np.array(part.coords)
            total += GEOD.line_length(xy[:, 0], xy[:, 1])
    return total


def test_each_item_is_counted_in_the_first_ring_that_holds_it(client, zone):
    r = impact(client, zone, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert items(body, "protected_target") == {
        "IMT1": "isolation",
        "IMT2": "isolation",
        "IMT3": "protective_action",
        "IMT5": "protective_action",
    }
    assert items(body, "scenic_site") == {"IMS1": "protective_action"}
    assert items(body, "shelter_unusable") == {"IMH1": "isolation"}
    assert items(body, "hazard_source") == {"IMZ1": "protective_action"}
    assert items(body, "base_station") == {"IMB1": "isolation"}
    assert set(items(body, "pipeline")) == {
        "IMG1:isolation",
        "IMG1:protective_action",
        "IMW1:protective_action",
    }
    assert set(items(body, "road_closed")) == {"IMR1:protective_action", "IMR2:isolation"}
    iso, square, total = [f["properties"] for f in body["features"][:3]]
    assert (iso["role"], square["role"], total["role"]) == ("ring", "ring", "total")
    assert (iso["people"], square["people"], total["people"]) == (700, 1000, 1700)
    assert (iso["people_unknown"], square["people_unknown"]) == (0, 1)  # IMT5
    assert (iso["protected_targets"], square["protected_targets"], total["protected_targets"]) == (
        2,
        2,
        4,
    )
    assert square["visitors_estimate"] == 3000  # 10,000 a day × 3 h / 10 h
    assert (iso["shelters_unusable"], iso["shelter_capacity_lost"]) == (1, 300)
    assert (iso["hazard_sources"], square["hazard_sources"]) == (0, 1)
    assert (iso["base_stations"], square["base_stations"], total["base_stations"]) == (1, 0, 1)
    assert (total["pipelines_gas_count"], total["pipelines_water_count"]) == (1, 1)
    assert (total["roads_closed"], total["withheld"]) == (2, [])
    shelter = by_role(body)["shelter_unusable"][0]["properties"]
    assert (shelter["usable"], shelter["reason"]) == (False, "inside the zone")
    assert body["features"][0]["id"] == "ring:isolation"


def test_lengths_are_geodesic_lengths_of_the_clipped_parts(client, zone):
    body = impact(client, zone, headers=AUTH).json()
    rings = {f["properties"]["ring"]: shape(f["geometry"]) for f in by_role(body)["ring"]}
    iso, square = by_role(body)["ring"][0]["properties"], by_role(body)["ring"][1]["properties"]
    expected = {}
    for ring, poly in rings.items():
        for a, (_, p, q) in PIPES.items():
            expected[a, ring] = geod_length(LineString([east_north(*p), east_north(*q)]) & poly)
    for f in by_role(body)["pipeline"]:
        p = f["properties"]
        assert p["length_m"] == pytest.approx(expected[p["asset_id"], p["ring"]], abs=0.001)
        assert p["length_m"] == pytest.approx(geod_length(shape(f["geometry"])), abs=0.001)
    # The analytic chords, to the polygon's inscription error (128-gon, square of 32 per side).
    assert iso["pipelines_gas_m"] == pytest.approx(120, abs=0.05)
    assert square["pipelines_gas_m"] == pytest.approx(240, abs=0.05)
    assert square["pipelines_water_m"] == pytest.approx(300, abs=0.1)
    assert iso["pipelines_water_m"] == 0 and iso["pipelines_water_count"] == 0
    assert iso["roads_closed_m"] == pytest.approx(2 * math.sqrt(60**2 - 20**2), abs=0.05)
    assert square["roads_closed_m"] == pytest.approx(300, abs=0.1)
    total = by_role(body)["total"][0]["properties"]
    assert total["pipelines_gas_m"] == pytest.approx(360, abs=0.1)
    assert total["area_m2"] == pytest.approx(iso["area_m2"] + square["area_m2"], rel=1e-6)


def test_a_bare_polygon_is_one_ring(client, block):
    ring = shapely.Polygon(
        [east_north(e, n) for e, n in ((-50, -50), (50, -50), (50, 50), (-50, 50))]
    )
    r = impact(client, shapely.geometry.mapping(ring), layers=["protected_targets", "roads"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert items(body, "protected_target") == {"IMT1": "zone", "IMT2": "zone"}
    total = by_role(body)["total"][0]["properties"]
    assert total["people"] == 700
    assert total["pipelines"] is None and total["scenic_sites"] is None  # not asked for
    assert set(items(body, "road_closed")) == {"IMR2:zone"}


def test_restricted_layers_are_withheld_from_roles_that_may_not_read_them(client, zone, engine):
    anon = impact(client, zone).json()
    total = by_role(anon)["total"][0]["properties"]
    assert total["withheld"] == ["hazard_sources", "pipelines"]
    assert total["pipelines"] is None and total["pipelines_gas_m"] is None
    assert total["hazard_sources"] is None and total["people"] == 1700
    assert "pipeline" not in by_role(anon) and "hazard_source" not in by_role(anon)
    problem(impact(client, zone, layers=["pipelines"]), 403, "'pipelines'")

    roles = load_roles(Catalog().values())
    crew = {"Authorization": f"Bearer {create_token(engine, roles, 'crew', 'impact-crew', None)}"}
    emergency = {
        "Authorization": f"Bearer {create_token(engine, roles, 'emergency', 'im-em', None)}"
    }
    seen = impact(client, zone, headers=crew).json()
    assert by_role(seen)["total"][0]["properties"]["withheld"] == ["hazard_sources"]
    assert by_role(seen)["total"][0]["properties"]["pipelines_gas_count"] == 1
    full = impact(client, zone, headers=emergency).json()
    assert by_role(full)["total"][0]["properties"]["withheld"] == []
    assert set(items(full, "hazard_source")) == {"IMZ1"}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM city.tokens WHERE name IN ('impact-crew', 'im-em')"))


def test_as_of_a_time_before_the_data_nothing_is_there(client, zone):
    body = impact(client, zone, headers=AUTH, datetime="1990-01-01T00:00:00Z").json()
    total = by_role(body)["total"][0]["properties"]
    assert (total["people"], total["protected_targets"], total["roads_closed"]) == (0, 0, 0)
    assert [f["properties"]["role"] for f in body["features"]] == ["ring", "ring", "total"]


def test_bad_zones_are_refused(client, block):
    line = {"type": "LineString", "coordinates": [list(C), list(at(90, 100))]}
    problem(impact(client, line), 422, "zone")
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[122, 37], [122.01, 37.01], [122.01, 37], [122, 37.01], [122, 37]]],
    }
    problem(impact(client, bowtie), 400, "zone 'zone': geometry: invalid")
    square = {
        "type": "Polygon",
        "coordinates": [[[122, 37], [122.01, 37], [122.01, 37.01], [122, 37]]],
    }
    problem(impact(client, square, visitors={"visit_h": 12, "open_h": 10}), 422, "outlast")
    problem(impact(client, square, crs="EPSG:9999"), 400, "unsupported CRS")
    problem(impact(client, {"type": "FeatureCollection", "features": []}), 422, "features")
