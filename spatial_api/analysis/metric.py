"""SQL snippets that measure in metres (see the package docstring for the method and errors)."""

from __future__ import annotations

from layers.spec import STORAGE_SRID

QUAD_SEGS = 32  # 128 segments per circle: the inscribed polygon loses 0.04 % of the area


def aeqd(geom: str) -> str:
    """PROJ string of an azimuthal equidistant projection centred on the geometry's centroid."""
    return (
        "format('+proj=aeqd +lat_0=%s +lon_0=%s +ellps=GRS80 +units=m +no_defs', "
        f"ST_Y(ST_Centroid({geom})), ST_X(ST_Centroid({geom})))"
    )


def buffer_m(geom: str, distance: str) -> str:
    """Buffer a storage-CRS geometry column by metres, through its own AEQD."""
    proj = aeqd(geom)
    return (
        f"ST_Transform(ST_Buffer(ST_Transform({geom}, {proj}), {distance}, "
        f"'quad_segs={QUAD_SEGS}'), {proj}, {STORAGE_SRID})"
    )


def area_m2(geom: str) -> str:
    return f"ST_Area(({geom})::geography)"


def length_m(geom: str) -> str:
    """Geodesic length of the line parts (polygon perimeters do not count as length)."""
    return f"ST_Length(ST_CollectionExtract({geom}, 2)::geography)"


def geojson(geom: str) -> str:
    """CRS84 GeoJSON (0.1 mm), what every analysis query returns."""
    return f"ST_AsGeoJSON(ST_Transform({geom}, 4326), 9)::jsonb"


def search_box(point: str, distance: str) -> str:
    """A lon/lat box sure to hold everything within `distance` metres of the point.

    It lets the GiST index prune before the exact geodesic test: a degree of latitude is
    never shorter than 110,574 m, a degree of longitude never shorter than 111,320·cos φ m
    at the box's most poleward latitude (1 % margin; the whole circle of longitudes near
    a pole). Boxes across the antimeridian are not split.
    """
    dlat = f"({distance} / 110574.0 * 1.01)"
    return (
        f"ST_Expand({point}, CASE WHEN abs(ST_Y({point})) + {dlat} >= 89.9 THEN 360 "
        f"ELSE {distance} * 1.01 / (111320.0 * cos(radians(abs(ST_Y({point})) + {dlat}))) "
        f"END, {dlat})"
    )


def buffer_about(geom: str, centre: str, distance: str) -> str:
    """Buffer by metres in one AEQD centred on `centre`: for many small parts near a point
    (isochrone edges), where one projection is both faster and, within ~300 km, as exact."""
    proj = aeqd(centre)
    return (
        f"ST_Transform(ST_Buffer(ST_Transform({geom}, {proj}), {distance}, "
        f"'quad_segs={QUAD_SEGS}'), {proj}, {STORAGE_SRID})"
    )
