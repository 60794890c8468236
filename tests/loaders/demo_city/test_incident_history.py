"""The demo's incidents have logs (3–6 versions, statuses in order) and the gas leaks and
chemical incidents have recorded hazard zones, drawn by the API's hazard code at load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citygis.demo_cmd import load_demo
from loaders.demo_city import demo_sources, synthetic
from loaders.demo_city.emergency import STATUSES
from loaders.demo_city.sources import SINCE, demo_zone_plans
from tests.support.loading import count
from tests.support.webmap import DEMO, demo_loaded

SEED, SCALE = DEMO["seed"], DEMO["scale"]


@pytest.fixture(scope="module")
def events():
    return synthetic.generate(SEED, SCALE)["incidents"]


def test_each_incident_has_3_to_6_versions_with_statuses_in_order(events):
    assert events["asset_id"].nunique() == 50
    for asset, v in events.groupby("asset_id"):
        assert 3 <= len(v) <= 6, asset
        ranks = [STATUSES.index(s) for s in v["status"]]
        assert ranks == sorted(ranks) and v["status"].iloc[:2].tolist() == [
            "reported",
            "active",
        ], asset
        # One period after the other, the last open; each line a log entry, synthetic.
        assert (v["valid_from"].iloc[1:].to_numpy() == v["valid_to"].iloc[:-1].to_numpy()).all()
        assert pd.isna(v["valid_to"].iloc[-1])
        assert v["valid_from"].iloc[0] == v["started_at"].iloc[0]
        assert v["description"].str.endswith("(synthetic)").all()
        assert v["description"].iloc[0].split(" ", 1)[1].startswith("接报")
    last = events.groupby("asset_id").tail(1).set_index("asset_id")
    still_open = sorted(last.index[last["status"] != "closed"])
    assert still_open == ["EV048", "EV049"]  # the latest two are still being handled
    closed = last[last["status"] == "closed"]
    assert (closed["ended_at"] == closed["valid_from"]).all()
    assert events.loc[events["status"] != "closed", "ended_at"].isna().all()


def test_leaks_and_chemicals_get_a_first_zone_and_a_revised_one(events):
    sources = demo_sources(seed=SEED, scale=SCALE)
    plans, label = demo_zone_plans(sources, SEED)
    assert label == f"hazard zones drawn over synthetic seed={SEED} scale={SCALE:g}"
    first = events.groupby("asset_id").head(1).set_index("asset_id")
    wanted = sorted(first.index[first["kind"].isin(["gas_leak", "chemical"])])
    assert sorted(plans["incident_id"].unique()) == wanted and len(plans) == 2 * len(wanted)
    for asset, p in plans.groupby("incident_id"):
        v = events[events["asset_id"] == asset]
        assert p["valid_from"].tolist() == v["valid_from"].iloc[:2].tolist()
        assert p["valid_to"].iloc[0] == p["valid_from"].iloc[1]
        end = v["ended_at"].dropna()
        assert (
            p["valid_to"].iloc[1] is pd.NaT if end.empty else p["valid_to"].iloc[1] == end.iloc[0]
        )
        winds = [r["wind_from_deg"] for r in p["request"]]
        assert winds[0] != winds[1]


@pytest.fixture(scope="module")
def demo_db(db_url, engine):
    yield from demo_loaded(db_url, engine)  # seed 7, scale 0.05 as here


def test_the_loaded_incidents_keep_their_versions(demo_db, engine, events):
    per_asset = count(
        engine,
        "SELECT array_agg(n ORDER BY a) FROM (SELECT asset_id a, count(*) n "
        "FROM city.incidents GROUP BY asset_id) c",
    )
    assert per_asset == events.groupby("asset_id").size().sort_index().tolist()


def test_the_recorded_zones_are_the_hazard_codes_and_turn_with_the_wind(demo_db, engine):
    """Each chemical incident's protective square has its centroid D/2 downwind (to 1 m),
    of the first wind before the revision and of the turned wind after it."""
    rows = count(
        engine,
        """
        SELECT array_agg(ARRAY[z.wind_from_deg, z.distance_m,
            degrees(ST_Azimuth(i.geom::geography, ST_Centroid(z.geom)::geography)),
            ST_Distance(i.geom::geography, ST_Centroid(z.geom)::geography)])
        FROM city.hazard_zones z
        JOIN city.incidents i ON i.asset_id = z.incident_id AND i.valid @> lower(z.valid)
        WHERE z.ring = 'protective_action'""",
    )
    assert rows, "no chemical incident in the demo"
    for wind, side, azimuth, dist in rows:
        assert abs(dist - side / 2) < 1
        assert abs((azimuth - wind) % 360 - 180) < 0.1  # downwind: where it blows to
    twice = count(
        engine,
        "SELECT count(*) FROM (SELECT asset_id FROM city.hazard_zones "
        "WHERE ring = 'protective_action' GROUP BY asset_id HAVING count(*) = 2) a",
    )
    chemical = count(
        engine, "SELECT count(DISTINCT asset_id) FROM city.incidents WHERE kind = 'chemical'"
    )
    assert twice == chemical and len(rows) == 2 * chemical
    gas = count(
        engine,
        "SELECT array_agg(DISTINCT ring || ':' || preset ORDER BY ring || ':' || preset) "
        "FROM city.hazard_zones z JOIN city.incidents i ON i.asset_id = z.incident_id "
        "WHERE i.kind = 'gas_leak'",
    )
    assert gas == ["downwind_sector:custom", "isolation:custom", "isolation:erg115"]
    loaded = count(
        engine,
        "SELECT (report->>'synthetic')::bool FROM city.load_runs WHERE layer_id = 'hazard_zones'",
    )
    assert loaded is True


def test_closed_incidents_zones_close_with_them(demo_db, engine):
    still = count(
        engine,
        "SELECT array_agg(DISTINCT incident_id ORDER BY incident_id) "
        "FROM city.hazard_zones_current",
    )
    kinds = count(
        engine,
        "SELECT array_agg(asset_id ORDER BY asset_id) FROM city.incidents_current "
        "WHERE status <> 'closed' AND kind IN ('gas_leak', 'chemical')",
    )
    assert still == kinds


@pytest.mark.parametrize("layer", sorted(SINCE))
def test_base_layers_are_valid_from_years_back(demo_db, engine, layer):
    since = count(engine, f"SELECT min(lower(valid)) FROM city.{layer}")
    assert since == pd.Timestamp(SINCE[layer], tz="UTC")
    now = count(engine, f"SELECT count(*) FROM city.{layer}_current")
    then = count(engine, f"SELECT count(*) FROM city.{layer}_as_of('2021-01-01')")
    assert now > 0 and then == now


def test_versions_load_once(demo_db, engine):
    before = count(engine, "SELECT count(*) FROM city.hazard_zones")
    load_demo(demo_db, seed=SEED, scale=SCALE, reload=True)  # everything again: nothing new
    assert count(engine, "SELECT count(*) FROM city.hazard_zones") == before
    assert count(engine, "SELECT count(*) FROM city.incidents") == int(
        np.sum(synthetic.generate(SEED, SCALE)["incidents"].groupby("asset_id").size())
    )


def test_every_recorded_incident_is_routed_to_as_of_each_of_its_instants(demo_db, engine):
    """Replay: at every version of a leak or a chemical incident, the two nearest fire
    stations route to it around its zones then (the route that once answered 404)."""
    from fastapi.testclient import TestClient

    from citygis.settings import ServerSettings
    from citygis.tokens import create_token
    from layers import Catalog
    from layers.roles import load_roles
    from spatial_api import create_app

    token = create_token(engine, load_roles(Catalog().values()), "emergency", "replay", None)
    with engine.begin() as c:
        steps = c.exec_driver_sql(
            "SELECT DISTINCT i.asset_id, lower(i.valid) + interval '1 minute' AS at "
            "FROM city.incidents i JOIN city.hazard_zones z ON z.incident_id = i.asset_id "
            "AND z.valid @> lower(i.valid) + interval '1 minute' ORDER BY 1, 2"
        ).all()
    assert len(steps) >= 3
    app = create_app(demo_db, ServerSettings(), pool_size=2)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        for incident, at in steps:
            body = {"incident": incident, "datetime": at.isoformat(), "k": 2}
            body |= {"filter": {"kind": "fire_station"}, "search_m": 50_000}
            r = client.post("/analysis/responders", json=body)
            assert r.status_code == 200, (incident, at, r.text)
            units = [
                f["id"] for f in r.json()["features"] if f["properties"]["role"] == "responder"
            ]
            assert len(units) == 2, (incident, at, r.json()["features"][:3])
