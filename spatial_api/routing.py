"""Route classes: every route refuses query parameters it does not know.

A silently ignored parameter reads as an answer to the question asked
(`?sensor_kind=gas_concentration` returning every sensor), so each route names the
parameters it declares and any other is a 400 naming it. Routes whose parameters include
catalog attribute filters (`?utility=gas` on items and tiles) check those themselves
against the catalog, and mark themselves with `attribute_filters`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from layers.errors import InvalidParameter

# Taken by every route: credentials (spatial_api/deps.py) and the output format.
TRANSPORT = frozenset({"token", "f"})
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def attribute_filters(endpoint: Endpoint) -> Endpoint:
    """Mark a route that takes catalog attributes as query parameters and checks them."""
    endpoint.attribute_filters = True  # type: ignore[attr-defined]
    return endpoint


def declared_query(dependant: Dependant) -> frozenset[str]:
    """The query parameter names a route declares, its dependencies' included."""
    names: set[str] = set()
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # `Annotated[M, Query()]`
            names |= {f.alias or n for n, f in model.model_fields.items()}
        else:
            names.add(param.alias)
    for sub in dependant.dependencies:
        names |= declared_query(sub)
    return frozenset(names) | TRANSPORT


class StrictRoute(APIRoute):
    """A route that answers 400 to a query parameter it does not declare."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if getattr(self.endpoint, "attribute_filters", False):
            return handler
        known = declared_query(self.dependant)

        async def strict_handler(request: Request) -> Response:
            if unknown := sorted(set(request.query_params) - known):
                takes = ", ".join(sorted(known - TRANSPORT)) or "no query parameters"
                raise InvalidParameter(
                    f"unknown query parameter(s) {', '.join(unknown)}; "
                    f"{request.url.path} takes {takes}"
                )
            return await handler(request)

        return strict_handler


class OgcRoute(StrictRoute):
    """OGC API Features wants 400 for an invalid query parameter, not FastAPI's 422."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as e:
                if not all(err["loc"][0] == "query" for err in e.errors()):
                    raise
                raise InvalidParameter(
                    "; ".join(f"{err['loc'][-1]}: {err['msg']}" for err in e.errors())
                ) from None

        return route_handler
