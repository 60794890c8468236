"""Items: one SQL statement builds a page of GeoJSON features and counts the matches.

PostGIS writes each feature (json_build_object + ST_AsGeoJSON) and string_agg joins the
page, so Python only wraps the envelope around one text value. Only the page's rows are
encoded (PAGE_SQL). numberMatched is counted up to MATCH_CAP and left out above that (OGC
makes it optional), so huge layers stay cheap to page through.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.errors import FeatureNotFound, InvalidParameter
from layers.query import DateTimeInterval, generalised, generalised_slack_deg, layer_source
from layers.source import VERSION_SQL, FeatureSource
from layers.tables import SCHEMA
from spatial_api.features import cql
from spatial_api.features.binds import Binds
from spatial_api.features.crs import Crs, output_geometry_sql, shift_features, storage_geometry
from spatial_api.features.links import GEOJSON, JSON, Link, base_url, self_url
from spatial_api.features.params import ItemsQuery

log = logging.getLogger(__name__)
MATCH_CAP = 100_000
# Data errors a request's values can provoke (bad casts, GEOS/PROJ refusals): a 400, not a 500.
CLIENT_SQLSTATES = ("22", "42883", "XX000")


def feature_sql(
    source: FeatureSource, crs: Crs, props: tuple[str, ...] | None, versioned: bool
) -> str:
    """One feature as GeoJSON text; `versioned` ids read `<asset_id>@<version_id>`."""
    fid = "t.asset_id || '@' || t.version_id" if versioned else "t.asset_id"
    return (
        f"CAST(json_build_object('type', 'Feature', 'id', {fid}, 'geometry', "
        f"CAST(ST_AsGeoJSON({output_geometry_sql(crs, 't.geom')}, 9, 0) AS json), "
        f"'properties', {source.properties_sql(props)}) AS text)"
    )


def where_sql(source: FeatureSource, q: ItemsQuery, binds: Binds) -> str:
    conds = [f"t.{name} = {binds.add(value)}" for name, value in q.equals]
    if q.bbox:
        box = storage_geometry(q.bbox.as_geojson(), q.bbox.crs, binds)
        spec = source.spec
        if spec is not None and spec.generalised_m is not None:  # the index knows raw_geom
            slack = binds.add(generalised_slack_deg(spec))
            conds.append(f"t.raw_geom && ST_Expand({box}, {slack})")
        conds.append(f"ST_Intersects(t.geom, {box})")
    if q.filter is not None:
        if source.spec is None:
            raise InvalidParameter(f"filter: {source.id!r} has no queryables")
        conds.append(cql.to_sql(source.spec, q.filter, q.filter_lang, q.filter_crs, binds))
    return " AND ".join(conds) or "TRUE"


EVER = DateTimeInterval(datetime(1, 1, 1, tzinfo=UTC), None, False)  # every version


def order_keys(q: ItemsQuery) -> list[tuple[str, str]]:
    """(expression over `t`, direction) per sort key, the primary key last: pages stay stable."""
    keys = [(VERSION_SQL.get(n, f"t.{n}"), "DESC" if d else "ASC") for n, d in q.sortby]
    return [*keys, ("t.version_id", "ASC")]


async def run(conn: AsyncConnection, sql: str, params: dict[str, Any]):
    try:
        return await conn.execute(text(sql), params)
    except DBAPIError as e:
        state = getattr(e.orig, "sqlstate", None) or ""
        if not state.startswith(CLIENT_SQLSTATES):
            raise
        message = str(e.orig).strip().splitlines()[0]
        log.warning("query refused by the database (%s): %s", state, message)
        raise InvalidParameter(f"the query cannot be evaluated: {message}") from None


async def page(
    conn: AsyncConnection, collection: FeatureSource, q: ItemsQuery
) -> tuple[str, int, int | None]:
    """Features (comma-joined GeoJSON), how many, and how many match (None: above the cap)."""
    binds = Binds(limit=q.limit, offset=q.offset, cap=MATCH_CAP)
    source, source_params = collection.rows(q.when)
    binds.update(source_params)
    where = where_sql(collection, q, binds)
    feature = feature_sql(collection, q.crs, q.properties, q.when is not None and q.when.period)
    sql = PAGE_SQL.format(source=source, where=where, feature=feature, **_orders(q))
    features, returned, counted = (await run(conn, sql, binds)).one()
    matched = counted if counted < MATCH_CAP else None
    features = features or ""
    if q.crs.offset and features:
        features = json.dumps(shift_features(json.loads(f"[{features}]"), q.crs))[1:-1]
    return features, returned, matched


def _orders(q: ItemsQuery) -> dict[str, str]:
    keys = order_keys(q)
    return {
        "keys": ", ".join(f"{e} AS k{i}" for i, (e, _) in enumerate(keys)),
        "by_key": ", ".join(f"m.k{i} {d}" for i, (_, d) in enumerate(keys)),
        "by_row": ", ".join(f"{e} {d}" for e, d in keys),
        "version_id": f"m.k{len(keys) - 1}",
    }


# One scan finds the matches, as narrow rows of their sort keys (the version id last): they
# are counted and sorted there, and only the page's rows are read again, by primary key, to
# be encoded. Two wide scans, one to count and one to sort, took 1.6× as long (bench_features).
# Past MATCH_CAP matches the narrow rows are a sample, so the page is sorted from the source.
PAGE_SQL = """
WITH m AS MATERIALIZED (SELECT {keys} FROM {source} WHERE {where} LIMIT :cap),
k AS (SELECT count(*) AS n FROM m),
p AS (
    SELECT * FROM (
        SELECT {version_id} AS version_id, row_number() OVER (ORDER BY {by_key}) AS n FROM m
        ORDER BY {by_key} LIMIT :limit OFFSET :offset) a
    WHERE (SELECT n FROM k) < :cap
    UNION ALL
    -- The test stays outside, so the branch not taken starts no parallel workers.
    SELECT * FROM (
        SELECT t.version_id, row_number() OVER (ORDER BY {by_row}) AS n FROM {source}
        WHERE {where} ORDER BY {by_row} LIMIT :limit OFFSET :offset) b
    WHERE (SELECT n FROM k) >= :cap
)
SELECT string_agg({feature}, ',' ORDER BY p.n), count(*), (SELECT n FROM k)
FROM p JOIN {source} ON t.version_id = p.version_id
"""


def collection_json(
    request: Request,
    collection_id: str,
    title: str,
    limit: int,
    offset: int,
    features: str,
    returned: int,
    matched: int | None,
) -> str:
    """The FeatureCollection page around already encoded features, with paging links."""
    links = [
        Link(href=self_url(request), rel="self", type=GEOJSON, title="This page"),
        Link(
            href=f"{base_url(request)}/collections/{collection_id}",
            rel="collection",
            type=JSON,
            title=title,
        ),
    ]
    more = returned == limit if matched is None else offset + returned < matched
    if more:
        links.append(
            Link(
                href=self_url(request, offset=offset + returned),
                rel="next",
                type=GEOJSON,
                title="Next page",
            )
        )
    if offset > 0:
        links.append(
            Link(
                href=self_url(request, offset=max(offset - limit, 0)),
                rel="prev",
                type=GEOJSON,
                title="Previous page",
            )
        )
    head: dict[str, Any] = {
        "type": "FeatureCollection",
        "timeStamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if matched is not None:
        head["numberMatched"] = matched
    head |= {
        "numberReturned": returned,
        "links": [link.model_dump(exclude_none=True) for link in links],
    }
    return json.dumps(head, ensure_ascii=False)[:-1] + f', "features": [{features}]}}'


def item_json(request: Request, collection: FeatureSource, feature_id: str, feature: dict) -> str:
    """One feature as a document, with its links (and, for a layer, its version history)."""
    base = f"{base_url(request)}/collections/{collection.id}"
    links = [
        Link(href=f"{base}/items/{feature_id}", rel="self", type=GEOJSON),
        Link(href=base, rel="collection", type=JSON),
    ]
    if collection.spec is not None:
        asset = str(feature["id"]).split("@")[0]
        links.append(
            Link(href=f"{base}/items/{asset}/history", rel="version-history", type=GEOJSON)
        )
    feature["links"] = [link.model_dump(exclude_none=True) for link in links]
    return json.dumps(feature, ensure_ascii=False)


async def one(
    conn: AsyncConnection,
    collection: FeatureSource,
    feature_id: str | int,
    crs: Crs,
    history: bool = False,
    when: DateTimeInterval | None = None,
) -> list[dict]:
    """The feature as it is now or at the instant `when`; for a layer also one version
    (`<asset_id>@<version_id>`) or every version (`history`)."""
    if when is not None and when.period:
        raise InvalidParameter(
            "datetime: an item is read at an instant; for every version use its /history"
        )
    spec, binds = collection.spec, Binds()
    asset, _, version = str(feature_id).rpartition("@")
    table = f"{SCHEMA}.{spec.id} AS t" if spec is not None else None
    # Versions as the database held them at `recorded`, or with a scenario's laid over.
    ever = EVER if when is None else replace(EVER, recorded=when.recorded, scenario=when.scenario)
    if spec is not None and spec.generalised_m is not None:  # never the stored geometry
        table, params = generalised(spec, ever)
        binds.update(params)
    elif spec is not None and ever != EVER:
        table, params = layer_source(spec, ever)
        binds.update(params)
    versioned = table is not None and (history or (version.isdigit() and bool(asset)))
    if versioned and not history:
        cond = f"t.asset_id = {binds.add(asset)} AND t.version_id = {binds.add(int(version))}"
    else:
        cond = f"t.asset_id = {binds.add(feature_id)}"
    if versioned:
        source = table
    else:
        source, params = collection.rows(when)
        binds.update(params)
    sql = (
        f"SELECT {feature_sql(collection, crs, None, versioned)} FROM {source} "
        f"WHERE {cond} ORDER BY {'lower(t.valid), ' if versioned else ''}t.version_id "
        "LIMIT 10000"
    )
    rows = [json.loads(r[0]) for r in await run(conn, sql, binds)]
    if not rows:
        at = f" valid at {when.start.isoformat()}" if when and when.start else " valid now"
        raise FeatureNotFound(
            f"no feature {str(feature_id)!r} in {collection.id!r}"
            + ("" if versioned or spec is None else at)
        )
    return shift_features(rows, crs)
