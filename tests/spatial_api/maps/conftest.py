"""What every browser test of the map shares: screenshots and a browser that records
anything fetched from off the machine, and every page error, and fails on them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Browser


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
