"""Every test talks to a real PostGIS: the self-managed cluster, or CITYGIS_DATABASE_URL.

Each session gets a fresh database (see tests/support/database.py), migrated to head.
Fixtures only; helpers live in tests/support/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from citygis.db import make_engine, upgrade
from tests.support.database import TEST_DB, recreate_database, server_url


@pytest.fixture(scope="session")
def base_url() -> str:
    return server_url()


@pytest.fixture(scope="session")
def db_url(base_url: str) -> str:
    url = recreate_database(base_url, TEST_DB)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine: Engine):
    """A connection whose transaction is rolled back after the test."""
    with engine.connect() as c:
        tx = c.begin()
        yield c
        tx.rollback()


@pytest.fixture
def clean_db(db_url: str, engine: Engine) -> Iterator[str]:
    """The test database, emptied of layer rows after the test (loads commit for real)."""
    from sqlalchemy import text

    from layers import ALL_LAYERS

    yield db_url
    tables = ", ".join(
        f"city.{t}"
        for spec in ALL_LAYERS
        for t in (spec.id, spec.history_table, spec.scenario_table)
    )
    with engine.begin() as c:
        c.execute(
            text(
                f"TRUNCATE {tables}, city.load_runs, city.sensor_readings, city.tokens,"
                " city.audit, city.results, city.result_features, city.scenarios"
            )
        )
