"""The `citygis` command as a user meets it: in a pipe, in an 80-column window, fed to psql."""

from __future__ import annotations

import shutil
import subprocess

import psycopg
import pytest
from typer.testing import CliRunner

from citygis.cli import app
from layers import Catalog

runner = CliRunner()


def test_layers_never_cut_an_id_at_80_columns():
    result = runner.invoke(app, ["layers"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    assert "…" not in result.stdout
    first_cells = {line.split("│")[1].strip() for line in lines if line.startswith("│")}
    ids = set(Catalog())
    assert ids <= first_cells
    assert first_cells - ids <= {"", "id"}  # wrapped continuation lines, the header


@pytest.fixture
def db_env(db_url):
    return {"CITYGIS_DATABASE_URL": db_url}


def test_db_url_is_a_libpq_url_psycopg_and_psql_accept(db_env):
    result = runner.invoke(app, ["db", "url"], env=db_env)
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith("postgresql://") and "+psycopg" not in url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    if shutil.which("psql"):
        psql = subprocess.run(
            ["psql", url, "-tAc", "select 1"], capture_output=True, text=True, timeout=60
        )
        assert (psql.returncode, psql.stdout.strip()) == (0, "1"), psql.stderr


def test_db_url_sqlalchemy_flag(db_env):
    from sqlalchemy import create_engine, text

    result = runner.invoke(app, ["db", "url", "--sqlalchemy"], env=db_env)
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith("postgresql+psycopg://")
    engine = create_engine(url)
    with engine.connect() as c:
        assert c.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def test_db_url_help_says_which_is_which():
    result = runner.invoke(app, ["db", "url", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "libpq URL (psql, QGIS, psycopg)" in result.stdout
    assert "--sqlalchemy" in result.stdout
