"""The API docs at /api.html: Swagger UI from npm (web/node_modules), served by us.

FastAPI's own docs page loads Swagger UI from a CDN, which a city intranet cannot reach;
this one names no other host, so it works wherever the API does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from spatial_api.maps.folium_map import WEB_ASSETS
from spatial_api.routing import StrictRoute

SWAGGER_UI = WEB_ASSETS / "swagger-ui-dist"
VENDOR = "static/vendor/swagger-ui"

router = APIRouter(tags=["docs"], route_class=StrictRoute)
# check_dir=False: a missing npm install is reported by /api.html, not by an import error.
router.mount(f"/{VENDOR}", StaticFiles(directory=SWAGGER_UI, check_dir=False), name="swagger-ui")


@router.get("/api.html", response_class=HTMLResponse, include_in_schema=False)
async def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI on the OpenAPI document at /api."""
    if not (SWAGGER_UI / "swagger-ui-bundle.js").is_file():
        raise HTTPException(503, f"{SWAGGER_UI} is missing: run `npm ci --prefix web`")
    app = request.app
    # Relative URLs, like the map's: the page works under whatever prefix a proxy adds.
    return get_swagger_ui_html(
        openapi_url=app.openapi_url.lstrip("/"),
        title=f"{app.title} API",
        swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui.css",
        swagger_favicon_url=f"{VENDOR}/favicon-32x32.png",
        # Swagger UI would otherwise send the spec to validator.swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None},
    )
