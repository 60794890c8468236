"""The items query parameters as one self-validating model, built by a dependency."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any

import shapely
from fastapi import Query, Request
from pyproj import Transformer

from layers import LayerSpec
from layers.errors import InvalidParameter
from layers.query import RECORDED_HELP, DateTimeInterval, typed_value
from layers.source import VERSION_PROPS
from loaders.chinese_offsets import to_wgs84
from spatial_api.deps import LayerDep
from spatial_api.features.crs import Crs, parse_crs

MAX_LIMIT = 10_000
RESERVED = {
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "crs",
    "datetime",
    "recorded",
    "scenario",
    "properties",
    "sortby",
    "filter",
    "filter-lang",
    "filter-crs",
    "f",
    "token",
}
# The asset id goes by both names: `id` in OGC documents, `asset_id` in tables and answers.
ASSET_ID_NAMES = ("id", "asset_id")
FORMATS = {"json", "geojson", "application/json", "application/geo+json"}


@dataclass(frozen=True)
class BBox:
    """bbox=minx,miny,maxx,maxy (or 6 numbers with heights) in the order of its CRS axes."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    crs: Crs

    @classmethod
    def parse(cls, text: str, crs: Crs) -> BBox:
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise InvalidParameter(f"bbox: {text!r} is not a list of numbers") from None
        if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
            raise InvalidParameter("bbox: expected 4 or 6 finite numbers")
        half = len(values) // 2
        low, high = values[:half], values[half:]
        if any(a > b for a, b in zip(low, high, strict=True)):
            raise InvalidParameter("bbox: a lower corner value exceeds its upper one")
        x0, y0, x1, y1 = low[0], low[1], high[0], high[1]
        if crs.latlon:
            x0, y0, x1, y1 = y0, x0, y1, x1
        if crs.geographic and (x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90):
            raise InvalidParameter("bbox: longitude must be within ±180 and latitude ±90")
        return cls(x0, y0, x1, y1, crs)

    def lonlat(self) -> tuple[float, float, float, float]:
        """west, south, east, north in WGS 84 lon/lat (corners moved, for drawing)."""
        if self.crs.geographic and not self.crs.offset:
            return self.minx, self.miny, self.maxx, self.maxy
        if self.crs.offset:
            box = shapely.box(self.minx, self.miny, self.maxx, self.maxy)
            return tuple(to_wgs84(box, self.crs.offset).bounds)
        xs, ys = (
            [self.minx, self.maxx, self.maxx, self.minx],
            [self.miny, self.miny, self.maxy, self.maxy],
        )
        lons, lats = Transformer.from_crs(self.crs.srid, 4326, always_xy=True).transform(xs, ys)
        return min(lons), min(lats), max(lons), max(lats)

    def as_geojson(self) -> dict:
        ring = [
            [self.minx, self.miny],
            [self.maxx, self.miny],
            [self.maxx, self.maxy],
            [self.minx, self.maxy],
            [self.minx, self.miny],
        ]
        if self.crs.latlon:  # storage_geometry flips it back
            ring = [[y, x] for x, y in ring]
        return {"type": "Polygon", "coordinates": [ring]}


@dataclass(frozen=True)
class ItemsQuery:
    limit: int = 10
    offset: int = 0
    bbox: BBox | None = None
    crs: Crs = field(default_factory=lambda: parse_crs(None, "crs"))
    when: DateTimeInterval | None = None
    properties: tuple[str, ...] | None = None
    sortby: tuple[tuple[str, bool], ...] = ()  # (name, descending)
    equals: tuple[tuple[str, Any], ...] = ()
    filter: str | None = None
    filter_lang: str = "cql2-text"
    filter_crs: Crs = field(default_factory=lambda: parse_crs(None, "filter-crs"))


def _names(spec: LayerSpec) -> set[str]:
    return {a.name for a in spec.attributes} | set(VERSION_PROPS)


def parse_properties(spec: LayerSpec, text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if unknown := [n for n in names if n not in _names(spec)]:
        raise InvalidParameter(f"properties: unknown {', '.join(unknown)} in {spec.id!r}")
    return names


def parse_sortby(spec: LayerSpec, text: str | None) -> tuple[tuple[str, bool], ...]:
    keys = []
    for raw in (text or "").split(","):
        key = raw.strip()
        if not key:
            continue
        desc = key.startswith("-")
        name = key.lstrip("+- ")
        if name not in _names(spec) | {"id", "asset_id"}:
            raise InvalidParameter(f"sortby: unknown property {name!r} in {spec.id!r}")
        keys.append((name, desc))
    return tuple(keys)


def attribute_filters(spec: LayerSpec, request: Request) -> tuple[tuple[str, Any], ...]:
    """`?utility=gas`: equality on catalog attributes; other unknown parameters are refused."""
    attrs = {a.name: a for a in spec.attributes}
    extra = [k for k in request.query_params if k not in RESERVED]
    if unknown := [k for k in extra if k not in attrs and k not in ASSET_ID_NAMES]:
        raise InvalidParameter(
            f"unknown query parameter(s) {', '.join(sorted(set(unknown)))}; "
            f"{spec.id!r} filters on id, {', '.join(attrs)}"
        )
    return tuple(
        ("asset_id", request.query_params[k])
        if k in ASSET_ID_NAMES
        else (k, typed_value(attrs[k], request.query_params[k]))
        for k in dict.fromkeys(extra)
    )


def check_page(limit: int, offset: int, f: str | None) -> None:
    """The paging and format parameters every items page shares (→ 400)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter(f"limit: {limit} is outside 1..{MAX_LIMIT}")
    if offset < 0:
        raise InvalidParameter("offset: must not be negative")
    if f is not None and f.lower() not in FORMATS:
        raise InvalidParameter(f"f: unsupported format {f!r}; only json")


async def items_query(
    request: Request,
    layer: LayerDep,
    limit: Annotated[int, Query(description=f"Features per page, 1 to {MAX_LIMIT}")] = 10,
    offset: Annotated[int, Query(description="Features to skip (paging)")] = 0,
    bbox: Annotated[
        str | None, Query(max_length=400, description="minx,miny,maxx,maxy[,…] in bbox-crs")
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=200)] = None,
    crs: Annotated[str | None, Query(max_length=200, description="Output CRS")] = None,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=100,
            description="Valid time: instant, or interval a/b, ../b, a/.. (all versions)",
        ),
    ] = None,
    recorded: Annotated[str | None, Query(max_length=100, description=RECORDED_HELP)] = None,
    scenario: Annotated[
        str | None, Query(max_length=40, description="Read with this scenario's edits")
    ] = None,
    properties: Annotated[str | None, Query(max_length=2000)] = None,
    sortby: Annotated[
        str | None, Query(max_length=2000, description="e.g. +name,-capacity")
    ] = None,
    filter_: Annotated[str | None, Query(alias="filter", max_length=20_000)] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang", max_length=20)] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", max_length=200)] = None,
    f: Annotated[str | None, Query(max_length=40, description="json (the only format)")] = None,
) -> ItemsQuery:
    check_page(limit, offset, f)
    if filter_lang not in (None, "cql2-text", "cql2-json"):
        raise InvalidParameter(f"filter-lang: {filter_lang!r} is not cql2-text or cql2-json")
    return ItemsQuery(
        limit=limit,
        offset=offset,
        bbox=BBox.parse(bbox, parse_crs(bbox_crs, "bbox-crs")) if bbox is not None else None,
        crs=parse_crs(crs, "crs"),
        when=DateTimeInterval.parse(datetime_, recorded, scenario),
        properties=parse_properties(layer, properties),
        sortby=parse_sortby(layer, sortby),
        equals=attribute_filters(layer, request),
        filter=filter_,
        filter_lang=filter_lang or "cql2-text",
        filter_crs=parse_crs(filter_crs, "filter-crs"),
    )
