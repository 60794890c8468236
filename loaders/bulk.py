"""A first load into an empty layer builds its indexes once, after the rows are in.

Maintaining the valid-time exclusion constraint's GiST and the geometry and time indexes
row by row was most of a large first load's merge (BENCHMARKS "Loading"). When the layer
has no rows at all, they are dropped inside the load's transaction and rebuilt from their
own definitions before it commits, so a failure still leaves the layer as it was. The drop
takes an ACCESS EXCLUSIVE lock: readers of that (empty) layer wait for the load.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from layers import LayerSpec
from layers.tables import SCHEMA

EMPTY = "SELECT NOT EXISTS (SELECT FROM {t})"
EXCLUSIONS = (
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = %s::regclass AND contype = 'x' ORDER BY conname"
)
# Plain indexes: not the primary key's, not a constraint's (those come back with it).
INDEXES = """
SELECT c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
  AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""
BUILD_MEMORY = "SET LOCAL maintenance_work_mem = '256MB'"


@contextmanager
def indexes_built_after(conn: psycopg.Connection, spec: LayerSpec) -> Iterator[bool]:
    """Inside: the layer without its exclusion constraints and plain indexes, if it was
    empty (yields whether it was); after: both rebuilt, as they were defined."""
    table = sql.Identifier(SCHEMA, spec.id)
    empty = conn.execute(sql.SQL(EMPTY).format(t=table)).fetchone()
    if not (empty and empty[0]):
        yield False
        return
    name = f"{SCHEMA}.{spec.id}"
    exclusions = conn.execute(EXCLUSIONS, (name,)).fetchall()
    indexes = conn.execute(INDEXES, (name,)).fetchall()
    for constraint, _ in exclusions:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, sql.Identifier(constraint))
        )
    for index, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(SCHEMA, index)))
    yield True
    conn.execute(BUILD_MEMORY)
    for _, definition in indexes:
        conn.execute(definition)  # pg_get_indexdef: the catalog's own DDL
    for constraint, definition in exclusions:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(table, sql.Identifier(constraint))
            + sql.SQL(definition)  # pg_get_constraintdef: the catalog's own DDL
        )
