"""Links between the API's documents, absolute against the public URL when one is set."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from layers.links import GEOJSON, JSON, Link

__all__ = ["GEOJSON", "JSON", "Link", "base_url", "self_url"]


def base_url(request: Request) -> str:
    public = request.app.state.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def self_url(request: Request, **replace: int | str) -> str:
    """This request's URL with some query parameters replaced (for paging links)."""
    query = dict(request.query_params) | {k: str(v) for k, v in replace.items()}
    q = urlencode(query, safe=",:/")
    return f"{base_url(request)}{request.url.path}" + (f"?{q}" if q else "")
