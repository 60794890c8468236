"""Engines and schema migrations."""

from __future__ import annotations

import hmac
import logging
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from layers.tables import SCHEMA

log = logging.getLogger(__name__)


# psycopg prepares a statement on its fifth run, and PostgreSQL may then plan it once for
# every value. A bbox's selectivity is in its value: the generic plan of the items page
# walked the primary key over the whole table (216–527 ms against 42–85 ms re-planned,
# benchmarks/bench_features.py), so every statement is planned for its values.
SESSION = {"plan_cache_mode": "force_custom_plan"}


def make_engine(url: str, **kwargs) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    _set_on_connect(engine, SESSION)
    return engine


def make_async_engine(
    url: str, pool_size: int = 10, statement_timeout_s: float | None = None, pooler: bool = False
) -> AsyncEngine:
    # LIFO: the next request takes the connection used last, whose backend is warm. With
    # the default FIFO, consecutive requests rotate over every pooled backend, and tiles
    # rendered that way were 1.5–1.7× slower (interleaved A/B on the bench_tiles table).
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_use_lifo=True,
        # Behind a transaction-pooling PgBouncer: no server-side prepared statements.
        connect_args={"prepare_threshold": None} if pooler else {},
    )
    session = dict(SESSION)
    if statement_timeout_s:
        # One slow analysis cannot hold a pooled connection longer than this.
        session["statement_timeout"] = str(int(statement_timeout_s * 1000))
    _set_on_connect(engine.sync_engine, session)
    return engine


def _set_on_connect(engine: Engine, settings: dict[str, str]) -> None:
    """SETs on connect, not startup options (PgBouncer refuses those)."""

    @event.listens_for(engine, "connect")
    def _set(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        for name, value in settings.items():
            cursor.execute(f"SET {name} = {value}")
        cursor.close()
        dbapi_conn.commit()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("citygis") / "migrations"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the package holds no migrations: a broken install")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table_schema": SCHEMA})
        return ctx.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the schema to a revision; existing data is kept (migrations only add/alter)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        # One migrator at a time when several processes start together.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('citygis-migrate'))"))
        cfg.attributes["connection"] = conn
        before = MigrationContext.configure(
            conn, opts={"version_table_schema": SCHEMA}
        ).get_current_revision()
        command.upgrade(cfg, revision)
    after = current_revision(engine)
    if after is None:
        raise RuntimeError(f"the schema has no revision after upgrading to {revision}")
    if before != after:
        log.info("schema migrated %s → %s", before or "empty", after)
    else:
        log.info("schema at %s, nothing to migrate", after)
    return after


def autogenerate(engine: Engine, message: str) -> None:
    """Write a new revision from the difference between the catalog and the database."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


API_ROLE, API_USER = "citygis_app", "citygis_api"


def api_login(owner_url: str) -> str | None:
    """The URL the API serves through: a login in `citygis_app`, which cannot alter the
    schema (migration 0008), made or refreshed here by the owner.

    Its password is derived from the owner's (HMAC), so every process and test session of
    one cluster agrees on it without storing another secret. None when the server has no
    such role (the owner may not create roles) or the owner has no password: the API then
    uses the owner's URL.
    """
    from sqlalchemy.engine import make_url

    owner = make_url(owner_url)
    if not owner.password:
        return None
    password = hmac.new(str(owner.password).encode(), API_USER.encode(), "sha256").hexdigest()
    engine = make_engine(owner_url)
    try:
        with engine.begin() as c:
            role = text("SELECT 1 FROM pg_roles WHERE rolname = :r")
            if c.execute(role, {"r": API_ROLE}).first() is None:
                return None
            # Hex, so it needs no quoting; a DO block, so two processes may race here.
            c.execute(
                text(
                    f"""DO $$ BEGIN
                        CREATE ROLE {API_USER} LOGIN PASSWORD '{password}' IN ROLE {API_ROLE};
                    EXCEPTION WHEN duplicate_object THEN NULL;  -- same password: derived
                    END $$"""
                )
            )
    finally:
        engine.dispose()
    return owner.set(username=API_USER, password=password).render_as_string(hide_password=False)
