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


# Transaction time, kept by triggers so every writer (loads, API writes, psql) keeps it:
# an UPDATE or DELETE copies the old row states into {t}_history, stamped superseded now,
# and an UPDATE stamps the new row state recorded now. A row state written and replaced in
# one transaction was never seen by anyone, so it is not kept.
HISTORY_FUNCTIONS = """
CREATE OR REPLACE FUNCTION city.stamp_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.recorded_at := now();
    RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION city.keep_superseded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO %I.%I SELECT now(), o.* FROM superseded o WHERE o.recorded_at < now()',
        TG_TABLE_SCHEMA, TG_TABLE_NAME || '_history');
    RETURN NULL;
END $$;
"""

DROP_HISTORY_FUNCTIONS = """
DROP FUNCTION IF EXISTS city.keep_superseded();
DROP FUNCTION IF EXISTS city.stamp_recorded();
"""

HISTORY = """
CREATE TRIGGER {t}_stamp_recorded BEFORE UPDATE ON city.{t}
    FOR EACH ROW EXECUTE FUNCTION city.stamp_recorded();
CREATE TRIGGER {t}_keep_updated AFTER UPDATE ON city.{t}
    REFERENCING OLD TABLE AS superseded
    FOR EACH STATEMENT EXECUTE FUNCTION city.keep_superseded();
CREATE TRIGGER {t}_keep_deleted AFTER DELETE ON city.{t}
    REFERENCING OLD TABLE AS superseded
    FOR EACH STATEMENT EXECUTE FUNCTION city.keep_superseded();
"""

# The column list is read from the table when this runs, so re-run it after adding columns
# (as the views). A single-statement SQL function: inlined, so valid-time filters push down.
RECORDED = """
DO $do$
DECLARE cols text;
BEGIN
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute
    WHERE attrelid = 'city.{t}'::regclass AND attnum > 0 AND NOT attisdropped;
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION city.{t}_recorded(at timestamptz)
            RETURNS SETOF city.{t} LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT * FROM city.{t} WHERE recorded_at <= at
                  UNION ALL
                  SELECT %s FROM city.{t}_history
                  WHERE recorded_at <= at AND superseded_at > at $$
    $f$, cols);
END $do$;
COMMENT ON FUNCTION city.{t}_recorded(timestamptz)
    IS 'Rows of {t} as the database held them at a transaction time';
"""

DROP_HISTORY = """
DROP FUNCTION IF EXISTS city.{t}_recorded(timestamptz);
DROP TRIGGER IF EXISTS {t}_keep_deleted ON city.{t};
DROP TRIGGER IF EXISTS {t}_keep_updated ON city.{t};
DROP TRIGGER IF EXISTS {t}_stamp_recorded ON city.{t};
"""


def create_history(table: str) -> None:
    """The history table must exist (from the catalog's `history_table`)."""
    op.execute(HISTORY.format(t=table))
    op.execute(RECORDED.format(t=table))


def recreate_recorded(table: str) -> None:
    op.execute(RECORDED.format(t=table))


def drop_history(table: str) -> None:
    op.execute(DROP_HISTORY.format(t=table))
