"""read → validate → load: the loader's Python API.

report = load_path(url, "pipelines", Path("survey.gpkg"),
                   LoadOptions(read=ReadOptions(crs="EPSG:4549")))
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from pydantic import BaseModel

from citygis.urls import libpq_url
from layers import Catalog, LayerSpec
from loaders import attributes, bulk, geometry, store
from loaders.crs import SourceCRS, parse_crs
from loaders.errors import LoadError, TooManyRejects
from loaders.mapping import Mapping as FieldMapping
from loaders.mapping import asset_ids, map_columns
from loaders.read import ReadOptions, read_source

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int | None], None]  # (stage, advance, total)


@dataclass(frozen=True)
class LoadOptions:
    mode: Literal["upsert", "replace"] = "upsert"
    valid_from: datetime | None = None
    max_rejects: int = 0
    rejects_path: Path | None = None
    mapping: FieldMapping = field(default_factory=FieldMapping)
    constants: dict[str, str] = field(default_factory=dict)
    read: ReadOptions = field(default_factory=ReadOptions)
    local_tz: str = "Asia/Shanghai"


class LayerReport(BaseModel):
    layer: str
    rows_read: int
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    closed: int = 0
    rejected: int = 0
    crs: str
    fixes: dict[str, int] = {}
    mapped: dict[str, str] = {}
    asset_id_from: str
    warnings: list[str] = []


class LoadReport(BaseModel):
    source: str
    source_sha256: str | None = None
    mode: str
    valid_from: datetime
    layers: list[LayerReport]
    rejects_file: str | None = None
    synthetic: bool = False  # made-up data (demo generator), labelled so nobody mistakes it
    load_run_ids: list[int] = []
    seconds: float

    @property
    def rejected(self) -> int:
        return sum(layer.rejected for layer in self.layers)


@dataclass
class Prepared:
    spec: LayerSpec
    rows: pd.DataFrame  # staging columns, storage CRS geometry as hex EWKB
    rejects: pd.DataFrame  # row, layer, asset_id, reason + the source values
    report: LayerReport
    synthetic: bool = False


def source_crs(frame: gpd.GeoDataFrame, override: str | None, name: str) -> SourceCRS:
    """The file's CRS unless overridden; a missing CRS is an error, never a guess."""
    if override:
        return parse_crs(override)
    if frame.attrs.get("source_crs"):
        return parse_crs(frame.attrs["source_crs"])
    if frame.crs is not None:
        return SourceCRS(frame.crs)
    if frame.attrs.get("assumed_crs"):
        return parse_crs(frame.attrs["assumed_crs"])
    raise LoadError(
        f"{name} has no CRS: pass --crs (e.g. EPSG:4549 for Qingdao's "
        "Gauss-Kruger zone, EPSG:4490 for CGCS2000, gcj02 for AMap/Tencent data)"
    )


def _refuse_projected_as_geographic(geoms: np.ndarray, crs: SourceCRS, name: str) -> None:
    if crs.crs.is_projected or not len(geoms):
        return
    coords = shapely.get_coordinates(geoms)
    if not len(coords):
        return
    with np.errstate(invalid="ignore"):
        outside = (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
    if outside.mean() > 0.5:
        top = np.nanmax(np.abs(coords[:, 0]))
        raise LoadError(
            f"{name}: coordinates look projected (x up to {top:.1f}) but the CRS "
            f"is {crs.name}; pass the real one with --crs"
        )


# How a missing value of any dtype (None, NaN, pd.NA, NaT) enters a content hash: pandas 2
# wrote missing text (and absent columns) as "None", so ids loaded then still match.
MISSING_IN_HASH = "None"


def _hash_text(column: pd.Series) -> list[str]:
    # Value by value: `astype(str)` keeps NaN under pandas 3, and formats a timestamp
    # column by its finest value, so one row's id would depend on the other rows.
    values = column.astype(object).to_numpy()
    missing = pd.isna(values)
    return [MISSING_IN_HASH if gap else str(v) for v, gap in zip(values, missing, strict=True)]


def _content_ids(rows: pd.DataFrame, geoms_hex: pd.Series, spec: LayerSpec) -> pd.Series:
    """Without an id column an asset is known by its content: same feature, same id."""
    columns = [_hash_text(rows[a.name]) for a in spec.attributes]
    later = [a.added_later for a in spec.attributes] + [False]
    columns.append(_hash_text(geoms_hex))
    ids = [
        "h"
        + hashlib.sha1(
            "|".join(
                v for v, late in zip(parts, later, strict=True) if not late or v != MISSING_IN_HASH
            ).encode()
        ).hexdigest()[:16]
        for parts in zip(*columns, strict=True)
    ]
    return pd.Series(ids, index=rows.index, dtype=object)


def prepare(frame: gpd.GeoDataFrame, spec: LayerSpec, options: LoadOptions, name: str) -> Prepared:
    """Validate one frame against its layer; nothing touches the database."""
    crs = source_crs(frame, options.read.crs, name)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    _refuse_projected_as_geographic(geoms[~shapely.is_missing(geoms)], crs, name)
    reasons = geometry.Reasons(frame.index)
    fixes: dict[str, int] = {}
    # The attribute columns once, as a plain frame: GeoDataFrame.drop went through
    # geopandas' constructor each time (~1 ms of a one-feature write, twice).
    plain = pd.DataFrame({c: frame[c] for c in frame.columns if c != frame.geometry.name})
    plain.index = frame.index
    mapped, used = map_columns(plain, spec, options.mapping)
    for attr_name, value in options.constants.items():
        if attr_name not in {a.name for a in spec.attributes}:
            raise LoadError(f"--set {attr_name}: layer {spec.id} has no such attribute")
        mapped[attr_name] = value
        used[attr_name] = f"={value}"
    required_unmapped = [a.name for a in spec.attributes if a.required and a.name not in mapped]
    if required_unmapped and len(frame):
        raise LoadError(
            f"{name}: no column for required {', '.join(required_unmapped)} of layer "
            f"{spec.id}; map one with --map {required_unmapped[0]}=COLUMN or set "
            f"it with --set {required_unmapped[0]}=VALUE"
        )
    typed = attributes.conform(mapped, spec, reasons, options.local_tz)
    geoms = geometry.conform(geoms, spec, crs, reasons, fixes)
    z_start, z_end = _depth_z(typed, spec)
    geoms = geometry.set_dimension(geoms, spec, z_start, z_end, fixes)

    ids, id_col = asset_ids(plain, options.mapping)
    rows = typed
    rows["_vfrom"] = _period(frame, "valid_from")
    rows["_vto"] = _period(frame, "valid_to")
    kept = np.where(reasons.bad, geometry.NONE, geoms)
    payload = store.copy_payload(rows, kept, spec.storage_srid)
    warnings = [
        f"skipped by the reader: {n} ({why})"
        for why, n in frame.attrs.get("skipped_by_reason", {}).items()
        if n
    ]
    if ids is None:
        ids = _content_ids(typed, payload["geom"].fillna(""), spec)
        id_col = "content hash"
        warnings.append(
            "no id column: assets are identified by their content, so an edited "
            "feature becomes a new asset (use --id-field)"
        )
    else:
        reasons.add(ids.isna().to_numpy(), "no asset id")
    # With valid_from, a frame may hold several versions of an asset (its history): only
    # the same asset twice from the same instant is a duplicate.
    if len(frame) > 1:  # (one feature, an API write's usual case, has no duplicate)
        key = ids.astype(str) + "@" + rows["_vfrom"].astype(str) if "valid_from" in frame else ids
        first_row = pd.Series(ids.index, index=ids.index).groupby(key.values).transform("first")
        dup = key.duplicated(keep="first") & ids.notna()
        reasons.add(
            dup.to_numpy(),
            ids.astype(str)
            .radd("duplicate asset id ")
            .str.cat(first_row.astype(str), sep=" (first at row ")
            + ")",
        )
    payload.insert(0, "asset_id", ids.values)
    payload.insert(0, "_row", frame.index)

    bad = reasons.bad
    rejects = _rejects_table(frame, ids, reasons.text, bad, spec)
    report = LayerReport(
        layer=spec.id,
        rows_read=len(frame),
        rejected=int(bad.sum()),
        crs=crs.name,
        fixes=fixes,
        mapped=used,
        asset_id_from=id_col,
        warnings=warnings,
    )
    synthetic = bool(frame.attrs.get("synthetic") or frame.attrs.get("synthetic_geometry"))
    return Prepared(spec, payload[~bad], rejects, report, synthetic)


def _depth_z(typed: pd.DataFrame, spec: LayerSpec) -> tuple[np.ndarray, np.ndarray]:
    """Z from cover depth (z = −depth) for 3D layers whose source has no Z."""

    def col(name):
        if name in typed:
            return -pd.to_numeric(typed[name], errors="coerce").to_numpy(dtype=float)
        return np.full(len(typed), np.nan)

    if "depth_start_m" in typed:
        start = col("depth_start_m")
        end = col("depth_end_m")
        return start, np.where(np.isnan(end), start, end)
    z = col("depth_m")
    return z, z


def _period(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(frame[column], utc=True, errors="coerce")


def _rejects_table(frame, ids, text, bad, spec) -> pd.DataFrame:
    if not bad.any():
        return pd.DataFrame(columns=["row", "layer", "asset_id", "reason"])
    src = pd.DataFrame(frame.drop(columns=frame.geometry.name))[bad]
    original = np.asarray(frame.geometry.values, dtype=object)[bad]
    wkt = shapely.to_wkt(original, rounding_precision=-1)
    out = pd.DataFrame(
        {
            "row": frame.index[bad],
            "layer": spec.id,
            "asset_id": ids[bad].values,
            "reason": text[bad].values,
        }
    )
    return pd.concat(
        [
            out.reset_index(drop=True),
            src.reset_index(drop=True).add_prefix("src_"),
            pd.DataFrame({"src_wkt": wkt}),
        ],
        axis=1,
    )


def load_frames(
    url: str,
    frames: Mapping[str, gpd.GeoDataFrame],
    *,
    source: str,
    options: LoadOptions = LoadOptions(),
    source_sha256: str | None = None,
    progress: Progress | None = None,
    catalog: Catalog | None = None,
) -> LoadReport:
    """Validate every frame, then write them all in one transaction (or none at all).

    Args:
        url: the database, as a SQLAlchemy or a libpq URL.
        frames: rows per layer id, each in its own CRS (a frame without one is refused).
        source: what the rows came from, as the load log and the report name it.
        options: mode, valid time, mapping and how many bad rows to tolerate.
        source_sha256: the source file's digest, for the load log.
        progress: called with (stage, rows done, total) while validating and loading.
        catalog: the layers to load into; the platform's own catalog when not given.

    Returns:
        What each layer got: rows read, new, changed, unchanged, closed and rejected.

    Raises:
        TooManyRejects: more bad rows than `options.max_rejects`; nothing was written.
        LoadError: the rows or the database refused the load as a whole.

    Examples:
        >>> import geopandas as gpd
        >>> from shapely.geometry import Point
        >>> sites = gpd.GeoDataFrame(
        ...     {"id": ["S1", "S2"], "name": ["中山公园", "汇泉广场"], "capacity": [5000, 3000]},
        ...     geometry=[Point(120.3436, 36.069), Point(120.339, 36.056)], crs="EPSG:4490")
        >>> report = load_frames(url, {"shelters": sites}, source="shelter survey")
        >>> [(r.layer, r.rows_read, r.new, r.rejected) for r in report.layers]
        [('shelters', 2, 2, 0)]

        The same rows again change nothing:

        >>> load_frames(url, {"shelters": sites}, source="shelter survey").layers[0].unchanged
        2
    """
    started = time.monotonic()
    catalog = catalog or Catalog()
    prepared = []
    for layer_id, frame in frames.items():
        if progress:
            progress(f"validating {layer_id}", 0, None)
        prepared.append(prepare(frame, catalog[layer_id], options, f"{source} [{layer_id}]"))
    rejects = pd.concat([p.rejects for p in prepared if len(p.rejects)] or [pd.DataFrame()])
    rejects_file = _write_rejects(rejects, options.rejects_path)
    total_rejected = sum(p.report.rejected for p in prepared)
    if total_rejected > options.max_rejects:
        examples = [f"{r.layer} row {r.row}: {r.reason}" for r in rejects.head(5).itertuples()]
        raise TooManyRejects(total_rejected, options.max_rejects, rejects_file, examples)

    try:
        report = _write(url, prepared, options, source, source_sha256, rejects_file, progress)
    except psycopg.errors.IntegrityError as exc:
        raise LoadError(
            f"the database refused the rows: {exc.diag.message_primary} "
            f"({exc.diag.constraint_name or exc.sqlstate})"
        ) from None
    except psycopg.errors.QueryCanceled as exc:
        # Before OperationalError, its base: a timeout is not a lost connection.
        raise LoadError(
            f"the database cancelled the load: {exc.diag.message_primary}; for a load this "
            "size, raise the statement_timeout of the role or session (PGOPTIONS='-c "
            "statement_timeout=0')"
        ) from None
    except psycopg.OperationalError as exc:
        raise LoadError(f"database connection failed during the load: {exc}") from None
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _write(
    url,
    prepared: list[Prepared],
    options: LoadOptions,
    source: str,
    source_sha256: str | None,
    rejects_file: str | None,
    progress: Progress | None,
) -> LoadReport:
    with psycopg.connect(libpq_url(url)) as conn:
        valid_from = options.valid_from or store.scalar(conn.execute("SELECT now()"))
        run_ids = []
        for p in prepared:
            store.lock_layer(conn, p.spec)
            if progress:
                progress(f"loading {p.spec.id}", 0, len(p.rows))
            waves = versions_in_turn(p.rows)
            with bulk.indexes_built_after(conn, p.spec):
                _merge_waves(conn, p, waves, options, valid_from, source, progress)
        report = LoadReport(
            source=source,
            source_sha256=source_sha256,
            mode=options.mode,
            valid_from=valid_from,
            layers=[p.report for p in prepared],
            rejects_file=rejects_file,
            seconds=0.0,
            synthetic=any(p.synthetic for p in prepared),
        )
        for p in prepared:
            logged = p.report.model_dump(mode="json") | {"synthetic": p.synthetic}
            run_ids.append(
                store.scalar(
                    conn.execute(
                        "INSERT INTO city.load_runs (layer_id, source, source_sha256, mode,"
                        " finished_at, report) VALUES (%s, %s, %s, %s, clock_timestamp(), %s)"
                        " RETURNING id",
                        (
                            p.spec.id,
                            source,
                            source_sha256,
                            options.mode,
                            json.dumps(logged, ensure_ascii=False),
                        ),
                    )
                )
            )
        store.notify_changed(conn, [p.spec.id for p in prepared])
    report.load_run_ids = run_ids
    return report


def _merge_waves(conn, p: Prepared, waves, options: LoadOptions, valid_from, source, progress):
    """Stage and merge each wave of a frame's versions, adding up the report's counts."""
    for i, rows in enumerate(waves):
        store.stage(conn, p.spec, rows, _advance(progress, p.spec.id, len(p.rows)))
        counts = store.merge(
            conn,
            p.spec,
            mode=options.mode if i == 0 else "upsert",  # every asset is in wave 0
            valid_from=valid_from,
            source=source,
            history=len(waves) > 1,
        )
        store.drop_staging(conn)
        p.report.new += counts.new
        p.report.changed += counts.changed
        p.report.unchanged += counts.unchanged
        p.report.closed += counts.closed


def versions_in_turn(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """A history frame's rows as waves merged one after the other: every asset's first
    version, then every second one …, each by its own valid_from (store.merge's history)."""
    if not rows["asset_id"].duplicated().any():
        return [rows]
    ordered = rows.sort_values("_vfrom", kind="stable")
    turn = ordered.groupby("asset_id", sort=False).cumcount()
    return [ordered[turn == k] for k in range(int(turn.max()) + 1)]


def _advance(progress: Progress | None, layer_id: str, total: int):
    if progress is None:
        return None
    return lambda n: progress(f"loading {layer_id}", n, total)


def _write_rejects(rejects: pd.DataFrame, path: Path | None) -> str | None:
    if rejects.empty or path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    rejects.to_csv(path, index=False, encoding="utf-8")
    return str(path)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_path(
    url: str,
    layer_id: str | None,
    path: Path,
    options: LoadOptions = LoadOptions(),
    progress: Progress | None = None,
) -> LoadReport:
    r"""Load a file into its layer, all or nothing, and report what changed.

    Args:
        url: the database, as a SQLAlchemy or a libpq URL.
        layer_id: the target layer; None loads every layer an OSM PBF or EPANET file holds.
        path: GeoJSON(-seq), GeoPackage, Shapefile (or .zip), CSV, OSM PBF or EPANET .inp.
        options: source CRS, mapping, mode, valid time and how many bad rows to tolerate.
        progress: called with (stage, rows done, total) while reading and loading.

    Returns:
        What each layer got; tolerated bad rows are listed in `rejects_file`.

    Raises:
        TooManyRejects: more bad rows than `options.max_rejects`; nothing was written.
        LoadError: the file or the database refused the load as a whole.

    Examples:
        Columns are found by the catalog's names and aliases, Chinese ones too:

        >>> import tempfile
        >>> from pathlib import Path
        >>> path = Path(tempfile.mkdtemp()) / "shelters.csv"
        >>> _ = path.write_text("编号,名称,容量,经度,纬度\nS1,中山公园,5000,120.3436,36.069\n",
        ...                     encoding="utf-8")
        >>> layer = load_path(url, "shelters", path).layers[0]
        >>> layer.new, layer.rejected, layer.asset_id_from, layer.mapped
        (1, 0, '编号', {'name': '名称', 'capacity': '容量'})
        >>> load_path(url, "shelters", path).layers[0].unchanged
        1
    """
    if progress:
        progress(f"reading {path.name}", 0, None)
    frames = read_source(path, layer_id, options.read)
    if options.rejects_path is None:
        options = _with_rejects_path(options, path)
    return load_frames(
        url,
        frames,
        source=str(path),
        options=options,
        source_sha256=sha256_of(path),
        progress=progress,
    )


def _with_rejects_path(options: LoadOptions, path: Path) -> LoadOptions:
    return replace(options, rejects_path=Path.cwd() / f"{path.stem}.rejects.csv")
