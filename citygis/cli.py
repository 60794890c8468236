"""The `citygis` command."""

from __future__ import annotations

import json
import logging
import os
from typing import Annotated

import typer
from rich.table import Column, Table

from citygis import batch_cmd, load_cmd, logs, token_cmd
from citygis.cluster import Cluster, ClusterError, database_url
from citygis.console import err, fail, migrated_url, out
from citygis.db import api_login
from citygis.settings import DatabaseSettings, ServerSettings
from citygis.urls import libpq_url

app = typer.Typer(help="City spatiotemporal GIS platform.", no_args_is_help=True)
db_app = typer.Typer(
    help="The database: embedded PostGIS cluster and schema.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
token_cmd.register(app)
batch_cmd.register(app)
log = logging.getLogger("citygis")


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings only")] = False,
) -> None:
    logs.setup("DEBUG" if verbose else "WARNING" if quiet else "INFO")


def _embedded(settings: DatabaseSettings) -> Cluster:
    if not settings.embedded:
        err().print("[red]CITYGIS_DATABASE_URL is set: the external server is not managed here")
        raise typer.Exit(2)
    return Cluster(settings)


@db_app.command("up")
def db_up() -> None:
    """Create and start the embedded cluster if needed, and migrate the schema to head."""
    settings = DatabaseSettings()
    if settings.embedded:
        log.info("embedded cluster in %s", settings.data_dir)
    migrated_url()
    out().print("database ready")


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded cluster (data stays)."""
    try:
        stopped = _embedded(DatabaseSettings()).down()
    except ClusterError as exc:
        raise fail(exc) from exc
    out().print("stopped" if stopped else "not running")


@db_app.command("status")
def db_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Is the embedded cluster running, where, on which port. Exit 3 when stopped."""
    status = _embedded(DatabaseSettings()).status()
    if as_json:
        out().print_json(
            json.dumps(
                {
                    "running": status.running,
                    "pid": status.pid,
                    "port": status.port,
                    "data_dir": str(status.data_dir),
                }
            )
        )
    else:
        state = f"running (pid {status.pid})" if status.running else "stopped"
        out().print(f"{state} on 127.0.0.1:{status.port}, data in {status.data_dir}")
    if not status.running:
        raise typer.Exit(3)


replica_app = typer.Typer(help="Streaming replicas (hot standbys) of the embedded cluster.")
db_app.add_typer(replica_app, name="replica")


@replica_app.command("add")
def replica_add() -> None:
    """Copy the primary into a new hot standby and start it; prints its URL last."""
    from citygis import replica

    try:
        rep = replica.add_replica(_embedded(DatabaseSettings()))
    except ClusterError as exc:
        raise fail(exc) from exc
    out().print(f"replica on 127.0.0.1:{rep.port}, data in {rep.data_dir}")
    print(libpq_url(rep.url()))


@replica_app.command("list")
def replica_list() -> None:
    """The replicas, whether each runs, and whether it has caught up with the primary."""
    from citygis import replica

    primary = _embedded(DatabaseSettings())
    for rep in replica.replicas(primary):
        if not rep.running_pid():
            state = "stopped"
        elif replica.caught_up(primary, rep, seconds=2.0):
            state = "running, caught up"
        else:
            state = "running, behind or not a copy of this primary (remove it and add another)"
        out().print(f"{rep.data_dir.name}  127.0.0.1:{rep.port}  {state}")


@replica_app.command("remove")
def replica_remove(name: Annotated[str, typer.Argument(help="r1, r2, …")]) -> None:
    """Stop a replica and delete its copy."""
    from citygis import replica

    if not (name.startswith("r") and name[1:].isdigit()):
        raise fail(ValueError(f"{name!r} is not a replica name (r1, r2, …)"))
    removed = replica.remove_replica(_embedded(DatabaseSettings()), int(name[1:]))
    out().print("removed" if removed else f"no replica {name}")


@db_app.command("url")
def db_url(
    sqlalchemy: Annotated[
        bool,
        typer.Option(
            "--sqlalchemy",
            help="Print the SQLAlchemy URL (postgresql+psycopg://…) instead, for create_engine",
        ),
    ] = False,
) -> None:
    """Print the libpq URL (psql, QGIS, psycopg) of the database in use."""
    try:
        url = database_url(DatabaseSettings(), start=False)
    except ClusterError as exc:
        raise fail(exc) from exc
    print(url if sqlalchemy else libpq_url(url))


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Write a migration for what changed in the layer catalog (alembic autogenerate)."""
    from citygis.db import autogenerate, make_engine

    engine = make_engine(migrated_url())
    autogenerate(engine, message)


load_cmd.register(app)


@app.command("layers")
def list_layers(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the layers of the catalog."""
    from layers import Catalog

    catalog = Catalog()
    if as_json:
        print(
            json.dumps(
                [spec.model_dump(mode="json") for spec in catalog.values()],
                indent=1,
                ensure_ascii=False,
            )
        )
        return
    # Ids are what users type: never cut one, however narrow the window. Only the title
    # wraps, and a storage CRS shared by every layer goes in the caption: 80 columns suffice.
    srids = {spec.storage_srid for spec in catalog.values()}
    shared_crs = f"EPSG:{next(iter(srids))}" if len(srids) == 1 else None
    columns = [
        Column("id", no_wrap=True, min_width=max(map(len, catalog))),
        Column("title", overflow="fold"),
        Column("geometry", no_wrap=True),
        *([] if shared_crs else [Column("CRS", no_wrap=True)]),
        Column("access", no_wrap=True),
        Column("attrs", no_wrap=True),
    ]
    table = Table(*columns, caption=shared_crs and f"every layer is stored in {shared_crs}")
    for spec in catalog.values():
        geom = spec.geometry_type + (" Z" if spec.dimension == 3 else "")
        crs = [] if shared_crs else [f"EPSG:{spec.storage_srid}"]
        table.add_row(
            spec.id,
            f"{spec.title} · {spec.title_zh}",
            geom,
            *crs,
            spec.access.value,
            str(len(spec.attributes)),
        )
    out().print(table)


def _serve(
    host: str | None,
    port: int | None,
    url: str | None = None,
    demo_tokens: bool = False,
    workers: int = 1,
) -> None:
    import uvicorn

    from spatial_api import create_app
    from spatial_api.logs import uvicorn_log_config

    server = ServerSettings()
    db = DatabaseSettings()
    url = url or migrated_url()
    serving = db.api_database_url or api_login(url) or url  # never the schema's owner if avoidable
    host, port = host or server.host, port or server.port
    replicas = tuple(u.strip() for u in db.replica_urls.split(",") if u.strip())
    api = (
        create_app(serving, server, pool_size=db.pool_size, replica_urls=replicas)
        if workers == 1
        else None
    )
    out().print(
        f"[bold green]citygis is serving at http://{host}:{port}/[/] "
        f"(layers: /layers, health: /health, API: /api.html)"
    )
    out().print(f"[bold]map (viewer: public layers): http://{host}:{port}/map[/]")
    if demo_tokens:
        # One token per role, so each kind of user opens their own map.
        for role, token in token_cmd.demo_tokens(url).items():
            out().print(f"  {role:<9} http://{host}:{port}/map?token={token}")
        out().print("restricted layers need 'Authorization: Bearer <token>' in the API")
    logs = uvicorn_log_config()
    if api is not None:
        uvicorn.run(api, host=host, port=port, log_level=server.log_level, log_config=logs)
        return
    # Each worker builds its own app (spatial_api/asgi.py); their tile caches stay coherent
    # because a tile's key holds the layers' change versions read from the database.
    os.environ["CITYGIS_DATABASE_URL"] = serving
    uvicorn.run(
        "spatial_api.asgi:from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=server.log_level,
        log_config=logs,
    )


HostOpt = Annotated[str | None, typer.Option(help="Bind address [CITYGIS_HOST]")]
PortOpt = Annotated[int | None, typer.Option(help="Port [CITYGIS_PORT]")]


WorkersOpt = Annotated[
    int, typer.Option(min=1, max=64, help="API processes (one per core is a good start)")
]


@app.command("serve")
def serve(host: HostOpt = None, port: PortOpt = None, workers: WorkersOpt = 1) -> None:
    """Serve the API over the database in use (starting the embedded one if needed)."""
    _serve(host, port, workers=workers)


@app.command("demo")
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    scale: Annotated[
        float,
        typer.Option(
            min=0.01, max=100, help="Synthetic size: 1 = tens of thousands of pipes, 18 ≈ 1M"
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic generator")] = 20261123,
    reload: Annotated[bool, typer.Option(help="Load the demo layers even if loaded")] = False,
    serve: Annotated[bool, typer.Option(help="Serve the API after loading")] = True,
) -> None:
    """Start the database, load the Qingdao demo city (real districts and scenic sites,
    synthetic networks), and serve it."""
    from citygis.demo_cmd import load_demo

    url = migrated_url()
    load_demo(url, seed=seed, scale=scale, reload=reload)
    if serve:
        _serve(host, port, url, demo_tokens=True)


def run() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
