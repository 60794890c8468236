"""Write validated rows into a layer: COPY into a staging table, then merge as asset versions.

Everything happens in the caller's transaction, so a failure or a killed process leaves
the layer exactly as it was. Identifiers come from the catalog only; values are bound.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from psycopg import sql
from sqlalchemy.dialects import postgresql

from layers import LayerSpec
from layers.tables import SCHEMA, build_metadata
from loaders.errors import LoadError

COPY_CHUNK = 50_000
_DIALECT = postgresql.dialect()


def scalar(cursor: psycopg.Cursor) -> Any:
    """The one value a statement returns (RETURNING id, SELECT now())."""
    row = cursor.fetchone()
    if row is None:
        raise LoadError("the database returned no row where one was due")
    return row[0]


@dataclass
class MergeCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    closed: int = 0


def column_types(spec: LayerSpec) -> list[tuple[str, str]]:
    table = build_metadata((spec,)).tables[f"{SCHEMA}.{spec.id}"]
    return [(a.name, table.c[a.name].type.compile(dialect=_DIALECT)) for a in spec.attributes]


def copy_payload(frame: pd.DataFrame, geoms: np.ndarray, srid: int) -> pd.DataFrame:
    """Columns in staging order, geometry as hex EWKB (what PostGIS parses fastest from text)."""
    out = frame.copy()
    out["geom"] = shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True)
    return out


def copy_frame(
    conn: psycopg.Connection,
    copy: sql.Composed | sql.SQL | str,
    frame: pd.DataFrame,
    progress: Callable[[int], None] | None = None,
) -> None:
    """The frame's rows through `COPY … FROM STDIN (FORMAT csv)`, in chunks.

    Arrow's CSV writer (C++) is ~5x faster than pandas' here, and writes what COPY wants:
    NULL as an empty field, an empty string as "", times as UTC with microseconds.
    """
    options = pacsv.WriteOptions(include_header=False)
    with conn.cursor().copy(copy) as cp:
        for start in range(0, len(frame), COPY_CHUNK):
            chunk = frame.iloc[start : start + COPY_CHUNK]
            buf = io.BytesIO()
            pacsv.write_csv(pa.Table.from_pandas(chunk, preserve_index=False), buf, options)
            cp.write(buf.getbuffer())
            if progress:
                progress(len(chunk))


def stage(
    conn: psycopg.Connection,
    spec: LayerSpec,
    rows: pd.DataFrame,
    progress: Callable[[int], None] | None = None,
) -> None:
    """A temporary staging table filled through COPY in chunks."""
    # Underscored bookkeeping names can never clash with catalog attributes (they start a-z).
    cols = [
        ("_row", "integer"),
        ("asset_id", "text"),
        *column_types(spec),
        ("geom", "geometry"),
        ("_vfrom", "timestamptz"),
        ("_vto", "timestamptz"),
    ]
    ddl = sql.SQL("CREATE TEMP TABLE stage ({}) ON COMMIT DROP").format(
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in cols)
    )
    conn.execute(ddl)
    names = [n for n, _ in cols]
    copy = sql.SQL("COPY stage ({}) FROM STDIN (FORMAT csv)").format(
        sql.SQL(", ").join(map(sql.Identifier, names))
    )
    copy_frame(conn, copy, rows[names], progress)
    conn.execute("CREATE INDEX ON stage (asset_id)")
    conn.execute("ANALYZE stage")


def merge(
    conn: psycopg.Connection,
    spec: LayerSpec,
    *,
    mode: str,
    valid_from: datetime,
    source: str,
    history: bool = False,
) -> MergeCounts:
    """Versions in valid time: new assets inserted, changed ones closed and re-versioned.

    `history`: the rows are one wave of a frame's versions (load.versions_in_turn), each
    starting at its own valid_from, and a row is compared with the version that started
    then, if one did (so a history loads once), else with the asset's latest.
    """
    t = sql.Identifier(SCHEMA, spec.id)
    start = sql.SQL("coalesce(c._vfrom, %(vf)s)" if history else "%(vf)s")
    same_start = sql.SQL("(lower(v.valid) IS NOT DISTINCT FROM s._vfrom) DESC, " if history else "")
    attrs = [sql.Identifier(a.name) for a in spec.attributes]

    def cols(prefix: str) -> sql.Composable:
        return sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(prefix), c) for c in attrs)

    # The version each staged row is compared with: the asset's latest one.
    conn.execute(
        sql.SQL("""
        CREATE TEMP TABLE classified ON COMMIT DROP AS
        WITH latest AS (
            SELECT DISTINCT ON (v.asset_id) v.*
            FROM {t} v JOIN stage s ON s.asset_id = v.asset_id
            ORDER BY v.asset_id, {same_start}lower(v.valid) DESC
        )
        SELECT s.*, l.version_id AS _latest_id, upper_inf(l.valid) AS _latest_open,
               lower(l.valid) AS _latest_from,
               CASE WHEN l.version_id IS NULL THEN 'new'
                    WHEN ({s_cols}) IS NOT DISTINCT FROM ({l_cols})
                         AND ST_AsEWKB(s.geom) = ST_AsEWKB(l.geom)
                         AND s._vto IS NOT DISTINCT FROM upper(l.valid) THEN 'same'
                    ELSE 'changed' END AS _kind
        FROM stage s LEFT JOIN latest l ON l.asset_id = s.asset_id
    """).format(t=t, s_cols=cols("s"), l_cols=cols("l"), same_start=same_start)
    )

    early = conn.execute(
        sql.SQL(
            "SELECT asset_id, _latest_from FROM classified c WHERE _kind = 'changed'"
            " AND _latest_open AND _latest_from >= {start} ORDER BY _row LIMIT 3"
        ).format(start=start),
        {"vf": valid_from},
    ).fetchall()
    if early:
        examples = ", ".join(f"{a} (since {f:%Y-%m-%d %H:%M})" for a, f in early)
        raise LoadError(
            f"valid-from {valid_from:%Y-%m-%d %H:%M} is not after the current "
            f"version of changed assets, e.g. {examples}"
        )

    counts = MergeCounts()
    for kind, n in conn.execute("SELECT _kind, count(*) FROM classified GROUP BY _kind"):
        setattr(counts, {"new": "new", "changed": "changed", "same": "unchanged"}[kind], n)

    conn.execute(
        sql.SQL("""
        UPDATE {t} v SET valid = tstzrange(lower(v.valid), {start})
        FROM classified c
        WHERE c._kind = 'changed' AND c._latest_open AND v.version_id = c._latest_id
    """).format(t=t, start=start),
        {"vf": valid_from},
    )
    conn.execute(
        sql.SQL("""
        INSERT INTO {t} (asset_id, valid, {cols}, geom, source)
        SELECT asset_id,
               tstzrange(CASE WHEN _kind = 'new' THEN coalesce(_vfrom, %(vf)s) ELSE {start} END,
                         _vto),
               {c_cols}, geom, %(source)s
        FROM classified c WHERE _kind <> 'same' ORDER BY _row
    """).format(t=t, cols=sql.SQL(", ").join(attrs), c_cols=cols("c"), start=start),
        {"vf": valid_from, "source": source},
    )

    if mode == "replace":
        counts.closed = _close_absent(conn, t, valid_from)
    return counts


def _close_absent(conn: psycopg.Connection, t: sql.Composable, valid_from: datetime) -> int:
    """Replace mode: assets missing from the file stop being valid at valid-from."""
    early = conn.execute(
        sql.SQL("""
        SELECT asset_id FROM {t} v
        WHERE upper_inf(v.valid) AND lower(v.valid) >= %(vf)s
          AND NOT EXISTS (SELECT 1 FROM stage s WHERE s.asset_id = v.asset_id) LIMIT 3
    """).format(t=t),
        {"vf": valid_from},
    ).fetchall()
    if early:
        raise LoadError(
            f"valid-from {valid_from:%Y-%m-%d %H:%M} is not after the start of "
            f"assets to close, e.g. {', '.join(a for (a,) in early)}"
        )
    cur = conn.execute(
        sql.SQL("""
        UPDATE {t} v SET valid = tstzrange(lower(v.valid), %(vf)s)
        WHERE upper_inf(v.valid)
          AND NOT EXISTS (SELECT 1 FROM stage s WHERE s.asset_id = v.asset_id)
    """).format(t=t),
        {"vf": valid_from},
    )
    return cur.rowcount


def drop_staging(conn: psycopg.Connection) -> None:
    conn.execute("DROP TABLE IF EXISTS classified, stage")


def lock_layer(conn: psycopg.Connection, spec: LayerSpec) -> None:
    # One writer per layer at a time; readers (API, tiles) are never blocked.
    conn.execute(
        sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(sql.Identifier(SCHEMA, spec.id))
    )


def notify_changed(conn: psycopg.Connection, layer_ids: list[str]) -> None:
    """Tell every server process (tile caches) which layers changed, at commit."""
    for layer_id in layer_ids:
        conn.execute("SELECT pg_notify('citygis_layer_changed', %s)", (layer_id,))
