"""What each role's notebook asks of the database: planner, pipeline crew, emergency staff.

Synchronous and returning GeoDataFrames, because notebooks and folium want them; the HTTP
analysis services (spatial_api/analysis) answer the same kind of question for the web map.
Distances are geodesic (PostGIS geography); areas of coverage gaps are in EPSG:4549
(CGCS2000 Gauss-Krüger, central meridian 120°E, Qingdao's own zone).
"""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd
from shapely import Geometry
from shapely.geometry import Polygon, box
from sqlalchemy import Connection, Engine, text

from layers.query import DateTimeInterval
from layers.spec import STORAGE_SRID

METRIC_CRS = 4549
METRES_PER_DEGREE = 111_320.0
Db = Connection | Engine


def notebook_engine() -> Engine:
    """The database in use (CITYGIS_DATABASE_URL, else the embedded cluster), for notebooks."""
    from citygis.cluster import database_url
    from citygis.db import make_engine
    from citygis.settings import DatabaseSettings

    return make_engine(database_url(DatabaseSettings()))


def _read(db: Db, sql: str, **params) -> gpd.GeoDataFrame:
    return gpd.read_postgis(text(sql), db, geom_col="geom", params=params)


# ---- planner: shared base stations ----


def sector_coverage(
    db: Db,
    radius_m: float = 800,
    *,
    radius_by_technology: dict[str, float] | None = None,
    dissolve_by: str | None = None,
    when: DateTimeInterval | None = None,
) -> gpd.GeoDataFrame:
    """Sector coverage wedges, by the same SQL as POST /analysis/coverage (true metres)."""
    from layers import Catalog
    from layers.access import SYSTEM
    from spatial_api.analysis.coverage import select_coverage
    from spatial_api.analysis.models import Coverage

    cov = Coverage(
        radius_m=radius_m, radius_by_technology=radius_by_technology or {}, dissolve_by=dissolve_by
    )
    sel = select_coverage(Catalog(), SYSTEM, cov, None, when)
    frame = gpd.read_postgis(
        text(f"SELECT c.props, c.geom FROM ({sel.sql}) c").bindparams(*sel.binds),
        db,
        geom_col="geom",
        params=sel.params,
    )
    props = pd.DataFrame(list(frame.pop("props")), index=frame.index)
    return gpd.GeoDataFrame(pd.concat([props, frame], axis=1), geometry="geom", crs=STORAGE_SRID)


def coverage_gaps(
    area: gpd.GeoDataFrame, wedges: gpd.GeoDataFrame, min_area_km2: float = 0.05
) -> gpd.GeoDataFrame:
    """Parts of the area no sector reaches, largest first, with their area in km²."""
    metric_area = area.to_crs(METRIC_CRS).union_all()
    covered = wedges.to_crs(METRIC_CRS).union_all()
    parts = gpd.GeoSeries([metric_area.difference(covered)], crs=METRIC_CRS).explode(
        index_parts=False
    )
    gaps = gpd.GeoDataFrame({"area_km2": parts.area / 1e6}, geometry=parts.values, crs=METRIC_CRS)
    gaps = gaps[gaps["area_km2"] >= min_area_km2].sort_values("area_km2", ascending=False)
    return gaps.to_crs(area.crs).reset_index(drop=True)


def sharing_summary(stations: gpd.GeoDataFrame, sectors: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per site: how many operators use it and whether it is declared shared (统建共用)."""
    ops = sectors.groupby("site_id")["operator"].agg(
        operators=lambda s: ", ".join(sorted(set(s))), n_operators="nunique"
    )
    table = stations[["asset_id", "name", "structure", "shared"]].merge(
        ops, left_on="asset_id", right_index=True, how="left"
    )
    table["n_operators"] = table["n_operators"].fillna(0).astype(int)
    return table.sort_values(["n_operators", "asset_id"], ascending=[False, True])


# ---- pipeline crew: what is under a dig, which valves close a break ----


def site_around(db: Db, layer_id: str, half_size_m: float = 150, nth: int = 0) -> Polygon:
    """A square around one current feature of a layer: a stand-in dig or break site."""
    # layer_id goes into SQL: only catalog ids are accepted.
    from layers import Catalog

    spec = Catalog()[layer_id]
    sql = (
        f"SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM "
        f"city.{spec.current_view} ORDER BY version_id OFFSET :nth LIMIT 1) q"
    )
    with _connect(db) as conn:
        lon, lat = conn.execute(text(sql), {"nth": nth}).one()
    dx = half_size_m / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    dy = half_size_m / METRES_PER_DEGREE
    return box(lon - dx, lat - dy, lon + dx, lat + dy)


def under_dig(db: Db, dig: Geometry) -> gpd.GeoDataFrame:
    """Pipes crossing a dig polygon, shallowest first: utility, size, depth, length inside."""
    return _read(
        db,
        f"""
        SELECT asset_id, utility, diameter_mm, material, pressure_class, owner,
               least(depth_start_m, depth_end_m) AS depth_min_m,
               greatest(depth_start_m, depth_end_m) AS depth_max_m,
               round(ST_Length(ST_Intersection(geom, g)::geography)::numeric, 1)
                   AS length_inside_m,
               ST_Force2D(ST_Intersection(geom, g)) AS geom
        FROM city.pipelines_current, ST_GeomFromText(:wkt, {STORAGE_SRID}) AS g
        WHERE ST_Intersects(geom, g)
        ORDER BY depth_min_m NULLS LAST, asset_id""",
        wkt=dig.wkt,
    )


def isolate_break(db: Engine, pipe: str, max_radius_m: float = 3000) -> gpd.GeoDataFrame:
    """Valves to close and pipes shut off for a break on `pipe`: POST /analysis/isolate.

    The analysis is async (the API's own code); it runs here on its own event loop in a
    worker thread, since a notebook's kernel already runs one. `attrs["summary"]` holds the
    totals (valves_to_close, isolated_length_m, complete).
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from citygis.db import make_async_engine
    from layers import Catalog
    from layers.access import SYSTEM
    from spatial_api.analysis.isolation import isolate
    from spatial_api.analysis.models import IsolateRequest

    url = db.url.render_as_string(hide_password=False)
    request = IsolateRequest(pipe=pipe, max_radius_m=max_radius_m)

    async def ask() -> list[dict]:
        engine = make_async_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return (await isolate(conn, Catalog(), SYSTEM, request))[0]
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        summary, *features = pool.submit(asyncio.run, ask()).result()
    frame = gpd.GeoDataFrame.from_features(features, crs=4326)
    frame.attrs["summary"] = summary["properties"]
    return frame


def nearest_sensor(db: Db, pipe: str, kind: str = "pressure") -> str:
    """The in-service sensor of a kind nearest a pipe (geodesic), e.g. to watch a break."""
    with _connect(db) as conn:
        return conn.execute(
            text("""
            SELECT s.asset_id FROM city.sensors_current s, city.pipelines_current p
            WHERE p.asset_id = :pipe AND s.sensor_kind = :kind
            ORDER BY s.geom <-> ST_Force2D(p.geom) LIMIT 1"""),
            {"pipe": pipe, "kind": kind},
        ).scalar_one()


def sensor_series(db: Db, sensor: str, bin_: str = "PT1H") -> pd.DataFrame:
    """A sensor's readings binned (min/mean/max/count), with the API's own SQL."""
    from spatial_api.readings import BINNED_SQL, EARLIEST, LATEST, parse_bin

    with _connect(db) as conn:
        return pd.read_sql(
            text(BINNED_SQL.format(direction="ASC")),
            conn,
            params={
                "id": sensor,
                "bin": parse_bin(bin_),
                "start": EARLIEST,
                "end": LATEST,
                "limit": 100_000,
            },
        )


# ---- emergency staff: incident, zone, shelters, timeline ----


def worst_incident(db: Db) -> gpd.GeoDataFrame:
    """The open incident to work on: most severe, then latest."""
    return _read(
        db,
        """
        SELECT asset_id, name, kind, severity, status, started_at, ended_at, casualties, geom
        FROM city.incidents_current
        ORDER BY status IN ('closed', 'contained'), severity, started_at DESC LIMIT 1""",
    )


def zone(point: Geometry, radius_m: float) -> gpd.GeoDataFrame:
    """An evacuation zone: a geodesic circle (local azimuthal equidistant projection)."""
    aeqd = f"+proj=aeqd +lat_0={point.y} +lon_0={point.x} +ellps=GRS80 +units=m"
    circle = gpd.GeoSeries([point], crs=STORAGE_SRID).to_crs(aeqd).buffer(radius_m, 64)
    return gpd.GeoDataFrame({"radius_m": [radius_m]}, geometry=circle.to_crs(STORAGE_SRID))


def nearest_shelters(db: Db, point: Geometry, k: int = 5) -> gpd.GeoDataFrame:
    """The k open shelters closest to a point, geodesic distance and capacity."""
    return _read(
        db,
        f"""
        SELECT asset_id, name, kind, capacity, status,
               round(ST_Distance(geom::geography, p::geography)::numeric) AS distance_m, geom
        FROM city.shelters_current, ST_GeomFromText(:wkt, {STORAGE_SRID}) AS p
        WHERE status IS DISTINCT FROM 'closed'
        ORDER BY geom::geography <-> p::geography LIMIT :k""",
        wkt=point.wkt,
        k=k,
    )


def targets_within(db: Db, area: Geometry) -> gpd.GeoDataFrame:
    """Protected targets (schools, hospitals…) inside a zone."""
    return _read(
        db,
        f"""
        SELECT asset_id, name, kind, population, geom FROM city.protected_targets_current
        WHERE ST_Intersects(geom, ST_GeomFromText(:wkt, {STORAGE_SRID}))
        ORDER BY population DESC NULLS LAST""",
        wkt=area.wkt,
    )


def incident_timeline(db: Db) -> pd.DataFrame:
    """Every incident with its occurrence period and how many versions were recorded."""
    with _connect(db) as conn:
        return pd.read_sql(
            text("""
            SELECT asset_id, min(name) AS name, min(kind) AS kind, min(severity) AS severity,
                   min(started_at) AS started_at, max(ended_at) AS ended_at,
                   count(*) AS versions, max(lower(valid)) AS last_change
            FROM city.incidents GROUP BY asset_id ORDER BY started_at"""),
            conn,
        )


def _connect(db: Db):
    return db.connect() if isinstance(db, Engine) else _Borrowed(db)


class _Borrowed:
    """A caller's connection used as a context manager without closing it."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *exc) -> None:
        return None
