"""FastAPI dependencies for the typed query values every router shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from layers.query import DATETIME_MAX_LENGTH, RECORDED_HELP, DateTimeInterval
from spatial_api import scenarios
from spatial_api.deps import PrincipalDep
from spatial_api.features.crs import parse_crs
from spatial_api.features.params import BBox

SCENARIO_HELP = "Read the city with this scenario's edits applied (what-if)"
RecordedQuery = Annotated[
    str | None, Query(max_length=DATETIME_MAX_LENGTH, description=RECORDED_HELP)
]
ScenarioQuery = Annotated[str | None, Query(max_length=40, description=SCENARIO_HELP)]


async def datetime_param(
    request: Request,
    principal: PrincipalDep,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=DATETIME_MAX_LENGTH,
            description="Valid time: an instant (the layer as it was then), or an interval "
            "a/b, ../b, a/.. (every version valid during it). Default: now.",
        ),
    ] = None,
    recorded: RecordedQuery = None,
    scenario: ScenarioQuery = None,
) -> DateTimeInterval | None:
    when = DateTimeInterval.parse(datetime_, recorded, scenario)
    await scenarios.check_readable(request.app.state.engine, principal, when)
    return when


async def history_param(
    request: Request,
    principal: PrincipalDep,
    recorded: RecordedQuery = None,
    scenario: ScenarioQuery = None,
) -> DateTimeInterval | None:
    """An asset's history takes no valid time (it is every version), only what to read it
    from: the database as it was at `recorded`, or the city with a scenario's edits."""
    when = DateTimeInterval.parse(None, recorded, scenario)
    await scenarios.check_readable(request.app.state.engine, principal, when)
    return when


async def scenario_param(
    request: Request, principal: PrincipalDep, scenario: ScenarioQuery = None
) -> str | None:
    """A scenario to read a layer in, with no valid time of its own (the caller's)."""
    when = DateTimeInterval.parse(None, None, scenario)
    await scenarios.check_readable(request.app.state.engine, principal, when)
    return when.scenario if when is not None else None


ScenarioDep = Annotated[str | None, Depends(scenario_param)]


async def bbox_param(
    bbox: Annotated[
        str | None, Query(max_length=200, description="minx,miny,maxx,maxy in bbox-crs")
    ] = None,
    bbox_crs: Annotated[
        str | None, Query(alias="bbox-crs", max_length=200, description="default CRS84")
    ] = None,
) -> BBox | None:
    return None if bbox is None else BBox.parse(bbox, parse_crs(bbox_crs, "bbox-crs"))


WhenDep = Annotated[DateTimeInterval | None, Depends(datetime_param)]
HistoryDep = Annotated[DateTimeInterval | None, Depends(history_param)]
BBoxDep = Annotated[BBox | None, Depends(bbox_param)]
