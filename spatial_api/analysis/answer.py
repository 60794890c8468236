"""Turn rows into the answer: output CRS, optional saving as a result layer, the envelope."""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.access import Principal
from layers.errors import TooLarge
from spatial_api import scenarios
from spatial_api.analysis import METHOD
from spatial_api.analysis.geometry import parse_crs, project_features
from spatial_api.analysis.models import FeatureCollection, Options, ResultRef
from spatial_api.analysis.results import check_ttl, save_result

MAX_FEATURES = 10_000


def feature(fid: Any, geometry: dict | None, properties: dict[str, Any]) -> dict:
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


async def answer(
    conn: AsyncConnection,
    kind: str,
    request: Options,
    features: list[dict],
    restricted: bool,
    principal: Principal,
) -> FeatureCollection:
    """Features arrive in CRS84; saved results keep them in storage CRS, whatever out_crs is."""
    if request.scenario is not None:  # the answer is withheld, not only the scenario
        await scenarios.get(conn, principal, request.scenario)
    out = parse_crs(request.out_crs, "out_crs")
    if len(features) > MAX_FEATURES:
        raise TooLarge(
            f"{len(features)} features in the answer, at most {MAX_FEATURES}: "
            "narrow the input or filter"
        )
    ref = None
    if request.save:
        check_ttl(request.ttl_s)
        params = request.model_dump(mode="json", by_alias=True, exclude={"save", "ttl_s"})
        saved = await save_result(
            conn, kind, params, features, restricted, request.ttl_s, principal
        )
        collection = f"/collections/result-{saved['id']}"
        ref = ResultRef(
            **saved,
            href=f"/results/{saved['id']}",
            collection=collection,
            tiles=f"{collection}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}",
        )
    projected = await run_in_threadpool(project_features, features, out)
    return FeatureCollection(
        features=projected, crs=out.name, method=METHOD, number_returned=len(projected), result=ref
    )
