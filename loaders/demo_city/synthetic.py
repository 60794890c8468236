"""SYNTHETIC demo layers for Qingdao's urban core: plausible, seeded, and not real.

None of the roads, pipes, nodes, base stations, shelters, hazard sources, protected targets,
incidents, sensors, owners, population cells or service connections here exists; the
emergency resources are real institutions at approximate positions with invented holdings
(`resources`), and critical service connections bear real names (`service_connections`).
They are
generated from a seed over the real land of the urban districts (`plane`), so that the demo
looks like a city and exercises every layer.
Each frame carries `attrs["synthetic"] = True`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from loaders.demo_city import (
    emergency,
    network,
    owners,
    population,
    radio,
    resources,
    sensors,
    service_connections,
)


def generate(seed: int, scale: float) -> dict[str, gpd.GeoDataFrame]:
    """All synthetic layers in loading order; pipe count grows about linearly with scale."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    rng = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)]
    g = network.road_graph(rng[0], scale)
    pipe_nodes, pipelines = network.pipe_network(rng[2], g)
    sites, sectors = radio.base_stations(rng[3])
    layers = {
        "roads": network.roads_frame(rng[1], g),
        "pipe_nodes": pipe_nodes,
        "pipelines": pipelines,
        "base_stations": sites,
        "sectors": sectors,
        "shelters": emergency.shelters(rng[4], g),
        "hazard_sources": emergency.hazard_sources(rng[5], g),
        "protected_targets": emergency.protected_targets(rng[6], g),
        "incidents": emergency.incidents(rng[7], g, pipelines),
        "sensors": sensors.sensors(rng[8], pipe_nodes),
        "owners": owners.owners(),  # whom the dig report says to call; fixed, no seed
        # Seed 9 draws the readings (sources.demo_readings): the grid takes 10.
        "population": population.population_grid(
            np.random.default_rng(np.random.SeedSequence(seed).spawn(11)[10]), scale
        ),
        "emergency_resources": resources.emergency_resources(g),
        # Who the water pipes serve (/analysis/isolate's customers out): seed 11.
        "service_connections": service_connections.service_connections(
            np.random.default_rng(np.random.SeedSequence(seed).spawn(12)[11]), pipelines, scale
        ),
    }
    for layer in layers.values():
        layer.attrs["synthetic"] = True  # set here: pd.concat does not keep attrs reliably
    return layers
