"""The one OGC link model, shared by the features and tiles documents."""

from __future__ import annotations

from pydantic import BaseModel

JSON = "application/json"
GEOJSON = "application/geo+json"


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None
    templated: bool | None = None
