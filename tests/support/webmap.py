"""Shared by the map and notebook tests: the demo city loaded once, and an offline-HTML check."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

from fastapi import FastAPI
from sqlalchemy import Engine, text

from citygis.settings import ServerSettings
from layers import ALL_LAYERS
from spatial_api import create_app

TOKEN = "test-token-for-the-map"
DEMO = {"seed": 7, "scale": 0.05}


def webmap_app(db_url: str, **settings) -> FastAPI:
    return create_app(db_url, ServerSettings(restricted_tokens=TOKEN, **settings), pool_size=2)


def demo_loaded(db_url: str, engine: Engine) -> Iterator[str]:
    """Body of a module-scoped fixture: the demo in the test DB, emptied afterwards."""
    from citygis.demo_cmd import load_demo

    load_demo(db_url, **DEMO)
    yield db_url
    tables = ", ".join(f"city.{spec.id}" for spec in ALL_LAYERS)
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables}, city.load_runs, city.sensor_readings"))


class _Refs(HTMLParser):
    """Every URL a page would fetch: script/img/iframe src and link href, iframes' srcdoc too."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.scripts += tag == "script"
        if tag in ("script", "img", "iframe", "source", "embed") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"])
        if tag == "iframe" and a.get("srcdoc"):  # folium's notebook display
            inner = _Refs()
            inner.feed(a["srcdoc"])
            self.urls += inner.urls
            self.scripts += inner.scripts


def fetched_urls(html: str) -> tuple[list[str], int]:
    """(URLs the page loads, number of <script> elements)."""
    refs = _Refs()
    refs.feed(html)
    return refs.urls, refs.scripts


def remote(urls: list[str]) -> list[str]:
    return [u for u in urls if u.strip().lower().startswith(("http://", "https://", "//"))]
