"""Each role's notebook runs headless against the demo city and draws an offline map."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.webmap import demo_loaded, fetched_urls, remote

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def demo_db(db_url, engine):
    yield from demo_loaded(db_url, engine)


def test_there_is_a_notebook_per_role():
    assert [p.stem for p in NOTEBOOKS] == [
        "emergency_staff",
        "pipeline_crew",
        "planner_base_stations",
    ]


@pytest.mark.clients
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_draws_an_offline_map(path, demo_db, monkeypatch):
    monkeypatch.setenv("CITYGIS_DATABASE_URL", demo_db)  # the kernel inherits it
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    htmls = [
        out["data"]["text/html"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "text/html" in out.get("data", {})
    ]
    maps = [h for h in htmls if "srcdoc" in h]
    assert maps, "no folium map displayed"
    urls, scripts = fetched_urls(maps[-1])
    assert scripts >= 2 and "L.map(" in maps[-1]
    assert remote(urls) == [], remote(urls)
    assert '"type": "Feature"' in maps[-1] or "&quot;type&quot;: &quot;Feature&quot;" in maps[-1]


def test_the_emergency_notebook_shows_people_per_ring(demo_db, monkeypatch):
    """The impact table names the gas leak's rings and totals the people in the zone."""
    monkeypatch.setenv("CITYGIS_DATABASE_URL", demo_db)
    path = next(p for p in NOTEBOOKS if p.stem == "emergency_staff")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    [table] = [
        out["data"]["text/plain"]
        for cell in nb.cells
        if cell.cell_type == "code" and "/analysis/impact" in cell.source
        for out in cell.get("outputs", [])
        if "text/plain" in out.get("data", {})
    ]
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[2:5]}
    assert rows == {"isolation": "0", "downwind_sector": "842", "total": "842"}, table


@pytest.mark.parametrize("stem", ["emergency_staff", "pipeline_crew", "planner_base_stations"])
def test_each_role_works_through_the_api_with_its_own_token(stem):
    """The database's credentials only mint the role's token; every question goes to the API."""
    nb = nbformat.read(NOTEBOOKS[0].parent / f"{stem}.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    role = {"emergency_staff": "emergency", "pipeline_crew": "crew"}.get(stem, "planner")
    assert any(f'create_token(db, load_roles(Catalog().values()), "{role}"' in c for c in code)
    uses_db = [
        line.split("#")[0].strip()
        for c in code
        for line in c.splitlines()
        if "db" in line.replace("(db,", "").split("#")[0].split()
        or "(db," in line
        or "roles." in line
    ]
    assert uses_db == [
        "db = roles.notebook_engine()",
        f'token = create_token(db, load_roles(Catalog().values()), "{role}", token_name, None)',
        "revoke_token(db, token_name)",
    ], uses_db
