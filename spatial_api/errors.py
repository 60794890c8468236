"""Domain errors carry their HTTP status; all of them leave as problem+json (RFC 9457)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from layers import LayerNotFound

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


class InvalidParameter(ValueError):
    """A query parameter or body value the API cannot use (→ 400)."""


class Forbidden(PermissionError):
    """A restricted layer asked for without the right credentials (→ 403)."""


class TooLarge(ValueError):
    """An input geometry or an answer bigger than the API will handle (→ 413)."""


class NotFound(LookupError):
    """Nothing to answer with: no route, no such (or an expired) result (→ 404)."""


class TileMatrixSetNotFound(LookupError):
    """A tile matrix set the tile service does not offer (→ 404)."""


class TileNotFound(LookupError):
    """A tileMatrix, tileRow or tileCol outside the tile matrix set (→ 404)."""


class FeatureNotFound(LookupError):
    """No feature with that id in a collection (→ 404)."""


STATUS: dict[type[Exception], tuple[int, str]] = {
    LayerNotFound: (404, "Layer not found"),
    InvalidParameter: (400, "Invalid parameter"),
    Forbidden: (403, "Restricted layer"),
    FeatureNotFound: (404, "Feature not found"),
    TooLarge: (413, "Too large"),
    NotFound: (404, "Not found"),
    TileMatrixSetNotFound: (404, "Tile matrix set not found"),
    TileNotFound: (404, "Tile not found"),
}


def install(app: FastAPI) -> None:
    for exc_type, (status, title) in STATUS.items():
        def handler(request: Request, exc: Exception, status=status, title=title):
            return problem(status, title, str(exc))
        app.add_exception_handler(exc_type, handler)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "HTTP error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "the server failed; see its log")
