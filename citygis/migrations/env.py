"""Alembic environment: the target metadata is the layer catalog."""

from alembic import context
from sqlalchemy import text

from layers import ALL_LAYERS
from layers.tables import SCHEMA, build_metadata

config = context.config
target_metadata = build_metadata(ALL_LAYERS)


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS/pgRouting own tables in public (spatial_ref_sys…); only our schema is ours.
    return getattr(obj, "schema", SCHEMA) == SCHEMA if type_ == "table" else True


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=SCHEMA,
        include_schemas=True,
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
