"""Per-layer valid-time objects: a current view and an as-of function.

Written as fixed SQL (not derived at run time) so a migration means the same
thing forever. Views expand `*` when created: re-run after adding columns.
"""

from alembic import op

CREATE = """
CREATE OR REPLACE VIEW city.{t}_current AS
    SELECT * FROM city.{t} WHERE valid @> now();
COMMENT ON VIEW city.{t}_current IS 'Versions of {t} valid now';
-- A single-statement STABLE SQL function is inlined by the planner, so indexes apply.
CREATE OR REPLACE FUNCTION city.{t}_as_of(at timestamptz)
    RETURNS SETOF city.{t} LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT * FROM city.{t} WHERE valid @> at $$;
COMMENT ON FUNCTION city.{t}_as_of(timestamptz) IS 'Versions of {t} valid at an instant';
"""

DROP = """
DROP FUNCTION IF EXISTS city.{t}_as_of(timestamptz);
DROP VIEW IF EXISTS city.{t}_current;
"""


def create_versioning(table: str) -> None:
    op.execute(CREATE.format(t=table))


def drop_versioning(table: str) -> None:
    op.execute(DROP.format(t=table))
