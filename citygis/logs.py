"""Logging that says what the platform is doing, on stderr via rich."""

import logging

from rich.console import Console
from rich.logging import RichHandler


def setup(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
        force=True,
    )
    # Alembic narrates every plugin; citygis.db reports what the migration did.
    logging.getLogger("alembic").setLevel(logging.WARNING)
