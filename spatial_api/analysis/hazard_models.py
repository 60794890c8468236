"""Requests of POST /analysis/hazard-zone: a point (or an incident) and one preset's inputs,
told by `preset`; and its answer, which says what `record` wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spatial_api.analysis.models import _CRS, FeatureCollection, Options, exactly_one

WindFrom = Annotated[
    float,
    Field(
        ge=0,
        le=360,
        allow_inf_nan=False,
        description="Meteorological wind direction: where the wind blows FROM, degrees "
        "clockwise from north (270: a west wind, so the zone lies east)",
    ),
]
Spill = Literal["small", "large"]


class HazardPoint(Options):
    """Where it happened: a point in `crs`, or an incident's (its point, or centroid, as of
    `datetime`); an incident's zones may be recorded in the hazard_zones layer."""

    point: tuple[float, float] | None = Field(
        default=None, description="[lon, lat] (or [x, y]) in `crs`"
    )
    incident: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="An incident's asset id instead of `point`: its place as of `datetime`",
    )
    crs: str | None = _CRS
    record: bool = Field(
        default=False,
        description="With `incident`: write the zones to the hazard_zones layer as versions "
        "(asset ids {incident}/{ring}) at `valid_from`, closing the incident's rings absent "
        "from this answer; needs a role that writes hazard_zones",
    )
    valid_from: str | None = Field(
        default=None,
        max_length=64,
        description="With `record`: when the zones take effect (valid time; default now)",
    )

    @model_validator(mode="after")
    def _where(self) -> HazardPoint:
        exactly_one(self, "point", "incident")
        if self.record and self.incident is None:
            raise ValueError("record: only an incident's zones are recorded; give incident")
        if self.valid_from is not None and not self.record:
            raise ValueError("valid_from: it says when recorded zones take effect; set record")
        return self


class ErgRequest(HazardPoint):
    """ERG 2016 Table 1 (small spills) and Table 3 (large spills of six TIH gases)."""

    preset: Literal["erg"]
    material: str = Field(
        min_length=1, max_length=100, description="UN number (1017 or UN1017) or name (chlorine)"
    )
    spill: Spill = Field(description="small: under 208 L (55 US gal); large: over 208 L")
    time_of_day: Literal["day", "night"] = Field(
        description="day: sunrise to sunset; night: sunset to sunrise"
    )
    wind_from_deg: WindFrom = Field(
        description="Where the wind blows FROM (the protective action zone lies downwind)"
    )
    container: str | None = Field(
        default=None,
        max_length=100,
        description="Large spills of Table 3 gases only, e.g. rail_tank_car",
    )
    wind_class: Literal["low", "moderate", "high"] | None = Field(
        default=None, description="Large spills of Table 3 gases only (ERG's wind classes)"
    )


class Erg115Request(HazardPoint):
    """ERG Guide 115, flammable gases: isolation, and a BLEVE evacuation by tank size."""

    preset: Literal["erg115"]
    material: str = Field(
        min_length=1,
        max_length=100,
        description="lpg, propane, butane (or UN1075, UN1978, UN1011), natural_gas_pipeline",
    )
    spill: Spill | None = Field(default=None, description="Required for lpg, propane and butane")
    in_fire: bool = Field(
        default=False, description="A tank, rail car or tank truck is involved in a fire"
    )
    tank_capacity_l: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="The tank's capacity in litres: adds the BLEVE evacuation circle",
    )
    wind_from_deg: WindFrom | None = Field(
        default=None, description="Recorded with the zones; Guide 115 has no downwind zone"
    )


class BombRequest(HazardPoint):
    """NCTC stand-off distances: mandatory evacuation, then shelter in place."""

    preset: Literal["bomb"]
    device: str = Field(
        min_length=1,
        max_length=60,
        description="pipe_bomb, suicide_vest, briefcase_suitcase, sedan, suv_van, "
        "small_delivery_truck, container_water_truck or semi_trailer",
    )
    wind_from_deg: WindFrom | None = Field(
        default=None, description="Recorded with the zones; stand-off circles ignore wind"
    )


class DownwindSector(BaseModel):
    model_config = ConfigDict(extra="forbid")

    angle_deg: float = Field(
        gt=0, le=360, allow_inf_nan=False, description="Full opening, centred on downwind"
    )
    length_m: float = Field(allow_inf_nan=False, description="Radius, 0 < r ≤ 1,000,000 m")


class CustomRequest(HazardPoint):
    """A zone the commander draws: a circle or a polygon, and optionally a downwind sector."""

    preset: Literal["custom"]
    radius_m: float | None = Field(
        default=None, allow_inf_nan=False, description="A circle about the point, ≤ 1,000,000 m"
    )
    polygon: dict[str, Any] | None = Field(
        default=None, description="A GeoJSON Polygon or MultiPolygon in `crs`"
    )
    sector: DownwindSector | None = None
    wind_from_deg: WindFrom | None = Field(default=None, description="Required with `sector`")

    @model_validator(mode="after")
    def _inputs(self) -> CustomRequest:
        exactly_one(self, "radius_m", "polygon")
        if self.sector is not None and self.wind_from_deg is None:
            raise ValueError("a downwind sector needs wind_from_deg, where the wind blows from")
        return self


HazardRequest = ErgRequest | Erg115Request | BombRequest | CustomRequest
HazardZoneRequest = Annotated[HazardRequest, Field(discriminator="preset")]


class RecordedZone(BaseModel):
    ring: str
    asset_id: str
    version_id: int


class Recorded(BaseModel):
    """What `record` wrote to hazard_zones: one version per ring, and the rings it closed."""

    incident: str
    valid_from: datetime
    zones: list[RecordedZone]
    closed: list[str] = Field(description="Asset ids of the incident's rings closed then")


class HazardZoneCollection(FeatureCollection):
    recorded: Recorded | None = None
