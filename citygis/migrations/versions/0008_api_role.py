"""The API's database rights: a role that reads and writes rows but cannot alter the schema.

`citygis_app` (NOLOGIN) may read every table of `city`, add and update rows, and delete
only what is the API's own to discard (scenarios, saved results); never a layer version or
its history. A later migration that adds tables re-runs GRANTS (default privileges cover
reads and writes, not the deletes). The API logs in as a member of it (`citygis_api`, see citygis/db.py);
migrations keep running as the owner. A server where the migrating user may not create
roles skips this, saying so: the API then runs as that user.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GRANTS = """
DO $do$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'citygis_app') THEN
        CREATE ROLE citygis_app NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object THEN NULL;  -- made meanwhile, for another database of the cluster
    WHEN insufficient_privilege THEN
    RAISE NOTICE 'citygis_app not created (no CREATEROLE): the API runs as the owner';
END $do$;
DO $do$
DECLARE t record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'citygis_app') THEN
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA city TO citygis_app;
    GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA city TO citygis_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA city TO citygis_app;
    -- What the API discards is its own: scenarios and their edits, expired results.
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'city'
             AND (tablename LIKE '%\\_scenario' OR tablename IN
                  ('scenarios', 'results', 'result_features'))
    LOOP
        EXECUTE format('GRANT DELETE ON city.%I TO citygis_app', t.tablename);
    END LOOP;
    -- History is written by triggers and never changed.
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'city'
             AND tablename LIKE '%\\_history'
    LOOP
        EXECUTE format('REVOKE UPDATE ON city.%I FROM citygis_app', t.tablename);
    END LOOP;
    ALTER DEFAULT PRIVILEGES IN SCHEMA city
        GRANT SELECT, INSERT, UPDATE ON TABLES TO citygis_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA city GRANT USAGE, SELECT ON SEQUENCES TO citygis_app;
END $do$;
"""

REVOKES = """
DO $do$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'citygis_app') THEN
        ALTER DEFAULT PRIVILEGES IN SCHEMA city REVOKE ALL ON TABLES FROM citygis_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA city REVOKE ALL ON SEQUENCES FROM citygis_app;
        REVOKE ALL ON ALL TABLES IN SCHEMA city FROM citygis_app;
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA city FROM citygis_app;
        REVOKE USAGE ON SCHEMA city FROM citygis_app;
    END IF;
END $do$;
"""


def upgrade() -> None:
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(REVOKES)
