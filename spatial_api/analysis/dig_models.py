"""The dig report's request: the dig, how deep, the tolerance zone and the section line."""

from __future__ import annotations

from typing import Annotated, Any

import shapely
from geojson_pydantic import LineString, MultiPolygon, Polygon
from pydantic import Field, field_validator

from spatial_api.analysis.models import _CRS, Options

DigArea = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


def _valid(geom: Any, name: str) -> Any:
    """A well-formed but self-crossing ring is refused here, with GEOS's reason (422)."""
    shape = shapely.geometry.shape(geom.__geo_interface__)
    if not shape.is_valid:
        raise ValueError(f"{name}: invalid ({shapely.is_valid_reason(shape)})")
    return geom


class DigRequest(Options):
    """What is buried under a planned excavation, how deep, whose, and whom to call."""

    area: DigArea = Field(description="The dig: a GeoJSON Polygon or MultiPolygon in `crs`")
    crs: str | None = _CRS
    depth_m: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="How deep the dig goes below ground; assets whose top is shallower are "
        "at risk (without it, at_risk is null)",
    )
    tolerance_m: float = Field(
        default=0.5,
        ge=0,
        le=20,
        description="Tolerance zone each side: the dig is buffered by it (metres)",
    )
    section: LineString | None = Field(
        default=None,
        description="Line of the cross-section in `crs` (default: the dig's longest axis "
        "through its centroid, or its shortest when more pipes cross that)",
    )

    @field_validator("area")
    @classmethod
    def _valid_area(cls, v: Any) -> Any:
        return _valid(v, "area")
