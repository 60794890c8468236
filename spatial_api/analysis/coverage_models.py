"""Requests of the coverage services: the fixed wedges, the link-budget grid, and its statistics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layers.errors import InvalidParameter
from spatial_api.analysis.models import (
    Coverage,
    Filter,
    GeometryInput,
    LayerInput,
    Options,
    Technology,
)

PropagationModel = Literal["fspl", "hata", "cost231", "uma", "fixed"]
_SECTORS = Field(
    default=None, max_length=20, description='Which sectors, e.g. {"operator": "china_mobile"}'
)


class GridCoverage(BaseModel):
    """How sectors become received power on a grid (spatial_api/analysis/coverage_grid.py)."""

    model_config = ConfigDict(extra="forbid")

    model: PropagationModel | None = Field(
        default=None,
        description="Path-loss model: fspl, hata (150–1500 MHz), cost231 (1500–2000 MHz), "
        "uma (TR 38.901, 0.5–100 GHz) or fixed (a radius per technology). Default: per "
        "sector by its frequency, uma where the antenna is below hata's 30 m",
    )
    threshold_dbm: float | None = Field(
        default=None,
        ge=-200,
        le=0,
        description="Received power a covered cell needs, for every technology (default "
        "per technology: gsm −90, umts −95, lte −110 RSRP, nr −105 SS-RSRP)",
    )
    threshold_by_technology: dict[Technology, float] = Field(
        default_factory=dict, description='Threshold per technology, e.g. {"nr": -100}'
    )
    rx_height_m: float = Field(default=1.5, gt=0, le=30, description="Receiver height")
    environment: Literal["urban", "suburban", "rural"] = Field(
        default="urban", description="Hata's area class; cost231's Cm (urban 3 dB, else 0)"
    )
    cell_m: float = Field(default=25, ge=5, le=500, description="Grid cell size, metres")


class CoverageRequest(Options, GridCoverage, Coverage):
    filter: Filter | None = _SECTORS
    output: Literal["coverage", "best_server", "overlap"] = Field(
        default="coverage",
        description="coverage: where each sector (or dissolve_by group) meets its threshold; "
        "best_server: the cells each sector serves best among its operator's; overlap: "
        "cells where at least overlap_servers of an operator's sectors lie within "
        "overlap_db of the best (pilot pollution)",
    )
    overlap_db: float = Field(default=6, gt=0, le=100)
    overlap_servers: int = Field(default=4, ge=2, le=50)

    @model_validator(mode="after")
    def _consistent(self) -> CoverageRequest:
        if self.model != "fixed":
            if given := {"radius_m", "radius_by_technology"} & self.model_fields_set:
                raise ValueError(f"{' and '.join(sorted(given))}: for model fixed only")
            if self.output != "coverage" and self.dissolve_by is not None:
                raise ValueError(f"dissolve_by: not with output {self.output}")
        elif self.output != "coverage":
            raise ValueError("output: model fixed draws coverage wedges only")
        return self


class CoverageStatsRequest(Options, GridCoverage):
    """Covered area, % covered and holes per area (a polygon layer or a drawn polygon)."""

    filter: Filter | None = _SECTORS
    areas: LayerInput | GeometryInput = Field(
        default_factory=lambda: LayerInput(layer="districts"),
        description="A polygon layer (default districts) or a GeoJSON polygon",
    )
    holes: bool = Field(default=True, description="Return the uncovered parts as polygons")
    min_hole_m2: float | None = Field(
        default=None, ge=0, description="Smaller holes are left out (default: one cell)"
    )
    max_holes: int = Field(default=20, ge=0, le=1000, description="Per area and operator")
    rank_holes_by: Literal["area", "people"] = Field(
        default="area", description="people: the holes most people live in first"
    )

    @model_validator(mode="after")
    def _grid_model(self) -> CoverageStatsRequest:
        if self.model == "fixed":
            raise ValueError("model: statistics are computed on the grid, not with fixed")
        return self


class CoverageTileQuery(BaseModel):
    """Query of a coverage PNG tile: the grid's radio parameters (scalars only, as a query
    string carries them) and which sectors."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model: PropagationModel | None = None
    threshold_dbm: float | None = Field(default=None, ge=-200, le=0)
    rx_height_m: float = Field(default=1.5, gt=0, le=30)
    environment: Literal["urban", "suburban", "rural"] = "urban"
    cell_m: float = Field(default=25, ge=5, le=500)
    operator: str | None = Field(default=None, max_length=40, description="One operator")
    technology: Technology | None = None
    show: Literal["rx", "best_server"] = Field(
        default="rx", description="rx: received power (dBm ramp); best_server: a colour each"
    )
    datetime_: str | None = Field(
        default=None, alias="datetime", max_length=100, description="Sectors as of an instant"
    )
    scenario: str | None = Field(
        default=None, max_length=40, description="The sectors with this scenario's edits"
    )

    def grid(self) -> GridCoverage:
        if self.model == "fixed":
            raise InvalidParameter("model: tiles are drawn from the grid, not with fixed")
        return GridCoverage.model_validate(
            self.model_dump(
                include={"model", "threshold_dbm", "rx_height_m", "environment", "cell_m"}
            )
        )
