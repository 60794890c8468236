"""A first load into an empty layer drops its indexes and builds them after the rows:
afterwards the layer has exactly the indexes and constraints it had, and they work."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from layers import Catalog
from loaders import bulk
from tests.loaders.test_load_versions import T1, T2, V1, write_sites
from tests.support.loading import load

SCHEMA_OF = """
SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes
WHERE schemaname = 'city' AND tablename = 'shelters'
UNION ALL
SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = 'city.shelters'::regclass
ORDER BY 1
"""


def libpq(engine) -> str:
    return engine.url.render_as_string(hide_password=False).replace("+psycopg", "")


def test_a_first_load_leaves_the_same_indexes_and_a_working_exclusion(clean_db, engine, tmp_path):
    with engine.connect() as c:
        before = c.execute(text(SCHEMA_OF)).scalars().all()
    assert any("EXCLUDE USING gist" in d for d in before)
    with psycopg.connect(libpq(engine)) as conn:
        with bulk.indexes_built_after(conn, Catalog()["shelters"]) as dropped:
            inside = conn.execute(SCHEMA_OF).fetchall()
        conn.rollback()
    assert dropped  # the layer was empty: built after, not kept up row by row
    assert [d for (d,) in inside if "EXCLUDE" in d or d.startswith("index ") and "gist" in d] == []
    report = load(clean_db, "shelters", write_sites(tmp_path / "v1.geojson", V1), valid_from=T1)
    assert report.layers[0].new == 4
    with engine.connect() as c:
        assert c.execute(text(SCHEMA_OF)).scalars().all() == before
    # The rebuilt constraint still refuses a second version over the same valid time.
    with pytest.raises(psycopg.errors.ExclusionViolation), psycopg.connect(libpq(engine)) as conn:
        conn.execute(
            "INSERT INTO city.shelters (asset_id, valid, name, geom) SELECT asset_id, "
            "tstzrange(%s, NULL), name, geom FROM city.shelters WHERE asset_id = 'S1'",
            (T2,),
        )
    # The next load into the now non-empty layer merges through the indexes as before.
    again = load(clean_db, "shelters", write_sites(tmp_path / "v1.geojson", V1))
    assert (again.layers[0].new, again.layers[0].unchanged) == (0, 4)
