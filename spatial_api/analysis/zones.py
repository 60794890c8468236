"""A hazard zone as analysis input: a polygon, or /analysis/hazard-zone's answer as it came.

The answer of hazard-zone can be posted back unchanged: each of its features is a *ring*,
named by its `zone` property (isolation, protective_action, evacuation, …), in the order
given, innermost first. Rings are made exclusive in that order, ring k being its polygon
less the rings before it, so what lies in the isolation circle and the protective square
is counted once, in the isolation ring, and ring totals add up to the whole zone's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field

from layers.errors import InvalidParameter
from layers.spec import STORAGE_SRID
from spatial_api.analysis.geometry import CrsChoice, parse_crs, parse_geometry

MAX_RINGS = 20


class ZoneGeometry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any]


class ZoneFeature(BaseModel):
    model_config = ConfigDict(extra="allow")  # hazard-zone's features carry more

    type: Literal["Feature"]
    id: int | str | None = None
    geometry: ZoneGeometry
    properties: dict[str, Any] | None = None


class ZoneCollection(BaseModel):
    """hazard-zone's answer; its `crs` (the answer's out_crs), when set, reads the coordinates."""

    model_config = ConfigDict(extra="allow")  # method, number_returned, result …

    type: Literal["FeatureCollection"]
    features: list[ZoneFeature] = Field(min_length=1, max_length=MAX_RINGS)
    crs: str | None = None


Zone = Annotated[
    ZoneGeometry | ZoneFeature | ZoneCollection,
    Field(
        discriminator="type",
        description="A GeoJSON Polygon or MultiPolygon, a Feature of one, or a "
        "FeatureCollection of them such as /analysis/hazard-zone's answer (one ring each, "
        "innermost first)",
    ),
]


@dataclass(frozen=True)
class Ring:
    name: str
    geom: shapely.Geometry  # in `srid`, Chinese offsets removed
    srid: int
    properties: dict[str, Any]


def _name(f: ZoneFeature, i: int) -> str:
    zone = (f.properties or {}).get("zone")
    if isinstance(zone, str) and zone:
        return zone
    return str(f.id) if f.id is not None else f"ring{i + 1}"


def zone_rings(zone: ZoneGeometry | ZoneFeature | ZoneCollection, crs: str | None) -> list[Ring]:
    """The zone's rings, named and parsed, in `crs`; a collection that names its own CRS
    (hazard-zone's answer does: its out_crs) is read in that one."""
    if isinstance(zone, ZoneCollection):
        choice = parse_crs(zone.crs or crs)
        features = zone.features
    else:
        choice = parse_crs(crs)
        features = [zone] if isinstance(zone, ZoneFeature) else []
    if not features:
        assert isinstance(zone, ZoneGeometry)
        return [Ring("zone", _polygon(zone, choice, "zone"), choice.srid, {})]
    rings: list[Ring] = []
    for i, f in enumerate(features):
        name = _name(f, i)
        if any(r.name == name for r in rings):
            name = f"{name}_{i + 1}"
        rings.append(
            Ring(name, _polygon(f.geometry, choice, name), choice.srid, f.properties or {})
        )
    return rings


def _polygon(g: ZoneGeometry, crs: CrsChoice, name: str) -> shapely.Geometry:
    try:
        return parse_geometry(g.model_dump(), crs)
    except InvalidParameter as exc:
        raise InvalidParameter(f"zone {name!r}: {exc}") from None


def rings_cte(rings: list[Ring]) -> tuple[str, dict[str, Any]]:
    """CTEs `z` (i from 1, each ring's whole polygon) and `r` (i, the exclusive part `geom`,
    the whole `zone`) in storage CRS, for a `WITH` clause."""
    sql = f"""
z AS (SELECT u.i, ST_Transform(ST_GeomFromWKB(u.w, :z_srid), {STORAGE_SRID}) AS geom
      FROM unnest(CAST(:z_wkb AS bytea[])) WITH ORDINALITY AS u(w, i)),
r AS (SELECT z.i, COALESCE(ST_Difference(z.geom, (SELECT ST_Union(y.geom) FROM z y
                                                  WHERE y.i < z.i)), z.geom) AS geom,
             z.geom AS whole
      FROM z)"""
    return sql, {"z_wkb": [shapely.to_wkb(r.geom) for r in rings], "z_srid": rings[0].srid}


def union_sql(rings: list[Ring], prefix: str = "u") -> tuple[str, dict[str, Any]]:
    """One SQL expression for the union of every ring, in storage CRS."""
    union = shapely.union_all([r.geom for r in rings])
    return (
        f"ST_Transform(ST_GeomFromWKB(:{prefix}_wkb, :{prefix}_srid), {STORAGE_SRID})",
        {f"{prefix}_wkb": shapely.to_wkb(union), f"{prefix}_srid": rings[0].srid},
    )
