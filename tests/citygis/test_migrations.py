"""Upgrading an existing database keeps its data; upgrading twice changes nothing."""

from __future__ import annotations

from sqlalchemy import text

from citygis.db import current_revision, head_revision, make_engine, upgrade
from tests.support.database import recreate_database


def test_upgrade_from_first_revision_keeps_data(base_url):
    url = recreate_database(base_url, "citygis_migrate_test")
    engine = make_engine(url)
    try:
        assert upgrade(engine, "0001") == "0001"
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO city.load_runs (layer_id, source, mode, report) "
                    "VALUES ('districts', 'before.geojson', 'upsert', '{\"rows\": 10}')"
                )
            )
        assert upgrade(engine) == head_revision()
        assert upgrade(engine) == head_revision()  # idempotent
        with engine.connect() as c:
            rows = c.execute(text("SELECT layer_id, source, report FROM city.load_runs")).all()
            assert [tuple(r) for r in rows] == [("districts", "before.geojson", {"rows": 10})]
            assert c.execute(text("SELECT count(*) FROM city.districts")).scalar() == 0
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
