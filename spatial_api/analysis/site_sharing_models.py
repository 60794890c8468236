"""Request of POST /analysis/site-sharing (统建共用): which sites operators could share."""

from __future__ import annotations

from pydantic import Field, model_validator

from spatial_api.analysis.coverage_models import GridCoverage
from spatial_api.analysis.models import GeometryInput, Options

# Operators a structure can carry: planner defaults, not a standard (no national rule was
# found: ../shared/references/domain-facts.md §3.5). Indoor systems and small cells carry
# their own operator only, and are never moved onto a mast.
CAPACITY = {"tower": 4, "rooftop": 3, "pole": 2}


class SiteSharingRequest(Options, GridCoverage):
    max_distance_m: float = Field(
        default=200, gt=0, le=2000, description="Sites this close (geodesic) may share"
    )
    area: GeometryInput | None = Field(
        default=None, description="Only sites inside this polygon (default: the whole city)"
    )
    capacity: dict[str, int] = Field(
        default_factory=lambda: dict(CAPACITY),
        max_length=10,
        description="Operators each structure can carry, host included; a structure not "
        "named here hosts nobody",
    )
    platform_spacing_m: float = Field(
        default=3.0,
        ge=0,
        le=20,
        description="Each tenant mounts one platform lower: the k-th at host height − k·spacing",
    )
    coverage: bool = Field(
        default=True, description="Compute each cluster's coverage change with the grid model"
    )
    shared_sites: bool = Field(
        default=True, description="Also list today's shared sites and their tenants"
    )
    create_scenario: bool = Field(
        default=False,
        description="Make a scenario holding every proposed move (needs a token that "
        "writes sectors and base_stations); else each cluster carries the edits to POST",
    )
    scenario_title: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=200, ge=1, le=2000, description="Clusters at most")

    @model_validator(mode="after")
    def _consistent(self) -> SiteSharingRequest:
        if self.model == "fixed":
            raise ValueError("model: the coverage change is computed on the grid, not with fixed")
        if self.create_scenario and self.scenario is not None:
            raise ValueError("create_scenario: scenarios branch from the live city, not from one")
        if any(v < 1 for v in self.capacity.values()):
            raise ValueError("capacity: each structure carries at least its own operator")
        return self
