"""Requests of the emergency analyses: impact, shelter assignment and responders."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spatial_api.analysis.models import _CRS, Avoiding, Filter, Options, exactly_one
from spatial_api.analysis.zones import Zone

_INCIDENT = Field(
    default=None,
    min_length=1,
    max_length=200,
    description="An incident's asset id instead of a zone: its hazard zones as recorded "
    "(hazard_zones) as of `datetime`",
)

ImpactLayer = Literal[
    "protected_targets",
    "scenic_sites",
    "shelters",
    "hazard_sources",
    "pipelines",
    "base_stations",
    "roads",
    "population",
]


class Visitors(BaseModel):
    """How many are at a scenic site at once, from its daily capacity (LB/T 034-2014:
    daily capacity = instantaneous capacity × opening hours / average visit)."""

    model_config = ConfigDict(extra="forbid")

    visit_h: float = Field(
        default=3, gt=0, le=24, allow_inf_nan=False, description="Average visit (assumed)"
    )
    open_h: float = Field(
        default=10, gt=0, le=24, allow_inf_nan=False, description="Daily opening (assumed)"
    )

    @model_validator(mode="after")
    def _visit_fits(self) -> Visitors:
        if self.visit_h > self.open_h:
            raise ValueError("visit_h: a visit cannot outlast the opening hours (open_h)")
        return self


class GasIsolation(BaseModel):
    """How the gas valves to close are found: /analysis/isolate's kernel, once per zone."""

    model_config = ConfigDict(extra="forbid")

    reach_m: float = Field(
        default=3000,
        ge=0,
        le=20_000,
        allow_inf_nan=False,
        description="How far beyond the zone to look for closing valves",
    )
    valve_tolerance_m: float = Field(
        default=1.0,
        gt=0,
        le=50,
        allow_inf_nan=False,
        description="How far a valve point may lie from its pipe",
    )
    inoperable_valves: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Valves found stuck: isolation passes through them to the next valves out",
    )


class ZoneOrIncident(Options):
    """A zone given, or an incident's recorded zones (exactly one)."""

    zone: Zone | None = None
    incident: str | None = _INCIDENT
    crs: str | None = _CRS

    @model_validator(mode="after")
    def _one_zone(self) -> ZoneOrIncident:
        return exactly_one(self, "zone", "incident")


class ImpactRequest(ZoneOrIncident):
    layers: list[ImpactLayer] | None = Field(
        default=None,
        min_length=1,
        description="What to report (default: every layer the caller may read; restricted "
        "ones it may not are listed as `withheld`). Naming one it may not read is a 403. "
        "`population` counts the population layer's people; `pipelines` also finds the gas "
        "valves to close.",
    )
    visitors: Visitors = Field(default_factory=Visitors)
    gas: GasIsolation = Field(default_factory=GasIsolation)


ShelterClass = Literal["emergency", "fixed"]


class Origin(BaseModel):
    """People at a place, typed in: they replace the population layer's."""

    model_config = ConfigDict(extra="forbid")

    point: tuple[float, float] = Field(description="[lon, lat] in `crs`")
    people: int = Field(ge=0, le=10_000_000)
    id: str | None = Field(default=None, max_length=100)


class ShelterAssignmentRequest(ZoneOrIncident):
    """People in the zone to open shelters outside every zone, by road time."""

    origins: list[Origin] | None = Field(
        default=None,
        min_length=1,
        max_length=5000,
        description="Where the people are, typed in. Without: the population layer's cells "
        "in the zone (each cell's share inside); with no cells there, protected targets' "
        "occupants",
    )
    shelter_class: ShelterClass = Field(
        default="emergency",
        description="Sets the area per person when a shelter has no capacity: emergency "
        "1 m², fixed 2 m² (GB 50413-2007 8.2.8)",
    )
    search_m: float = Field(
        default=5000,
        description="Shelters within this distance of the zone are candidates, ≤ 50,000 m",
    )
    max_time_s: float | None = Field(
        default=None, description="Longest drive to a shelter; further shelters are not used"
    )
    include_visitors: bool = Field(
        default=False, description="Also evacuate scenic sites' estimated visitors"
    )
    visitors: Visitors = Field(default_factory=Visitors)
    max_snap_m: float = Field(default=500, description="How far a place may be from a road")


class RespondersRequest(Options, Avoiding):
    """The nearest resources to a scene by road time, keeping out of the zone."""

    scene: tuple[float, float] | None = Field(default=None, description="[lon, lat] in `crs`")
    incident: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="An incident's asset id instead of `scene` and `avoid`: its place and "
        "its recorded hazard zones as of `datetime`",
    )
    crs: str | None = _CRS
    layer: str = Field(
        default="emergency_resources", max_length=64, description="The resources' point layer"
    )
    filter: Filter | None = Field(
        default=None,
        max_length=20,
        description='Attribute equality, e.g. {"kind": "fire_station", "status": "in_service"}',
    )
    k: int = Field(default=2, ge=1, le=20, description="How many")
    search_m: float = Field(default=10_000, description="Resources within this, ≤ 50,000 m")
    max_snap_m: float = Field(default=500, description="How far a place may be from a road")

    @model_validator(mode="after")
    def _scene(self) -> RespondersRequest:
        exactly_one(self, "scene", "incident")
        if self.incident is not None and self.avoid is not None:
            raise ValueError("avoid: an incident's recorded zones are what is avoided")
        return self
