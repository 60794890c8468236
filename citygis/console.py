"""What the `citygis` commands share: their consoles, their error exit, the database in use.

Commands import this, never `citygis.cli`, which imports them to register them.
"""

from __future__ import annotations

import typer
from rich.console import Console

from citygis.cluster import ClusterError, database_url
from citygis.settings import DatabaseSettings


def out() -> Console:
    """Standard output, made when a command prints, so its width follows COLUMNS then."""
    return Console()


def err() -> Console:
    return Console(stderr=True)


def fail(exc: Exception) -> typer.Exit:
    err().print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


def migrated_url() -> str:
    """Start the embedded cluster if it is the one in use, and bring the schema to head."""
    from citygis.db import make_engine, upgrade

    try:
        url = database_url(DatabaseSettings())
    except ClusterError as exc:
        raise fail(exc) from exc
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url
