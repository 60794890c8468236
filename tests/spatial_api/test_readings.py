"""Sensor readings: the load (all or nothing, each bad row named) and the time-series API."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citygis.settings import ServerSettings
from loaders import LoadError
from loaders.load import libpq_url
from loaders.readings import load_readings
from spatial_api import create_app
from tests.support.factories import insert_sql, sample_row
from tests.support.loading import count

TOKEN = "readings-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def sensors(clean_db, engine):
    """P1 in service since 2024; P2 removed at the end of 2024-06."""
    from layers import Catalog

    spec = Catalog()["sensors"]
    for asset_id, valid in (("P1", "[2024-01-01,)"), ("P2", "[2024-01-01,2024-07-01)")):
        row = sample_row(spec, asset_id) | {
            "sensor_kind": "pressure",
            "unit": "MPa",
            "valid": valid,
        }
        with engine.begin() as c:
            c.execute(text(insert_sql(spec, row)), row)
    return clean_db


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["传感器编号", "监测时间", "监测值"], dtype="string")


GOOD = [
    ("P1", "2024-12-25 08:00", "0.30"),
    ("P1", "2024-12-25 08:15", "0.32"),
    ("P1", "2024-12-25 08:30", "0.34"),
    ("P1", "2024-12-25 09:05", "0.40"),
    ("P2", "2024-03-01T00:00:00Z", "0.5"),
]


def readings(engine) -> list[tuple]:
    with engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                text(
                    "SELECT sensor_id, observed_at AT TIME ZONE 'UTC', value "
                    "FROM city.sensor_readings ORDER BY 1, 2"
                )
            )
        ]


def test_a_load_stores_readings_in_utc_and_a_reload_replaces_only_what_changed(sensors, engine):
    url = libpq_url(sensors)
    first = load_readings(url, frame(GOOD), name="a.csv", source="a.csv")
    assert (first.rows, first.inserted, first.replaced, first.sensors) == (5, 5, 0, 2)
    got = readings(engine)
    assert [str(t) for _, t, _ in got[:2]] == ["2024-12-25 00:00:00", "2024-12-25 00:15:00"]
    assert got[-1][0] == "P2" and got[-1][2] == 0.5
    again = load_readings(
        url, frame(GOOD[:3] + [("P1", "2024-12-25 09:05", "0.41")]), name="b.csv", source="b.csv"
    )
    assert (again.inserted, again.replaced, again.unchanged) == (0, 1, 3)
    assert readings(engine)[3][2] == 0.41
    assert (
        count(engine, "SELECT count(*) FROM city.load_runs WHERE layer_id = 'sensor_readings'") == 2
    )


def test_bad_readings_are_named_by_row_and_nothing_is_written(sensors, engine):
    url = libpq_url(sensors)
    load_readings(url, frame(GOOD[:1]), name="ok.csv", source="ok.csv")
    before = readings(engine)
    bad = frame(
        [
            ("P1", "2024-12-26 08:00", "0.3"),
            ("P1", "soon", "0.3"),
            ("P1", "2024-12-26 09:00", "high"),
            ("P1", "2024-12-26 10:00", "inf"),
            ("", "2024-12-26 11:00", "0.3"),
            ("P1", "2024-12-26 08:00", "0.31"),
            ("P1", "never", "x"),
        ]
    )  # two problems, one bad reading
    with pytest.raises(LoadError) as exc:
        load_readings(url, bad, name="bad.csv", source="bad.csv")
    message = str(exc.value)
    assert message.startswith("bad.csv: 6 bad readings; nothing was loaded.")
    assert "row 7: 'never' is not a date-time" in message and "row 7: value 'x'" in message
    for line in (
        "row 2: 'soon' is not a date-time",
        "row 3: value 'high' is not a finite",
        "row 4: value 'inf' is not a finite",
        "row 5: no sensor id",
        "row 6: a second reading of P1 at 2024-12-26T00:00:00+00:00 (first at row 1)",
    ):
        assert line in message
    # Sensors are checked in the database: unknown, or not in service at that time.
    with pytest.raises(LoadError) as exc:
        load_readings(
            url,
            frame(
                [
                    ("P1", "2024-12-26 08:00", "0.3"),
                    ("P9", "2024-12-26 08:00", "0.3"),
                    ("P2", "2024-12-26 08:00", "0.3"),
                ]
            ),
            name="c.csv",
            source="c.csv",
        )
    assert "row 2: no sensor 'P9' in the sensors layer" in str(exc.value)
    assert "row 3: sensor 'P2' was not in service at 2024-12-26T00:00:00+00:00" in str(exc.value)
    assert readings(engine) == before
    assert count(engine, "SELECT count(*) FROM city.load_runs") == 1


def test_the_cli_loads_a_csv_and_refuses_a_bad_one(sensors, engine, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    frame(GOOD).to_csv(good, index=False)
    frame([("P1", "yesterday", "1")]).to_csv(bad, index=False)
    env = {"CITYGIS_DATABASE_URL": sensors, "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "citygis.cli", "load-readings"]
    ok = subprocess.run([*cmd, str(good)], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "5 readings of 2 sensors" in ok.stdout + ok.stderr
    refused = subprocess.run([*cmd, str(bad)], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "row 1: 'yesterday' is not a date-time" in refused.stdout + refused.stderr
    assert len(readings(engine)) == 5


@pytest.fixture
def client(sensors):
    load_readings(libpq_url(sensors), frame(GOOD), name="a.csv", source="a.csv")
    with TestClient(create_app(sensors, ServerSettings(restricted_tokens=TOKEN), pool_size=2)) as c:
        yield c


def test_raw_readings_in_a_period_with_a_next_link(client):
    path = "/collections/sensors/items/P1/readings"
    r = client.get(
        path, params={"datetime": "2024-12-25T00:10:00Z/2024-12-25T01:00:00Z"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sensor"] == {
        "id": "P1",
        "sensor_kind": "pressure",
        "unit": "MPa",
        "utility": "water",
    }
    assert [(x["time"], x["value"]) for x in body["readings"]] == [
        ("2024-12-25T00:15:00Z", 0.32),
        ("2024-12-25T00:30:00Z", 0.34),
    ]
    page = client.get(path, params={"limit": 2}, headers=AUTH).json()
    assert page["numberReturned"] == 2
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    rest = client.get(nxt, headers=AUTH).json()
    assert [x["value"] for x in rest["readings"]] == [0.34, 0.40]
    newest = client.get(path, params={"limit": 3, "sortby": "-time"}, headers=AUTH).json()
    assert [x["value"] for x in newest["readings"]] == [0.40, 0.34, 0.32]
    nxt = next(link["href"] for link in newest["links"] if link["rel"] == "next")
    assert [x["value"] for x in client.get(nxt, headers=AUTH).json()["readings"]] == [0.30]


def test_binned_readings_give_min_mean_max_count(client):
    r = client.get("/collections/sensors/items/P1/readings", params={"bin": "PT1H"}, headers=AUTH)
    assert r.status_code == 200, r.text
    bins = r.json()["readings"]
    assert [b["time"] for b in bins] == ["2024-12-25T00:00:00Z", "2024-12-25T01:00:00Z"]
    assert bins[0]["count"] == 3 and bins[0]["min"] == 0.30 and bins[0]["max"] == 0.34
    assert bins[0]["mean"] == pytest.approx(0.32, abs=1e-12)
    assert (bins[1]["count"], bins[1]["mean"]) == (1, 0.40)


@pytest.mark.parametrize(
    "params, headers, status, words",
    [
        ({}, {}, 403, "restricted"),
        ({"bin": "15 minutes"}, AUTH, 400, "ISO 8601 duration"),
        ({"bin": "P400D"}, AUTH, 400, "1 second to 366 days"),
        ({"datetime": "tomorrow"}, AUTH, 400, "RFC 3339"),
        ({"limit": "0"}, AUTH, 422, "limit"),
    ],
)
def test_bad_requests_are_problems(client, params, headers, status, words):
    r = client.get("/collections/sensors/items/P1/readings", params=params, headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert words in r.text


def test_an_unknown_sensor_is_404(client):
    r = client.get("/collections/sensors/items/NOPE/readings", headers=AUTH)
    assert r.status_code == 404 and "no sensor 'NOPE'" in r.json()["detail"]


def test_latest_readings_are_the_live_view_of_every_sensor(client):
    path = "/collections/sensors/readings/latest"
    now = client.get(path, headers=AUTH)
    assert now.status_code == 200, now.text
    assert now.headers["content-type"] == "application/geo+json"
    [p1] = now.json()["features"]  # P2 was removed in 2024-07
    assert p1["id"] == "P1" and p1["geometry"]["type"] == "Point"
    assert (p1["properties"]["value"], p1["properties"]["observed_at"]) == (
        0.40,
        "2024-12-25T01:05:00+00:00",
    )
    march = client.get(path, params={"datetime": "2024-03-02T00:00:00Z"}, headers=AUTH).json()
    got = {f["id"]: f["properties"]["value"] for f in march["features"]}
    assert got == {"P1": None, "P2": 0.5}  # P1 had not read anything yet
    christmas = client.get(path, params={"datetime": "2024-12-25T00:20:00Z"}, headers=AUTH)
    assert christmas.json()["features"][0]["properties"]["value"] == 0.32
    far = client.get(path, params={"bbox": "100,20,101,21"}, headers=AUTH).json()
    assert far["numberReturned"] == 0 and far["features"] == []
    assert client.get(path).status_code == 403
    interval = client.get(path, params={"datetime": "2024-01-01T00:00:00Z/.."}, headers=AUTH)
    assert interval.status_code == 400 and "give an instant" in interval.json()["detail"]


def test_latest_readings_honour_attribute_filters(client):
    """Defect: `?sensor_kind=gas_concentration` was ignored and every sensor came back."""
    path = "/collections/sensors/readings/latest"

    def ids(**params):
        r = client.get(path, params=params, headers=AUTH)
        assert r.status_code == 200, r.text
        return [f["id"] for f in r.json()["features"]]

    assert ids(sensor_kind="gas_concentration") == []
    assert ids(sensor_kind="pressure") == ["P1"]
    assert ids(sensor_kind="pressure", datetime="2024-03-02T00:00:00Z") == ["P1", "P2"]
    assert ids(sensor_kind="pressure", bbox="100,20,101,21") == []
    unknown = client.get(path, params={"colour": "red"}, headers=AUTH)
    assert (
        unknown.status_code == 400
        and "colour: not an attribute of sensors" in unknown.json()["detail"]
    )
    choice = client.get(path, params={"sensor_kind": "smell"}, headers=AUTH)
    assert (
        choice.status_code == 400
        and "sensor_kind: 'smell' is not one of" in choice.json()["detail"]
    )
