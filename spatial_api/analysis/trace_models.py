"""The request of /analysis/trace."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from spatial_api.analysis.models import _CRS, Options, Utility


class TraceRequest(Options):
    """Where a trace starts: a pipe, a node, or a point and the utility to snap to there."""

    direction: Literal["downstream", "upstream", "connected"] = Field(
        description="Along the flow, against it, or the whole connected network"
    )
    pipe: str | None = Field(default=None, max_length=200, description="asset_id of a pipe")
    node: str | None = Field(default=None, max_length=200, description="asset_id of a node")
    point: tuple[float, float] | None = Field(default=None, description="[lon, lat] in `crs`")
    utility: Utility | None = Field(
        default=None,
        description="Required with `point` (the nearest pipe of it is the start); with "
        "`pipe` or `node`, checked against it",
    )
    crs: str | None = _CRS
    max_snap_m: float = Field(default=50, description="How far the point may be from a pipe")
    max_radius_m: float = Field(
        default=5000, description="How far from the start the network is read, ≤ 20,000 m"
    )

    @model_validator(mode="after")
    def _one_start(self) -> TraceRequest:
        given = [k for k in ("pipe", "node", "point") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of pipe, node or point")
        if self.point is not None and self.utility is None:
            raise ValueError(
                "a trace from a point needs its `utility`: pipes of several run side by side"
            )
        return self
