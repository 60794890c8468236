"""The layer catalog: every layer the platform knows, in map drawing order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from layers.base_stations import BASE_STATIONS, SECTORS
from layers.districts import DISTRICTS
from layers.emergency import HAZARD_SOURCES, INCIDENTS, PROTECTED_TARGETS, SHELTERS
from layers.emergency_resources import EMERGENCY_RESOURCES
from layers.hazard_zones import HAZARD_ZONES
from layers.logistics_parks import LOGISTICS_PARKS
from layers.owners import OWNERS
from layers.pipe_nodes import PIPE_NODES
from layers.pipelines import PIPELINES
from layers.population import POPULATION
from layers.roads import ROADS
from layers.scenic_sites import SCENIC_SITES
from layers.sensors import SENSORS
from layers.service_connections import SERVICE_CONNECTIONS
from layers.spec import LayerSpec

ALL_LAYERS: tuple[LayerSpec, ...] = (
    DISTRICTS,
    POPULATION,
    LOGISTICS_PARKS,
    ROADS,
    PIPELINES,
    PIPE_NODES,
    SERVICE_CONNECTIONS,
    SENSORS,
    BASE_STATIONS,
    SECTORS,
    SCENIC_SITES,
    SHELTERS,
    HAZARD_SOURCES,
    PROTECTED_TARGETS,
    EMERGENCY_RESOURCES,
    OWNERS,
    HAZARD_ZONES,
    INCIDENTS,
)


class LayerNotFound(KeyError):
    """No layer with that id in the catalog."""

    def __init__(self, layer_id: str):
        super().__init__(layer_id)
        self.layer_id = layer_id

    def __str__(self) -> str:
        return f"unknown layer {self.layer_id!r}"


class Catalog(Mapping[str, LayerSpec]):
    """Read-only id → LayerSpec mapping, built once at start-up."""

    def __init__(self, layers: tuple[LayerSpec, ...] = ALL_LAYERS):
        self._layers = {spec.id: spec for spec in layers}
        if len(self._layers) != len(layers):
            raise ValueError("duplicate layer ids in the catalog")

    def __getitem__(self, layer_id: str) -> LayerSpec:
        try:
            return self._layers[layer_id]
        except KeyError:
            raise LayerNotFound(layer_id) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)
