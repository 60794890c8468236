"""Hazard zones by incident id, recorded as versions in hazard_zones, read back as of an
instant by impact, shelter assignment and responders.

A constructed incident at 121 E, 36.5 N: chlorine, small spill, by day (isolation 60 m,
protective square 300 m). Recorded at T1 with a west wind, at T2 with a north wind, and at
T3 as a drawn 500 m circle only, which closes the protective square.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from shapely.geometry import shape
from sqlalchemy import text

from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from tests.support.analysis import AUTH, GEOD, problem

P = (121.0, 36.5)
INCIDENT, BARE = "HZI-1", "HZI-2"  # BARE never gets zones
T0, T1, T2, T3 = (f"2026-01-01T0{h}:00:00Z" for h in (0, 1, 3, 5))
CHLORINE = {
    "preset": "erg",
    "material": "chlorine",
    "spill": "small",
    "time_of_day": "day",
    "wind_from_deg": 270,
}
TARGETS = {  # asset: (azimuth, metres): in the circle, the T1 square (east), the T2 (south)
    "HZT-A": (0, 30),
    "HZT-E": (90, 200),
    "HZT-S": (180, 200),
}


def at(az: float, dist: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(P[0], P[1], az, dist)
    return (lon, lat)


@pytest.fixture(scope="module")
def incident(engine, data):
    with engine.begin() as c:
        for asset in (INCIDENT, BARE):
            c.execute(
                text(
                    "INSERT INTO city.incidents (asset_id, name, kind, status, started_at, valid,"
                    " geom) VALUES (:a, :a, 'chemical', 'active', :t, tstzrange(:t, NULL),"
                    " ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": asset, "t": T0, "x": P[0], "y": P[1]},
            )
        for asset, (az, d) in TARGETS.items():
            x, y = at(az, d)
            c.execute(
                text(
                    "INSERT INTO city.protected_targets (asset_id, name, kind, population, valid,"
                    " geom) VALUES (:a, :a, 'school', 100, tstzrange('2020-01-01', NULL),"
                    " ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": asset, "x": x, "y": y},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.incidents WHERE asset_id LIKE 'HZI-%'"))
        c.execute(text("DELETE FROM city.protected_targets WHERE asset_id LIKE 'HZT-%'"))


def zone(client, body: dict, headers: dict | None = None):
    return client.post("/analysis/hazard-zone", json=body, headers=headers or {})


def ok(r) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def recorded(client, incident) -> list[dict]:
    """The three records' answers, in order."""
    bodies = [
        CHLORINE | {"valid_from": T1},
        CHLORINE | {"wind_from_deg": 0, "valid_from": T2},
        {"preset": "custom", "radius_m": 500, "valid_from": T3},
    ]
    return [ok(zone(client, b | {"incident": INCIDENT, "record": True}, AUTH)) for b in bodies]


def zones_as_of(client, when: str) -> dict[str, dict]:
    r = client.get(
        "/collections/hazard_zones/items", params={"datetime": when, "incident_id": INCIDENT}
    )
    assert r.status_code == 200, r.text
    return {f["properties"]["ring"]: f for f in r.json()["features"]}


def from_p(lon: float, lat: float) -> tuple[float, float]:
    az, _, dist = GEOD.inv(P[0], P[1], lon, lat)
    return az % 360, dist


def test_by_incident_gives_the_rings_of_its_point(client, incident):
    by_id = ok(zone(client, CHLORINE | {"incident": INCIDENT}))
    by_point = ok(zone(client, CHLORINE | {"point": list(P)}))
    assert [f["properties"] for f in by_id["features"]] == [
        f["properties"] for f in by_point["features"]
    ]
    for a, b in zip(by_id["features"], by_point["features"], strict=True):
        assert np.allclose(a["geometry"]["coordinates"], b["geometry"]["coordinates"], atol=1e-9)
    assert by_id["recorded"] is None


def test_record_says_what_it_wrote(recorded):
    first, second, third = (r["recorded"] for r in recorded)
    assert first["incident"] == INCIDENT and first["valid_from"] == "2026-01-01T01:00:00Z"
    assert [(z["ring"], z["asset_id"]) for z in first["zones"]] == [
        ("isolation", "HZI-1/isolation"),
        ("protective_action", "HZI-1/protective_action"),
    ]
    assert first["closed"] == [] and second["closed"] == []
    assert all(
        b["version_id"] > a["version_id"]
        for a, b in zip(first["zones"], second["zones"], strict=True)
    )
    assert [z["asset_id"] for z in third["zones"]] == ["HZI-1/isolation"]
    assert third["closed"] == ["HZI-1/protective_action"]


def test_as_of_reads_show_each_wind_square(client, recorded):
    for when, bearing in (("2026-01-01T02:00:00Z", 90), ("2026-01-01T04:00:00Z", 180)):
        square = zones_as_of(client, when)["protective_action"]
        c = shape(square["geometry"]).centroid
        az, dist = from_p(c.x, c.y)
        assert abs(dist - 150) < 1, when
        assert abs((az - bearing + 180) % 360 - 180) < 0.1, when
        p = square["properties"]
        assert (p["preset"], p["material"], p["edition"]) == ("erg", "Chlorine", "ERG 2016")
        assert p["distance_m"] == 300 and p["ring_index"] == 2
        assert '"incident": "HZI-1"' in p["inputs"]
    assert (
        zones_as_of(client, "2026-01-01T02:00:00Z")["isolation"]["properties"]["distance_m"] == 60
    )
    assert zones_as_of(client, "2026-01-01T00:30:00Z") == {}


def test_a_dropped_ring_is_closed_at_the_next_record(client, recorded):
    before = zones_as_of(client, "2026-01-01T04:59:59Z")
    after = zones_as_of(client, "2026-01-01T05:00:00Z")
    assert set(before) == {"isolation", "protective_action"}
    assert set(after) == {"isolation"}
    assert after["isolation"]["properties"]["distance_m"] == 500


def test_records_are_audited_like_writes(engine, recorded):
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT action, count(*) FROM city.audit WHERE layer_id = 'hazard_zones' "
                "GROUP BY action ORDER BY action"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("create", 1), ("delete", 1), ("replace", 3)]


def impact(client, body: dict) -> dict:
    return ok(client.post("/analysis/impact", json=body, headers=AUTH))


def test_impact_by_incident_is_impact_of_its_zone_then(client, recorded):
    by_incident = impact(client, {"incident": INCIDENT, "datetime": "2026-01-01T02:00:00Z"})
    drawn = ok(zone(client, CHLORINE | {"point": list(P)}))
    by_zone = impact(client, {"zone": drawn, "datetime": "2026-01-01T02:00:00Z"})
    assert [f["id"] for f in by_incident["features"]] == [f["id"] for f in by_zone["features"]]
    for a, b in zip(by_incident["features"], by_zone["features"], strict=True):
        pa, pb = a["properties"], b["properties"]
        assert pa.pop("area_m2", 0) == pytest.approx(pb.pop("area_m2", 0), rel=1e-6)
        assert pa == pb
    targets = {
        f["properties"]["asset_id"]: f["properties"]["ring"]
        for f in by_incident["features"]
        if f["properties"]["role"] == "protected_target"
    }
    assert targets == {"HZT-A": "isolation", "HZT-E": "protective_action"}
    later = impact(client, {"incident": INCIDENT, "datetime": "2026-01-01T04:00:00Z"})
    assert {
        f["properties"]["asset_id"]
        for f in later["features"]
        if f["properties"]["role"] == "protected_target"
    } == {"HZT-A", "HZT-S"}


def test_record_needs_a_role_that_writes_hazard_zones(client, engine, incident):
    roles = load_roles(Catalog().values())
    planner = {"Authorization": f"Bearer {create_token(engine, roles, 'planner', 'hz-p', None)}"}
    body = CHLORINE | {"incident": INCIDENT, "record": True, "valid_from": "2026-01-02T00:00Z"}
    problem(zone(client, body, planner), 403, "'planner' may not write layer 'hazard_zones'")
    problem(zone(client, body), 401, "hazard_zones")


@pytest.mark.parametrize("path", ["impact", "shelter-assignment", "responders"])
def test_an_incident_without_zones_is_404_naming_it_and_when(client, incident, path):
    body = {"incident": BARE, "datetime": "2026-01-01T02:00:00Z"}
    r = client.post(f"/analysis/{path}", json=body, headers=AUTH)
    problem(r, 404, "'HZI-2'", "no recorded hazard zones", "2026-01-01T02:00:00+00:00")


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (CHLORINE | {"incident": INCIDENT, "point": list(P)}, 422, "exactly one of point"),
        (CHLORINE, 422, "exactly one of point"),
        (CHLORINE | {"point": list(P), "record": True}, 422, "give incident"),
        (CHLORINE | {"incident": INCIDENT, "valid_from": T1}, 422, "set record"),
        (CHLORINE | {"incident": "HZI-none"}, 404, "no incident 'HZI-none'"),
        (
            CHLORINE | {"incident": INCIDENT, "datetime": "2025-12-31T00:00:00Z"},
            404,
            "valid at 2025-12-31T00:00:00+00:00",
        ),
    ],
)
def test_bad_incident_requests_are_problems(client, incident, body, status, words):
    problem(zone(client, body, AUTH), status, words)


def test_responders_by_incident_avoid_its_zones(client, recorded):
    """The scene is the incident's point: with no resources near, the 404 says so."""
    r = client.post(
        "/analysis/responders",
        json={"incident": INCIDENT, "datetime": "2026-01-01T02:00:00Z", "search_m": 100},
        headers=AUTH,
    )
    problem(r, 404, "no emergency_resources within 100 m of the scene")


def test_the_bundle_draws_the_zones_recorded_then(client, recorded, tmp_path):
    for when, rings in (("2026-01-01T02:00:00Z", 2), ("2026-01-01T06:00:00Z", 1)):
        r = client.get(f"/incidents/{INCIDENT}/bundle", params={"datetime": when}, headers=AUTH)
        assert r.status_code == 200, r.text
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            name = next(n for n in z.namelist() if n.endswith("manifest.json"))
            manifest = json.loads(z.read(name))
            summary = z.read(name.replace("manifest.json", "summary.html")).decode()
        assert manifest["extra_layers"]["zones"] == rings, when
        assert ("ERG 2016" in summary) == (rings == 2)


def test_a_scenario_records_its_own_zones(client, incident):
    r = client.post("/scenarios", json={"title": "下风向推演"}, headers=AUTH)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    body = CHLORINE | {"incident": BARE, "record": True, "valid_from": T1, "scenario": sid}
    recorded = ok(zone(client, body, AUTH))["recorded"]
    assert [z["asset_id"] for z in recorded["zones"]] == [
        "HZI-2/isolation",
        "HZI-2/protective_action",
    ]
    assert all(z["version_id"] < 0 for z in recorded["zones"])  # scenario versions
    at = {"incident": BARE, "datetime": "2026-01-01T02:00:00Z"}
    there = impact(client, at | {"scenario": sid})
    assert [f["id"] for f in there["features"][:2]] == ["ring:isolation", "ring:protective_action"]
    problem(client.post("/analysis/impact", json=at, headers=AUTH), 404, "'HZI-2'")
    assert client.delete(f"/scenarios/{sid}", headers=AUTH).status_code == 204
