"""One database, two spellings of its URL: libpq's, and SQLAlchemy's naming its driver."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def libpq_url(url: str) -> str:
    """`postgresql://…`, which psql, QGIS, psycopg and GDAL take (not `+psycopg`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
