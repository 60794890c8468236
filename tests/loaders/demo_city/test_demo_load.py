"""The demo city goes into PostGIS whole: real districts and scenic sites, synthetic networks."""

from __future__ import annotations

import pytest

from citygis.demo_cmd import load_demo
from loaders.demo_city import demo_sources
from tests.support.loading import count, snapshot

SCALE = 0.05


@pytest.fixture
def demo_db(clean_db):
    load_demo(clean_db, seed=7, scale=SCALE)
    return clean_db


def test_every_demo_layer_loads_without_rejects(demo_db, engine):
    expected = {s.layer: len(s.frame) for s in demo_sources(seed=7, scale=SCALE)}
    assert expected["districts"] == 10
    for layer, n in expected.items():
        assert count(engine, f"SELECT count(*) FROM city.{layer}") == n, layer
    reports = count(engine, "SELECT sum(((report->>'rejected')::int)) FROM city.load_runs")
    assert reports == 0
    # Synthetic layers say so in their load log.
    assert (
        count(
            engine,
            "SELECT count(*) FROM city.load_runs WHERE (report->>'synthetic')::bool"
            " AND source LIKE 'synthetic seed=7%'",
        )
        == len(expected) - 3  # all but districts, scenic sites and logistics parks
    )
    # …and the sensors' week of 15-minute readings came too.
    assert (
        count(engine, "SELECT count(*) FROM city.sensor_readings") == expected["sensors"] * 7 * 96
    )


def test_demo_districts_cover_the_scenic_sites(demo_db, engine):
    # After undoing GCJ-02 every real scenic site lies in (or within 500 m of) a district.
    outside = count(
        engine,
        """
        SELECT count(*) FROM city.scenic_sites s WHERE NOT EXISTS (
            SELECT 1 FROM city.districts d
            WHERE ST_DWithin(d.geom::geography, s.geom::geography, 500))""",
    )
    assert outside == 0
    assert (
        count(
            engine,
            "SELECT d.name FROM city.districts d JOIN city.scenic_sites s "
            "ON ST_Contains(d.geom, s.geom) WHERE s.name LIKE '栈桥%'",
        )
        == "市南区"
    )


def test_demo_network_history_and_topology(demo_db, engine):
    now = count(engine, "SELECT count(*) FROM city.pipelines_current")
    past = count(engine, "SELECT count(*) FROM city.pipelines_as_of('1990-01-01')")
    assert 0 < past < now
    assert (
        count(
            engine,
            """
        SELECT count(*) FROM city.pipelines_current p
        WHERE NOT EXISTS (SELECT 1 FROM city.pipe_nodes n WHERE n.asset_id = p.from_node)""",
        )
        == 0
    )


def test_demo_loads_once(demo_db, engine):
    before = snapshot(engine)
    load_demo(demo_db, seed=7, scale=SCALE)  # already loaded: skipped
    assert snapshot(engine) == before
