"""Debian's headless Chromium for the browser tests, kept to loopback (no CDN, no hub)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")


class Browser:
    """Debian's headless Chromium on /map, allowed to reach 127.0.0.1 only."""

    def __init__(self, playwright):
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.browser = playwright.chromium.launch(  # a fresh temporary profile each launch
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )

    def only_localhost(self, route):
        """A page route handler: loopback, data: and blob: go on; everything else is refused
        and recorded."""
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.hostname == "127.0.0.1":
            return route.continue_()
        self.blocked.append(route.request.url)
        return route.abort()

    def open_map(self, url: str):
        page = self.browser.new_page(viewport={"width": 1200, "height": 800})
        page.route("**/*", self.only_localhost)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.goto(url)
        page.evaluate("citygis.ready")
        return page


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed: apt-get install chromium"
)
