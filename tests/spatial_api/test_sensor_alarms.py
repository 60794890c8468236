"""Sensor alarms on constructed series: events with exact start, end and peak, the active
list, and the live view's stale flag, alarm level and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from loaders.demo_city.sensors import readings as demo_readings
from spatial_api import create_app
from spatial_api.alarms import ThresholdFileError, load_rules, read_rules
from tests.support.factories import insert_sql, sample_row

TOKEN = "alarms-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2024, 12, 25, tzinfo=UTC)
# 15-minute readings from T0. G1 rises to 22 %LEL and falls (9 is inside the level-1
# deadband, so only 4 clears it), then rises again to 11 and hovers at 9.5: still active.
SERIES = {
    "G1": [0.2, 5, 12, 18, 22, 15, 9, 4, 0.3, 0.2, 11, 9.5],
    "P1": [0.30, 0.15, 0.13, 0.155, 0.18],  # MPa: low level 1, then level 2, cleared
    "K1": [50.0],  # kPa: the MPa defaults do not apply
    "G2": [0.0, 6.0, 0.0],  # its own threshold (5 %LEL) in the operator's file
}
SENSORS = {  # id → kind, unit, lon
    "G1": ("gas_concentration", "%LEL", 120.30),
    "G2": ("gas_concentration", "%LEL", 120.31),
    "P1": ("pressure", "MPa", 120.32),
    "K1": ("pressure", "kPa", 120.33),
}
OPERATOR_CSV = """sensor_kind,sensor_id,bound,level,value,unit,deadband,source
,G2,high,1,5,,0.5,valve chamber next to a school: warn early
"""


def at(step: int) -> str:
    return (T0 + timedelta(minutes=15 * step)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def client(clean_db, engine, tmp_path, monkeypatch):
    spec = Catalog()["sensors"]
    with engine.begin() as c:
        for asset_id, (kind, unit, lon) in SENSORS.items():
            row = sample_row(spec, asset_id) | {"sensor_kind": kind, "unit": unit}
            row |= {"valid": "[2024-01-01,)", "geom": f"SRID=4490;POINT({lon} 36.06)"}
            c.execute(text(insert_sql(spec, row)), row)
        for sensor_id, values in SERIES.items():
            c.execute(
                text("INSERT INTO city.sensor_readings VALUES (:s, :t, :v)"),
                [
                    {"s": sensor_id, "t": T0 + timedelta(minutes=15 * i), "v": v}
                    for i, v in enumerate(values)
                ],
            )
    operator = tmp_path / "thresholds.csv"
    operator.write_text(OPERATOR_CSV, encoding="utf-8")
    monkeypatch.setenv("CITYGIS_ALARMS_FILE", str(operator))
    settings = ServerSettings(restricted_tokens=TOKEN)
    with TestClient(create_app(clean_db, settings, pool_size=2)) as c:
        yield c


def events(client, sensor: str, **params) -> list[tuple]:
    r = client.get(f"/collections/sensors/items/{sensor}/alarms", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return [
        (e["level"], e["bound"], e["start"], e["end"], e["peak"], e["peak_at"])
        for e in r.json()["alarms"]
    ]


def test_a_gas_sensor_rising_to_22_lel_has_one_level_1_and_one_level_2_event(client):
    assert events(client, "G1") == [
        (1, "high", at(2), at(7), 22.0, at(4)),  # 9 %LEL is inside the deadband: 4 clears it
        (2, "high", at(4), at(5), 22.0, at(4)),
        (1, "high", at(10), None, 11.0, at(10)),  # still active at 9.5
    ]
    body = client.get("/collections/sensors/items/G1/alarms", headers=AUTH).json()
    assert [(t["level"], t["value"], t["deadband"]) for t in body["thresholds"]] == [
        (1, 10.0, 1.0),
        (2, 20.0, 1.0),
    ]
    assert "GB/T 50493-2019" in body["thresholds"][0]["source"]
    assert [e["active"] for e in body["alarms"]] == [False, False, True]


def test_low_pressure_events_and_units_that_do_not_match(client):
    assert events(client, "P1") == [
        (1, "low", at(1), at(4), 0.13, at(2)),  # 0.155 clears level 2 (> 0.15), not level 1
        (2, "low", at(2), at(3), 0.13, at(2)),
    ]
    kpa = client.get("/collections/sensors/items/K1/alarms", headers=AUTH).json()
    assert (kpa["thresholds"], kpa["alarms"]) == ([], [])


def test_a_sensors_own_threshold_replaces_its_kinds_on_that_bound(client):
    assert events(client, "G2") == [(1, "high", at(1), at(2), 6.0, at(1))]
    thresholds = client.get("/collections/sensors/items/G2/alarms", headers=AUTH).json()
    assert [(t["level"], t["value"]) for t in thresholds["thresholds"]] == [(1, 5.0)]


def test_events_in_a_period_at_an_instant_and_in_pages(client):
    assert [e[0:3] for e in events(client, "G1", datetime=f"{at(5)}/{at(8)}")] == [
        (1, "high", at(2)),  # overlaps the period
    ]
    assert events(client, "G1", datetime=f"{at(7)}/{at(9)}") == []  # ended as it began
    assert [e[0] for e in events(client, "G1", datetime=at(4))] == [1, 2]  # active then
    newest = events(client, "G1", sortby="-start")
    assert [e[2] for e in newest] == [at(10), at(4), at(2)]
    path = "/collections/sensors/items/G1/alarms"
    page = client.get(path, params={"limit": 2}, headers=AUTH).json()
    assert page["numberReturned"] == 2
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    rest = client.get(nxt, headers=AUTH).json()
    assert [(e["level"], e["start"]) for e in rest["alarms"]] == [(1, at(10))]


def active(client, **params) -> list[tuple]:
    r = client.get("/collections/sensors/alarms/active", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return [
        (
            f["id"],
            f["properties"]["start"],
            f["properties"]["peak"],
            f["properties"]["peak_at"],
            f["properties"]["stale"],
        )
        for f in r.json()["features"]
    ]


def iso(step: int) -> str:
    return (T0 + timedelta(minutes=15 * step)).isoformat()


def test_active_alarms_city_wide_as_of_an_instant(client):
    assert active(client) == [("G1/high/1", iso(10), 11.0, iso(10), True)]  # now: stale
    then = T0 + timedelta(minutes=65)  # 5 minutes after G1 peaked; P1 cleared by then
    assert active(client, datetime=then.isoformat()) == [
        ("G1/high/2", iso(4), 22.0, iso(4), False),
        ("G1/high/1", iso(2), 22.0, iso(4), False),
    ]
    # The list agrees with each sensor's events active at the same instant.
    assert [e[0] for e in events(client, "G1", datetime=then.isoformat())] == [1, 2]
    two = active(client, datetime=iso(2))
    assert [a[0] for a in two] == ["P1/low/2", "P1/low/1", "G1/high/1"]  # level, then start
    assert active(client, datetime=iso(2), bbox="120.315,36,120.325,36.1") == two[:2]
    assert active(client, datetime=iso(2), sensor_kind="gas_concentration") == [
        ("G1/high/1", iso(2), 12.0, iso(2), False)
    ]
    assert active(client, datetime=iso(1), filter="unit = 'MPa'") == [
        ("P1/low/1", iso(1), 0.15, iso(1), False)
    ]


def latest(client, **params) -> dict[str, tuple]:
    r = client.get("/collections/sensors/readings/latest", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return {
        f["id"]: (
            f["properties"]["value"],
            f["properties"]["stale"],
            f["properties"]["alarm_level"],
        )
        for f in r.json()["features"]
    }


def test_the_latest_view_flags_stale_readings_and_carries_the_alarm_level(client):
    then = (T0 + timedelta(minutes=65)).isoformat()
    assert latest(client, datetime=then) == {
        "G1": (22.0, False, 2),
        "G2": (0.0, False, 0),  # read last at 00:30, 35 minutes before
        "K1": (50.0, True, None),  # read at 00:00; no thresholds in kPa
        "P1": (0.18, False, 0),
    }
    assert latest(client, datetime=then, stale_after="PT30M")["G2"] == (0.0, True, 0)
    assert latest(client, datetime=then, stale_after="PT1M")["G1"] == (22.0, True, 2)
    now = latest(client)
    assert now["G1"] == (9.5, True, 1)  # 9.5 %LEL, but level 1 has not cleared
    early = latest(client, datetime=(T0 - timedelta(days=1)).isoformat())
    assert early["G1"] == (None, True, None)  # nothing read yet


def test_the_latest_view_honours_kind_bbox_and_cql_filters(client):
    def ids(**params) -> list[str]:
        return sorted(latest(client, **params))

    assert ids(sensor_kind="gas_concentration") == ["G1", "G2"]
    assert ids(bbox="120.305,36,120.325,36.1") == ["G2", "P1"]
    assert ids(filter="unit = 'kPa' OR sensor_kind = 'gas_concentration'") == ["G1", "G2", "K1"]
    assert ids(filter="S_INTERSECTS(geometry, BBOX(120.315, 36, 120.34, 36.1))") == ["K1", "P1"]
    as_json = '{"op": "=", "args": [{"property": "unit"}, "MPa"]}'
    assert ids(filter=as_json, **{"filter-lang": "cql2-json"}) == ["P1"]
    assert ids(filter="id IN ('G1', 'K1')", sensor_kind="pressure") == ["K1"]


@pytest.mark.parametrize("role, status", [("crew", 200), ("emergency", 200), ("planner", 403)])
def test_alarms_are_read_by_the_roles_that_read_sensors(client, engine, role, status):
    token = create_token(engine, load_roles(Catalog().values()), role, role, None)
    for path in ("/collections/sensors/items/G1/alarms", "/collections/sensors/alarms/active"):
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == status, (path, r.text)


@pytest.mark.parametrize(
    "path, params, headers, status, words",
    [
        ("/collections/sensors/items/G1/alarms", {}, {}, 403, "restricted"),
        ("/collections/sensors/alarms/active", {}, {}, 403, "restricted"),
        ("/collections/sensors/items/NOPE/alarms", {}, AUTH, 404, "no sensor 'NOPE'"),
        ("/collections/sensors/items/G1/alarms", {"datetime": "soon"}, AUTH, 400, "RFC 3339"),
        ("/collections/sensors/items/G1/alarms", {"limit": "0"}, AUTH, 422, "limit"),
        ("/collections/sensors/items/G1/alarms", {"level": "2"}, AUTH, 400, "level"),
        (
            "/collections/sensors/readings/latest",
            {"stale_after": "an hour"},
            AUTH,
            400,
            "stale_after: 'an hour' is not an ISO 8601 duration",
        ),
        ("/collections/sensors/readings/latest", {"filter": "unit =="}, AUTH, 400, "filter:"),
        (
            "/collections/sensors/readings/latest",
            {"filter": "colour = 'red'"},
            AUTH,
            400,
            "unknown property 'colour'",
        ),
        (
            "/collections/sensors/alarms/active",
            {"filter-lang": "sql"},
            AUTH,
            400,
            "filter-lang: 'sql'",
        ),
        (
            "/collections/sensors/alarms/active",
            {"datetime": "2024-01-01T00:00:00Z/.."},
            AUTH,
            400,
            "give an instant",
        ),
        ("/collections/sensors/alarms/active", {"colour": "red"}, AUTH, 400, "colour"),
    ],
)
def test_bad_requests_are_problems(client, path, params, headers, status, words):
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert words in r.text


def test_thresholds_files_are_checked_row_by_row():
    defaults = load_rules()
    gas = defaults.rows[(("kind", "gas_concentration"), "high")]
    assert [(t.level, t.value, t.unit) for t in gas] == [(1, 10.0, "%LEL"), (2, 20.0, "%LEL")]
    head = "sensor_kind,sensor_id,bound,level,value,unit,deadband,source\n"
    off = read_rules(
        [
            ("a.csv", head + "pressure,,high,1,0.6,MPa,0,x\n"),
            ("b.csv", head + "pressure,,high,,,,,\n"),
        ]
    )
    assert [t.value for t in off.rows[(("kind", "pressure"), "high")]] == [None]  # removed
    for line, words in (
        ("pressure,P1,high,1,1,MPa,0,x", "a.csv line 2: give a sensor_kind or a sensor_id"),
        (",P1,up,1,1,MPa,0,x", "bound 'up' is not high or low"),
        ("pressure,,high,1,1,,0,x", "a sensor kind's threshold needs its unit"),
        ("gas,,high,1,1,%LEL,0,x", "'gas' is not a sensor kind: pressure, flow"),
        (",P1,high,3,1,,0,x", "level '3' is not 1 or 2"),
        (",P1,high,1,lots,,0,x", "value 'lots' is not a number"),
        (",P1,high,1,1,,-1,x", "deadband must not be negative"),
    ):
        with pytest.raises(ThresholdFileError, match=words):
            read_rules([("a.csv", head + line + "\n")])


def test_the_demo_gas_sensors_have_a_closed_and_an_open_alarm_episode():
    """Synthetic, like the rest of the demo: one leak found and repaired, one still rising."""
    frame = pd.DataFrame(
        {"asset_id": [f"SEN-{i}" for i in range(8)], "sensor_kind": "gas_concentration"}
    )
    got = demo_readings(np.random.default_rng(7), frame)
    by = {s: g["value"].to_numpy() for s, g in got.groupby("sensor_id")}
    first, last = by["SEN-0"], by["SEN-7"]
    assert first.max() >= 20 and first[-1] < 9  # a closed level-2 episode
    assert last[-1] >= 10 and last[-8:].max() < 20  # an open level-1 episode at the week's end
