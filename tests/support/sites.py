"""Base-station sites and sectors placed by geodesic offsets, for the site-sharing and
siting tests; and a planner's token."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from tests.support.analysis import GEOD

LTE = {  # a 1845 MHz LTE panel as the demo's: RS power per RE, gain, feeder, beam
    "technology": "lte",
    "band": "B3",
    "frequency_mhz": 1845.0,
    "beamwidth_deg": 65.0,
    "tilt_deg": 4.0,
    "power_dbm": 15.0,
    "antenna_gain_dbi": 17.5,
    "feeder_loss_db": 2.0,
    "vertical_beamwidth_deg": 7.0,
}


def offset(lon: float, lat: float, azimuth_deg: float, distance_m: float) -> tuple[float, float]:
    """The point `distance_m` from (lon, lat) along a geodesic at `azimuth_deg`."""
    x, y, _ = GEOD.fwd(lon, lat, azimuth_deg, distance_m)
    return x, y


def insert_site(c: Any, asset: str, lonlat: tuple[float, float], **props: Any) -> None:
    names = ", ".join(props)
    values = ", ".join(f":{k}" for k in props)
    c.execute(
        text(
            f"INSERT INTO city.base_stations (asset_id, {names}, geom) VALUES (:a, {values}, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
        ),
        props | {"a": asset, "x": lonlat[0], "y": lonlat[1]},
    )


def insert_sector(c: Any, asset: str, site: str, lonlat: tuple[float, float], **props: Any) -> None:
    props = {"site_id": site} | props
    names = ", ".join(props)
    values = ", ".join(f":{k}" for k in props)
    c.execute(
        text(
            f"INSERT INTO city.sectors (asset_id, {names}, geom) VALUES (:a, {values}, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
        ),
        props | {"a": asset, "x": lonlat[0], "y": lonlat[1]},
    )


def clear(engine: Any) -> None:
    with engine.begin() as c:
        c.execute(
            text(
                "TRUNCATE city.sectors, city.base_stations, city.protected_targets, "
                "city.sectors_scenario, city.base_stations_scenario CASCADE"
            )
        )


@pytest.fixture
def planner(engine):
    name = "sites-planner"
    token = create_token(engine, load_roles(Catalog().values()), "planner", name, None)
    yield {"Authorization": f"Bearer {token}"}
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.tokens WHERE name = :n"), {"n": name})
