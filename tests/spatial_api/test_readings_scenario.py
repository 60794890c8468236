"""Readings in a scenario: the sensors are the scenario's (a planned one exists, a moved one
stands where the scenario put it), the readings stay the live ones, and the scenario is
seen only by its role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from layers import Catalog
from tests.support.factories import insert_sql, sample_row

T0 = datetime(2024, 12, 25, tzinfo=UTC)
G1 = [0.2, 5, 12, 18, 22, 15, 9, 4, 0.3, 0.2, 11, 9.5]  # %LEL: level 1 still active at 11
P1 = [0.30, 0.15, 0.13, 0.155, 0.18]  # MPa
LAT = 36.06
BBOX = "120.29,36.05,120.345,36.07"  # around every live sensor


def at(step: int) -> str:
    return (T0 + timedelta(minutes=15 * step)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def scenario(client, auth, engine) -> str:
    """Live: G1 (gas) at 120.30 and P1 (pressure) at 120.32, with readings. A crew scenario
    moves G1 to 120.50 from 2024-06-01 and plans G9 (gas) at 120.34 from then."""
    spec = Catalog()["sensors"]
    with engine.begin() as c:
        for sid, kind, unit, lon, series in (
            ("G1", "gas_concentration", "%LEL", 120.30, G1),
            ("P1", "pressure", "MPa", 120.32, P1),
        ):
            row = sample_row(spec, sid) | {"sensor_kind": kind, "unit": unit, "utility": "gas"}
            row |= {"valid": "[2024-01-01,)", "geom": f"SRID=4490;POINT({lon} {LAT})"}
            c.execute(text(insert_sql(spec, row)), row)
            c.execute(
                text("INSERT INTO city.sensor_readings VALUES (:s, :t, :v)"),
                [
                    {"s": sid, "t": T0 + timedelta(minutes=15 * i), "v": v}
                    for i, v in enumerate(series)
                ],
            )
    crew = auth["crew"]
    r = client.post("/scenarios", json={"title": "G1 迁至新阀井"}, headers=crew)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    edit = {"scenario": sid, "valid_from": "2024-06-01T00:00:00Z"}
    moved = {"type": "Point", "coordinates": [120.50, LAT]}
    r = client.patch(
        "/collections/sensors/items/G1",
        json={"geometry": moved},
        params=edit,
        headers=crew | {"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 204, r.text
    planned = {
        "type": "Feature",
        "id": "G9",
        "geometry": {"type": "Point", "coordinates": [120.34, LAT]},
        "properties": {
            "utility": "gas",
            "sensor_kind": "gas_concentration",
            "unit": "%LEL",
            "status": "planned",
        },
    }
    r = client.post("/collections/sensors/items", json=planned, params=edit, headers=crew)
    assert r.status_code == 201, r.text
    return sid


def get(client, path, headers, **params):
    return client.get(f"/collections/sensors/{path}", params=params, headers=headers)


def test_a_planned_sensor_exists_only_in_its_scenario_and_has_no_readings(client, auth, scenario):
    crew = auth["crew"]
    live = get(client, "items/G9/readings", crew)
    assert live.status_code == 404
    assert live.headers["content-type"] == "application/problem+json"
    body = get(client, "items/G9/readings", crew, scenario=scenario).json()
    assert body["sensor"] == {
        "id": "G9",
        "sensor_kind": "gas_concentration",
        "unit": "%LEL",
        "utility": "gas",
    }
    assert body["numberReturned"] == 0
    assert get(client, "items/G9/alarms", crew).status_code == 404
    alarms = get(client, "items/G9/alarms", crew, scenario=scenario).json()
    g1 = get(client, "items/G1/alarms", crew).json()
    assert alarms["alarms"] == []
    assert alarms["thresholds"] == g1["thresholds"]  # the gas defaults, by kind and unit
    assert [t["value"] for t in alarms["thresholds"]] == [10.0, 20.0]


def test_a_moved_sensor_keeps_its_live_readings_and_alarms(client, auth, scenario):
    crew = auth["crew"]
    live = get(client, "items/G1/readings", crew).json()
    what_if = get(client, "items/G1/readings", crew, scenario=scenario).json()
    assert what_if["numberReturned"] == live["numberReturned"] == 12
    assert what_if["readings"] == live["readings"]
    events = get(client, "items/G1/alarms", crew, scenario=scenario).json()["alarms"]
    assert [(e["level"], e["start"], e["end"]) for e in events] == [
        (1, at(2), at(7)),
        (2, at(4), at(5)),
        (1, at(10), None),
    ]


def test_the_live_views_read_the_scenarios_sensors(client, auth, scenario):
    crew = auth["crew"]
    then = {"bbox": BBOX, "datetime": at(11)}
    live = get(client, "readings/latest", crew, **then).json()["features"]
    assert [f["id"] for f in live] == ["G1", "P1"]
    got = get(client, "readings/latest", crew, scenario=scenario, **then).json()["features"]
    assert [f["id"] for f in got] == ["G9", "P1"]  # G1 moved out of the box
    g9 = got[0]["properties"]
    assert (g9["status"], g9["observed_at"], g9["value"], g9["stale"]) == (
        "planned",
        None,
        None,
        True,
    )
    everywhere = get(client, "readings/latest", crew, scenario=scenario, datetime=at(11))
    g1 = next(f for f in everywhere.json()["features"] if f["id"] == "G1")
    assert g1["geometry"]["coordinates"] == [120.5, LAT]
    assert (g1["properties"]["value"], g1["properties"]["alarm_level"]) == (9.5, 1)

    active = get(client, "alarms/active", crew, **then).json()["features"]
    assert [f["id"] for f in active] == ["G1/high/1"]
    moved = get(client, "alarms/active", crew, scenario=scenario, **then).json()
    assert moved["features"] == []
    before = get(
        client, "readings/latest", crew, scenario=scenario, datetime="2024-05-01T00:00:00Z"
    )
    assert [f["id"] for f in before.json()["features"]] == ["G1", "P1"]  # before the edits


def test_another_roles_scenario_is_not_found(client, auth, scenario):
    emergency = auth["emergency"]
    assert get(client, "readings/latest", emergency).status_code == 200
    for path in ("readings/latest", "alarms/active", "items/G1/readings", "items/G1/alarms"):
        r = get(client, path, emergency, scenario=scenario)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json"
    assert get(client, "readings/latest", auth["crew"], scenario="no-such").status_code == 404
