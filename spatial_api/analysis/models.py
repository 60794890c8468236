"""Request and response models of the analysis and location services."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layers.common import UTILITIES
from spatial_api.analysis.clearance_table import PRESSURE_CLASSES, ClearanceRule
from spatial_api.analysis.zones import Zone

Scalar = str | int | float | bool | None
Filter = dict[str, Scalar]

_LAYER = Field(max_length=64, description="Layer id from the catalog")
_FILTER = Field(
    default=None, max_length=20, description='Attribute equality, e.g. {"utility": "water"}'
)


Utility = Literal[UTILITIES]  # type: ignore[valid-type]  # the catalog's tuple, spread


def exactly_one(model: Any, first: str, second: str) -> Any:
    """For the "give one of two inputs" models: exactly one of the two fields is set."""
    if (getattr(model, first) is None) == (getattr(model, second) is None):
        raise ValueError(f"give exactly one of {first} or {second}")
    return model


_CRS = Field(
    default=None,
    max_length=200,
    description="CRS of input coordinates: CRS84 (default), EPSG:4326, EPSG:4490, "
    "EPSG:4549, EPSG:3857, gcj02 (AMap/Tencent), bd09 (Baidu)",
)


class Options(BaseModel):
    """What every analysis accepts: valid time, output CRS and whether to keep the answer."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    datetime_: str | None = Field(
        default=None,
        alias="datetime",
        max_length=100,
        description="Layers as of an instant (default: now)",
    )
    scenario: str | None = Field(
        default=None,
        max_length=40,
        description="Read the layers with this scenario's edits applied (what-if)",
    )
    out_crs: str | None = Field(
        default=None, max_length=200, description="CRS of the answer (default CRS84)"
    )
    save: bool = Field(default=False, description="Keep the answer as a result layer")
    ttl_s: int | None = Field(
        default=None, description="Lifetime of a saved result (default 1 day, at most 30 days)"
    )


class LayerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layer: str = _LAYER
    filter: Filter | None = _FILTER


class GeometryInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    geometry: dict[str, Any] = Field(description="A GeoJSON geometry")
    crs: str | None = _CRS


class BufferRequest(Options):
    geometry: dict[str, Any] | None = Field(default=None, description="A GeoJSON geometry")
    crs: str | None = _CRS
    layer: str | None = Field(default=None, max_length=64)
    filter: Filter | None = _FILTER
    distance_m: float = Field(description="Buffer distance, 0 < d ≤ 1,000,000 m")
    dissolve: bool = False

    @model_validator(mode="after")
    def _one_input(self) -> BufferRequest:
        return exactly_one(self, "geometry", "layer")


Technology = Literal["gsm", "umts", "lte", "nr"]


class Coverage(BaseModel):
    """How sectors become coverage wedges (see spatial_api/analysis/coverage.py)."""

    model_config = ConfigDict(extra="forbid")

    radius_m: float = Field(default=800, description="Wedge radius, 0 < r ≤ 50,000 m")
    radius_by_technology: dict[Technology, float] = Field(
        default_factory=dict, description='Radius per technology, e.g. {"nr": 300}'
    )
    dissolve_by: Literal["operator", "technology", "site_id", "all"] | None = Field(
        default=None, description="Union the wedges per value, so overlaps count once"
    )


class CoverageInput(BaseModel):
    """The sectors layer's coverage wedges as one side of an overlay."""

    model_config = ConfigDict(extra="forbid")

    coverage: Coverage
    filter: Filter | None = _FILTER


Operation = Literal["intersection", "union", "difference", "symmetric_difference", "identity"]


class OverlayRequest(Options):
    operation: Operation
    a: LayerInput | CoverageInput
    b: LayerInput | CoverageInput | GeometryInput
    group_by: list[str] | None = Field(
        default=None,
        max_length=5,
        description='Prefixed attributes to total by, e.g. ["b_name", "a_utility"]',
    )


class PointQuery(Options):
    """A point (lon/lat or x/y in `crs`) and the layer to search."""

    # Also a query-string model: `token` and other transport parameters may ride along.
    model_config = ConfigDict(extra="ignore")

    layer: str = _LAYER
    lon: float = Field(description="Longitude (or x in a projected crs)")
    lat: float = Field(description="Latitude (or y in a projected crs)")
    crs: str | None = _CRS


class Filtered(BaseModel):
    filter: Filter | None = _FILTER


class NearestQuery(PointQuery):
    k: int = Field(default=10, description="How many, at most 100")
    max_distance_m: float | None = Field(default=None, description="Search radius, ≤ 1000 km")


class NearestBody(NearestQuery, Filtered):
    """POST form of nearest: adds attribute filters."""

    model_config = ConfigDict(extra="forbid")


class WithinQuery(PointQuery):
    distance_m: float = Field(description="Radius, 0 < d ≤ 1,000,000 m")
    limit: int = Field(default=1000, description="At most 10,000 features")


class WithinBody(WithinQuery, Filtered):
    """POST form of within: adds attribute filters."""

    model_config = ConfigDict(extra="forbid")


class ReverseQuery(Options):
    model_config = ConfigDict(extra="ignore")

    lon: float
    lat: float
    crs: str | None = _CRS
    site_radius_m: float = Field(default=1000, description="Scenic sites within this radius")
    road_radius_m: float = Field(default=2000, description="Nearest road within this radius")


class Avoiding(BaseModel):
    """Roads a route or an isochrone may not use."""

    avoid: Zone | None = Field(
        default=None,
        description="Keep out of this zone (a polygon, or hazard-zone's answer). A route "
        "drives in it only to leave it or to reach a destination inside it; an isochrone "
        "not at all",
    )
    closed_roads: list[str] | None = Field(
        default=None, max_length=1000, description="asset_ids of roads to leave out"
    )


class RouteQuery(Options, Avoiding):
    from_: tuple[float, float] = Field(alias="from", description="[lon, lat] in `crs`")
    to: tuple[float, float] = Field(description="[lon, lat] in `crs`")
    crs: str | None = _CRS
    max_snap_m: float = Field(default=500, description="How far a point may be from a road")


class IsochroneQuery(Options, Avoiding):
    from_: tuple[float, float] = Field(alias="from", description="[lon, lat] in `crs`")
    crs: str | None = _CRS
    time_s: float | None = Field(default=None, description="Travel-time budget, ≤ 3 h")
    distance_m: float | None = Field(default=None, description="Network distance, ≤ 100 km")
    max_snap_m: float = 500
    edge_buffer_m: float = Field(default=25, description="Width of the area around roads")
    include_nodes: bool = Field(default=False, description="Also return the reached nodes")

    @model_validator(mode="after")
    def _one_budget(self) -> IsochroneQuery:
        return exactly_one(self, "time_s", "distance_m")


class IsolateRequest(Options):
    """A pipe break: the pipe's asset id, or a point and the utility broken there (the
    nearest pipe of that utility within max_snap_m)."""

    pipe: str | None = Field(default=None, max_length=200, description="asset_id of the pipe")
    point: tuple[float, float] | None = Field(default=None, description="[lon, lat] in `crs`")
    utility: Utility | None = Field(
        default=None,
        description="The broken pipe's utility: required with `point`, since utilities run "
        "a metre or two apart; with `pipe`, checked against it",
    )
    crs: str | None = _CRS
    max_snap_m: float = Field(default=50, description="How far the point may be from a pipe")
    max_radius_m: float = Field(
        default=3000, description="How far from the break to search for closing valves, ≤ 20,000 m"
    )
    inoperable_valves: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Valves found stuck: isolation passes through them to the next valves out",
    )
    valve_tolerance_m: float = Field(
        default=1.0,
        gt=0,
        le=50,
        description="How far a valve point may lie from its pipe; farther ones are reported",
    )

    @model_validator(mode="after")
    def _one_break(self) -> IsolateRequest:
        exactly_one(self, "pipe", "point")
        if self.point is not None and self.utility is None:
            raise ValueError(
                "a break at a point needs its `utility` (water, drainage, gas, "
                "heating, telecom or power): pipes of several run side by side"
            )
        return self


class PlannedPipe(BaseModel):
    """A pipe not yet laid, to check against what is in the ground; it may slope."""

    model_config = ConfigDict(extra="forbid")

    geometry: dict[str, Any] = Field(
        description="A GeoJSON LineString in the request's `crs`; Z in every coordinate "
        "may give its centreline level instead of the fields below"
    )
    z_m: float | None = Field(
        default=None,
        description="Centreline Z of a level pipe, in the pipelines layer's vertical "
        "reference (minus the depth below ground in the demo)",
    )
    z_start_m: float | None = Field(default=None, description="Centreline Z at the first vertex")
    z_end_m: float | None = Field(default=None, description="Centreline Z at the last vertex")
    depth_start_m: float | None = Field(
        default=None, ge=0, le=100, description="Depth at the first vertex: Z = −depth, as loaded"
    )
    depth_end_m: float | None = Field(default=None, ge=0, le=100)
    diameter_mm: float | None = Field(default=None, ge=0, le=10_000)
    utility: Utility | None = None
    pressure_class: str | None = Field(
        default=None,
        description="Gas: the layer's low/medium/high/very_high or a GB 50028 class "
        "(medium_b, medium_a, sub_high_b, sub_high_a, high_b, high_a)",
    )

    @model_validator(mode="after")
    def _one_level(self) -> PlannedPipe:
        given = [
            name
            for name, fields in (
                ("z_m", (self.z_m,)),
                ("z_start_m/z_end_m", (self.z_start_m, self.z_end_m)),
                ("depth_start_m/depth_end_m", (self.depth_start_m, self.depth_end_m)),
            )
            if any(v is not None for v in fields)
        ]
        coords = self.geometry.get("coordinates")
        if (
            isinstance(coords, list)
            and coords
            and all(isinstance(c, list) and len(c) >= 3 for c in coords)
        ):
            given.append("Z in the coordinates")
        if len(given) != 1:
            raise ValueError(
                "give the pipe's level once: z_m, z_start_m and z_end_m, depth_start_m and "
                f"depth_end_m, or Z in every coordinate (given: {', '.join(given) or 'none'})"
            )
        if (self.z_start_m is None) != (self.z_end_m is None) or (self.depth_start_m is None) != (
            self.depth_end_m is None
        ):
            raise ValueError("a sloping pipe needs its level at both ends")
        if self.pressure_class is not None and self.pressure_class not in PRESSURE_CLASSES:
            raise ValueError(f"pressure_class: use one of {', '.join(PRESSURE_CLASSES)}")
        return self


class ClearanceRequest(Options):
    """Wall-to-wall clearances between buried pipes in an area, or around a planned pipe."""

    area: dict[str, Any] | None = Field(default=None, description="GeoJSON polygon (a dig)")
    planned: PlannedPipe | None = None
    crs: str | None = _CRS
    search_m: float = Field(default=5, description="Pairs closer than this (centrelines), ≤ 50")
    clearances: list[ClearanceRule] = Field(
        default=[],
        max_length=200,
        description="Required values that override the project's and GB 50289-2016's for "
        "the pairs (and cases) they name",
    )
    fallback_horizontal_m: float = Field(
        default=0.5,
        ge=0,
        le=20,
        description="Side clearance for a pair no override or table row covers (not a GB "
        "50289 value)",
    )
    fallback_vertical_m: float = Field(
        default=0.15,
        ge=0,
        le=20,
        description="Clearance at a crossing no override or table row covers (not a GB "
        "50289 value; the shipped table has no vertical values yet)",
    )

    @model_validator(mode="after")
    def _one_input(self) -> ClearanceRequest:
        return exactly_one(self, "area", "planned")


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: int | str | None = None
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class ResultRef(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime
    href: str
    collection: str = Field(description="The same answer as an OGC collection (items, tiles)")
    tiles: str = Field(description="Its vector tiles, a {z}/{y}/{x} URL template")


class FeatureCollection(BaseModel):
    """GeoJSON; `crs` names the output CRS, `method` says how metres were measured."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    crs: str
    method: dict[str, str]
    number_returned: int
    number_matched: int | None = None
    result: ResultRef | None = None


class ResultInfo(BaseModel):
    id: str
    kind: str
    params: dict[str, Any]
    restricted: bool
    feature_count: int
    created_at: datetime
    expires_at: datetime
