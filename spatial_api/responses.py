"""Response classes and OpenAPI response descriptions shared by several routers."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from layers.links import GEOJSON

GEOJSON_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {"schema": {"type": "object"}}}}
}


class GeoJSONResponse(Response):
    media_type = GEOJSON
