"""`citygis batch …`: city-scale jobs on Dask (citygis/batch.py).

`register` adds them to the app; this module never imports `citygis.cli`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from citygis.console import fail, migrated_url, out

batch_app = typer.Typer(help="City-scale batch jobs on Dask.", no_args_is_help=True)
FORMATS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".parquet": None}


@batch_app.command("grid-length")
def grid_length(
    out_path: Annotated[
        Path, typer.Option("--out", help="Result file: .gpkg, .geojson or .parquet")
    ],
    layer: Annotated[str, typer.Option(help="A line layer")] = "pipelines",
    by: Annotated[list[str], typer.Option(help="Attributes to split by (repeat)")] = [  # noqa: B006
        "utility"
    ],
    cell_m: Annotated[float, typer.Option("--cell", min=1.0, help="Cell side, metres")] = 100.0,
    crs: Annotated[str, typer.Option(help="Projected CRS of the grid, in metres")] = "EPSG:4549",
    at: Annotated[
        str | None, typer.Option(help="As of this instant (ISO 8601 with a zone); default now")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="A Dask scheduler's address (default: a local cluster)")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local worker processes (default: one per core)")
    ] = None,
) -> None:
    """Length of a line layer per grid cell and per attribute value (e.g. pipe length per
    utility per 100 m cell), as of an instant, on a Dask cluster."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    from citygis.batch import BatchError, GridJob, line_layer, run_grid
    from layers import Catalog

    try:
        if out_path.suffix not in FORMATS:
            raise BatchError(f"--out {out_path}: write .gpkg, .geojson or .parquet")
        line_layer(Catalog(), layer, by)
        try:
            projected = CRS.from_user_input(crs)
        except CRSError as exc:
            raise BatchError(f"--crs {crs!r}: {exc}") from exc
        if not projected.is_projected or projected.axis_info[0].unit_name not in ("metre", "m"):
            raise BatchError(f"--crs {crs!r} is not a projected CRS in metres")
        job = GridJob(migrated_url(), layer, tuple(by), cell_m, crs, _instant(at))
    except BatchError as exc:
        raise fail(exc) from exc
    result = run_grid(job, scheduler=scheduler, workers=workers)
    cells = result.cells
    if FORMATS[out_path.suffix] is None:
        cells.to_parquet(out_path)
    else:
        cells.to_file(out_path, driver=FORMATS[out_path.suffix])
    table = Table(*by, "cells", "length km", title=f"{layer} per {cell_m:g} m cell")
    for key, group in cells.groupby(list(by), dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        table.add_row(*map(str, values), f"{len(group):,}", f"{group.length_m.sum() / 1000:,.3f}")
    out().print(table)
    out().print(
        f"{result.rows:,} features in {result.tasks} tasks, {result.seconds:.1f} s "
        f"(cluster start {result.start_seconds:.1f} s); {len(cells):,} rows → {out_path}"
    )


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    from citygis.batch import BatchError

    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BatchError(f"--at {text!r}: not an ISO 8601 instant") from exc
    if when.tzinfo is None:
        raise BatchError(f"--at {text!r}: give a zone, e.g. {text}+08:00 or {text}Z")
    return when


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")
