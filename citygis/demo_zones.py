"""The demo's recorded hazard zones, drawn at load time by the API's own hazard code.

`loaders.demo_city.emergency.zone_plans` says what the command centre asked for and when
(pure data: loaders may not import the API); here each request is drawn by
`spatial_api.analysis.hazard.hazard_zone` in PostGIS, exactly as `POST /analysis/hazard-zone`
with `incident` and `record` would draw and record it, and the rings become a history
frame for `hazard_zones` (asset `{incident}/{ring}`, one row per ring per period).
"""

from __future__ import annotations

import asyncio

import geopandas as gpd
import pandas as pd
from pydantic import TypeAdapter
from shapely.geometry import shape

from citygis.db import make_async_engine
from layers.spec import STORAGE_SRID
from spatial_api.analysis.hazard import hazard_zone
from spatial_api.analysis.hazard_models import HazardRequest, HazardZoneRequest
from spatial_api.analysis.incident_zones import inputs_of, zone_feature

REQUEST: TypeAdapter[HazardRequest] = TypeAdapter(HazardZoneRequest)


async def _draw(url: str, plans: pd.DataFrame) -> list[dict]:
    engine = make_async_engine(url, pool_size=1)
    rows: list[dict] = []
    try:
        async with engine.connect() as conn:
            for plan in plans.itertuples(index=False):
                req = REQUEST.validate_python(plan.request | {"incident": plan.incident_id})
                at = {"point": (plan.lon, plan.lat), "crs": f"EPSG:{STORAGE_SRID}"}
                drawn = await hazard_zone(conn, req.model_copy(update=at))
                for i, f in enumerate(drawn, start=1):
                    z = zone_feature(plan.incident_id, f, i, req, inputs_of(req))
                    rows.append(
                        z["properties"]
                        | {
                            "asset_id": z["id"],
                            "valid_from": plan.valid_from,
                            "valid_to": plan.valid_to,
                            "geometry": shape(z["geometry"]),
                        }
                    )
    finally:
        await engine.dispose()
    return rows


def demo_zones(url: str, plans: pd.DataFrame) -> gpd.GeoDataFrame:
    """The plans' rings as hazard_zones versions (CRS84, as the answer gives them)."""
    rows = asyncio.run(_draw(url, plans))
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs="EPSG:4326")
    frame.attrs["synthetic"] = True
    return frame
