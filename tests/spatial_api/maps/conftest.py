"""What every browser test of the map shares: screenshots and a browser that records
anything fetched from off the machine, and every page error, and fails on them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.browser import Browser
from tests.support.webmap import demo_loaded


@pytest.fixture(scope="module")
def shots(request, tmp_path_factory) -> Path:
    """Where screenshots go: $CITYGIS_SCREENSHOTS to keep them, else a pytest temp dir."""
    keep = os.environ.get("CITYGIS_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        return Path(keep)
    return tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])


@pytest.fixture
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p)
        try:
            yield b
        finally:
            b.browser.close()
    assert b.blocked == [] and b.errors == []


@pytest.fixture(scope="module")
def demo_db(db_url, engine) -> Iterator[str]:
    """The demo city (seed 7, scale 0.05), with the tokens and audit a module made dropped
    after it; a module wanting them kept defines its own."""
    yield from demo_loaded(db_url, engine)
    with engine.begin() as c:
        c.execute(text("TRUNCATE city.tokens, city.audit"))
