"""The analysis tests' city and a client with a token, shared by every analysis module.

Package-scoped, as they were module-scoped when the analysis tests were one file: one load
and one app for all of them, so the split changes nothing the tests see.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citygis.settings import ServerSettings
from layers import ALL_LAYERS
from spatial_api import create_app
from tests.support.analysis import (
    D1,
    D2,
    PARK,
    PIPES,
    ROADS,
    TOKEN,
    ewkt_line,
    ewkt_poly,
    node,
    sites,
)


@pytest.fixture(scope="package")
def data(engine):
    with engine.begin() as c:
        for asset, poly, name in (("D1", D1, "West"), ("D2", D2, "East")):
            c.execute(
                text(
                    "INSERT INTO city.districts (asset_id, name, geom) "
                    "VALUES (:a, :n, ST_GeomFromEWKT(:g))"
                ),
                {"a": asset, "n": name, "g": ewkt_poly(poly)},
            )
        c.execute(
            text(
                "INSERT INTO city.logistics_parks (asset_id, name, kind, geom) "
                "VALUES ('L1', 'Port park', 'port', ST_GeomFromEWKT(:g))"
            ),
            {"g": ewkt_poly(PARK)},
        )
        for asset, utility, a, b in PIPES:
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, geom) "
                    "VALUES (:a, :u, ST_GeomFromEWKT(:g))"
                ),
                {"a": asset, "u": utility, "g": ewkt_line(a, b, " -1.5")},
            )
        for asset, x, y, grade in sites():
            c.execute(
                text(
                    "INSERT INTO city.scenic_sites (asset_id, name, grade, geom) "
                    "VALUES (:a, :a, :g, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": asset, "g": grade, "x": x, "y": y},
            )
        # A site that closed in 2020: gone now, there as of 2019.
        c.execute(
            text(
                "INSERT INTO city.scenic_sites (asset_id, name, valid, geom) VALUES "
                "('OLD', 'old', tstzrange('2000-01-01', '2020-01-01'), "
                "ST_SetSRID(ST_MakePoint(120.09, 36.05), 4490))"
            )
        )
        for asset, a, b, speed, oneway in ROADS:
            c.execute(
                text(
                    "INSERT INTO city.roads (asset_id, road_class, speed_kmh, oneway, "
                    "geom) VALUES (:a, 'residential', :s, :o, ST_GeomFromEWKT(:g))"
                ),
                {"a": asset, "s": speed, "o": oneway, "g": ewkt_line(node(*a), node(*b))},
            )
        c.execute(
            text(
                "INSERT INTO city.roads (asset_id, road_class, geom) VALUES "
                "('R_QD', 'primary', ST_GeomFromEWKT(:g))"
            ),
            {"g": ewkt_line((120.09, 36.049), (120.09, 36.03))},
        )
    yield
    tables = ", ".join(f"city.{spec.id}" for spec in ALL_LAYERS)
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables}, city.results CASCADE"))


@pytest.fixture(scope="package")
def client(db_url, data):
    with TestClient(create_app(db_url, ServerSettings(restricted_tokens=TOKEN), pool_size=2)) as c:
        yield c
