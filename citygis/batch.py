"""City-scale batch work on Dask: one task per block range of a layer's table.

A layer is split by physical block ranges (`ctid`, a TID range scan since PostgreSQL 14),
so each task reads its own slice of the table with no index and no overlap, whatever the
data, and a row is read by exactly one task. Tasks run on a local Dask cluster (one
process per core) or on a distributed scheduler given its address; the workers connect to
the database themselves, so only the partial sums travel back.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from shapely import from_wkb

from citygis.db import make_engine
from citygis.grid_length import cell_lengths, cells_frame, summed
from layers import Catalog, LayerSpec

PAGES_PER_TASK = 2_000  # 16 MB of table a task: ~20k pipe versions, a few hundred ms of work
LINE_TYPES = ("LineString", "MultiLineString")

PAGES = "SELECT pg_relation_size(CAST(:table AS regclass)) / current_setting('block_size')::int"
# The versions valid at :at in blocks [:first, :last); identifiers come from the catalog.
SLICE = """
SELECT {columns}, ST_AsBinary(t.geom) AS wkb
FROM city.{table} t
WHERE t.ctid >= format('(%s,0)', CAST(:first AS bigint))::tid
  AND t.ctid < format('(%s,0)', CAST(:last AS bigint))::tid
  AND t.valid @> CAST(:at AS timestamptz)
"""


class BatchError(ValueError):
    """A batch request that cannot run: the message says why."""


@dataclass(frozen=True)
class GridJob:
    """Length of a line layer per grid cell and per value of `by`, as of `at`."""

    url: str
    layer: str
    by: tuple[str, ...]
    cell_m: float
    crs: str
    at: datetime
    pages_per_task: int = PAGES_PER_TASK


@dataclass(frozen=True)
class GridResult:
    cells: gpd.GeoDataFrame
    tasks: int
    rows: int
    seconds: float  # from the cluster's start to the cells
    start_seconds: float = 0.0  # of which starting a local cluster


def line_layer(catalog: Catalog, layer: str, by: Sequence[str]) -> LayerSpec:
    if layer not in catalog:
        raise BatchError(f"no layer {layer!r}; layers: {', '.join(catalog)}")
    spec = catalog[layer]
    if spec.geometry_type not in LINE_TYPES:
        raise BatchError(f"layer {layer!r} holds {spec.geometry_type}s, not lines")
    names = {a.name for a in spec.attributes} | {"asset_id"}
    unknown = [b for b in by if b not in names]
    if unknown:
        raise BatchError(
            f"--by {', '.join(unknown)}: not an attribute of {layer!r} "
            f"(its attributes: {', '.join(sorted(names))})"
        )
    return spec


def block_ranges(url: str, table: str, pages_per_task: int = PAGES_PER_TASK) -> list[range]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            pages = int(c.execute(sa.text(PAGES), {"table": f"city.{table}"}).scalar_one())
    finally:
        engine.dispose()
    tasks = max(1, math.ceil(pages / pages_per_task))
    step = math.ceil(max(pages, 1) / tasks)
    # The last range runs past the end, for rows added after the size was read.
    return [range(i * step, (i + 1) * step if i < tasks - 1 else 2**31) for i in range(tasks)]


def read_slice(job: GridJob, blocks: range) -> gpd.GeoDataFrame:
    """One task's rows: its block range of the layer, versions valid at the job's instant."""
    columns = ", ".join(f"t.{name}" for name in job.by)
    engine = make_engine(job.url, pool_size=1)
    try:
        with engine.connect() as c:
            rows = c.execute(
                sa.text(SLICE.format(columns=columns, table=job.layer)),
                {"first": blocks.start, "last": blocks.stop, "at": job.at},
            ).all()
    finally:
        engine.dispose()
    frame = pd.DataFrame([r[:-1] for r in rows], columns=list(job.by))
    geoms = from_wkb([bytes(r.wkb) for r in rows]) if rows else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4490))


def slice_lengths(job: GridJob, blocks: range) -> tuple[pd.DataFrame, int]:
    """One task: a block range's sums per cell, and how many lines it read."""
    lines = read_slice(job, blocks)
    return cell_lengths(lines.to_crs(job.crs), job.cell_m, job.by), len(lines)


def run_grid(job: GridJob, scheduler: str | None = None, workers: int | None = None) -> GridResult:
    """The job on Dask: locally with `workers` processes, or on the scheduler at `scheduler`."""
    from distributed import Client, LocalCluster

    # Its INFO lines (each worker's start and stop) would bury the answer.
    logging.getLogger("distributed").setLevel(logging.WARNING)

    ranges = block_ranges(job.url, job.layer, job.pages_per_task)
    started = time.perf_counter()
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        n = workers or os.cpu_count() or 1
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    start = time.perf_counter() - started
    try:
        # One task per block range, reading and summing on its worker: only each range's
        # partial sums travel (a cell's lines may lie in several ranges, so they are added
        # once more here). Shipping the ranges' lines between tasks doubled the run.
        done = client.gather(client.map(slice_lengths, [job] * len(ranges), ranges))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    sums = pd.concat([d for d, _ in done], ignore_index=True)
    rows = sum(n for _, n in done)
    cells = cells_frame(summed(sums, job.by), job.cell_m, job.crs)
    return GridResult(cells, len(ranges), int(rows), time.perf_counter() - started, start)


def run_grid_here(job: GridJob) -> GridResult:
    """The same job in this process, every block range in turn: the reference for tests and
    the benchmark (single-process geopandas)."""
    started = time.perf_counter()
    ranges = block_ranges(job.url, job.layer, job.pages_per_task)
    frames = [read_slice(job, r) for r in ranges]
    lines = pd.concat(frames, ignore_index=True) if frames else read_slice(job, range(0))
    sums = cell_lengths(gpd.GeoDataFrame(lines, crs=4490).to_crs(job.crs), job.cell_m, job.by)
    cells = cells_frame(sums, job.cell_m, job.crs)
    return GridResult(cells, len(ranges), len(lines), time.perf_counter() - started)
