"""`citygis load` and `citygis load-readings`: progress, a summary and a rejects file.

`register` adds them to the app; this module never imports `citygis.cli`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from citygis.console import err, migrated_url

if TYPE_CHECKING:
    from loaders import LoadReport

CRS_HELP = "Source CRS when the file lacks or misstates it: EPSG:4549, 4490, gcj02, bd09, PROJ"


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected ATTRIBUTE=VALUE, got {item!r}", param_hint=option)
        out[key.strip()] = value.strip()
    return out


def load(
    layer: Annotated[
        str,
        typer.Argument(
            help="Target layer id, or 'auto' for every layer an OSM .pbf / EPANET .inp file holds"
        ),
    ],
    path: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON(-seq), GeoPackage, Shapefile/.zip, CSV, .osm.pbf or EPANET .inp"
        ),
    ],
    crs: Annotated[str | None, typer.Option(help=CRS_HELP)] = None,
    mode: Annotated[
        Literal["upsert", "replace"],
        typer.Option(help="replace also closes assets absent from the file"),
    ] = "upsert",
    valid_from: Annotated[
        datetime | None, typer.Option(help="When changes take effect (default: now)")
    ] = None,
    max_rejects: Annotated[
        int, typer.Option(min=0, help="Bad rows tolerated before the whole load is refused")
    ] = 0,
    rejects: Annotated[Path | None, typer.Option(help="Rejects CSV [./<file>.rejects.csv]")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Field mapping file (TOML or JSON)")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="ATTRIBUTE=COLUMN")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="ATTRIBUTE=VALUE")] = None,
    id_field: Annotated[str | None, typer.Option(help="Column holding stable asset ids")] = None,
    source_layer: Annotated[str | None, typer.Option(help="Layer inside a GeoPackage")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding, e.g. gbk")] = None,
    lon: Annotated[str | None, typer.Option(help="CSV longitude/x column")] = None,
    lat: Annotated[str | None, typer.Option(help="CSV latitude/y column")] = None,
    wkt: Annotated[str | None, typer.Option(help="CSV WKT geometry column")] = None,
    timezone: Annotated[str, typer.Option(help="Zone of timestamps without one")] = "Asia/Shanghai",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary")] = False,
) -> None:
    """Load a file into a layer: validated, versioned in valid time, all or nothing."""
    # Imported here so `citygis db …` starts without the geo stack.
    from loaders import LoadError, LoadOptions, ReadOptions

    options = LoadOptions(
        mode=mode,
        valid_from=valid_from,
        max_rejects=max_rejects,
        rejects_path=rejects,
        mapping=_mapping(mapping, map_, id_field),
        constants=_pairs(set_, "--set"),
        read=ReadOptions(
            crs=crs, source_layer=source_layer, encoding=encoding, lon=lon, lat=lat, wkt=wkt
        ),
        local_tz=timezone,
    )
    url = migrated_url()
    try:
        report = _run(
            url, None if layer == "auto" else layer, path, options, show=not (quiet or as_json)
        )
    except (LoadError, KeyError) as exc:
        if as_json:
            print(json.dumps({"error": str(exc).strip("'\"")}, ensure_ascii=False))
        err().print(
            f"[red]load refused:[/red] {str(exc).strip(chr(34))}\n"
            "[dim]The database is unchanged.[/dim]"
        )
        raise typer.Exit(1) from None
    if as_json:
        print(report.model_dump_json(indent=1))
    elif not quiet:
        _summary(report)


def _mapping(path, pairs, id_field):
    from loaders import LoadError, read_mapping

    try:
        return read_mapping(path, _pairs(pairs, "--map"), id_field)
    except LoadError as exc:
        raise typer.BadParameter(str(exc)) from None


def _run(url, layer, path, options, show: bool) -> LoadReport:
    from loaders import load_path

    if not show:
        return load_path(url, layer, path, options)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err(), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, advance: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], advance=advance, total=total)

        return load_path(url, layer, path, options, progress)


def _summary(report: LoadReport) -> None:
    console = err()
    title = f"{report.source} → {report.mode} at {report.valid_from:%Y-%m-%d %H:%M:%S%z}"
    table = Table(
        "layer", "read", "new", "changed", "unchanged", "closed", "rejected", "CRS", title=title
    )
    for r in report.layers:
        table.add_row(
            r.layer,
            str(r.rows_read),
            str(r.new),
            str(r.changed),
            str(r.unchanged),
            str(r.closed),
            str(r.rejected),
            r.crs,
        )
    console.print(table)
    for r in report.layers:
        for what, n in r.fixes.items():
            console.print(f"  {r.layer}: {what}: {n}")
        for w in r.warnings:
            console.print(f"  [yellow]{r.layer}: {w}[/yellow]")
    if report.rejects_file:
        console.print(f"  rejected rows with reasons: {report.rejects_file}")
    console.print(f"  done in {report.seconds:.2f} s")


def load_readings(
    path: Annotated[Path, typer.Argument(help="CSV or Parquet of sensor_id, observed_at, value")],
    timezone: Annotated[str, typer.Option(help="Zone of timestamps without one")] = "Asia/Shanghai",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Load sensor readings (a time series of the sensors layer): all or nothing."""
    from citygis.urls import libpq_url
    from loaders import LoadError
    from loaders.readings import load_readings as load
    from loaders.readings import read_table

    try:
        report = load(
            libpq_url(migrated_url()),
            read_table(path),
            name=path.name,
            source=str(path.resolve()),
            timezone=timezone,
        )
    except (LoadError, OSError, ValueError) as exc:
        if as_json:
            print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        err().print(f"[red]load refused:[/red] {exc}\n[dim]The database is unchanged.[/dim]")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(report.__dict__, ensure_ascii=False, indent=1))
    else:
        err().print(
            f"{report.rows:,} readings of {report.sensors} sensors "
            f"({report.first} → {report.last}): {report.inserted:,} new, "
            f"{report.replaced:,} replaced, {report.unchanged:,} unchanged "
            f"in {report.seconds:.1f} s"
        )


def load_dem(
    path: Annotated[Path, typer.Argument(help="A DEM GeoTIFF (heights in metres, any CRS)")],
) -> None:
    """Load a terrain model (DEM) for coverage paths, replacing the one loaded: all or nothing."""
    from loaders import LoadError
    from loaders.dem import load_dem as load

    try:
        r = load(migrated_url(), path)
    except (LoadError, OSError, ValueError) as exc:
        err().print(f"[red]load refused:[/red] {exc}\n[dim]The database is unchanged.[/dim]")
        raise typer.Exit(1) from None
    err().print(
        f"DEM {r.source}: {r.width:,} × {r.height:,} cells of {r.cell_m:.1f} m in EPSG:{r.epsg}, "
        f"{r.lowest_m:.1f}…{r.highest_m:.1f} m, {r.tiles} tiles (load {r.load_id})"
    )


def register(app: typer.Typer) -> None:
    """Add the load commands to the `citygis` app."""
    app.command("load")(load)
    app.command("load-readings")(load_readings)
    app.command("load-dem")(load_dem)
