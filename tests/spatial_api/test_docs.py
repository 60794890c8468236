"""The API docs at /api.html work on an intranet: Swagger UI comes from npm, served by us."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient

from tests.support.browser import Browser, needs_chromium
from tests.support.server import serving
from tests.support.webmap import fetched_urls, webmap_app

ANY_HOST = re.compile(r"""(?:https?:)?//[\w.-]+""")


@pytest.fixture(scope="module")
def client(db_url):
    with TestClient(webmap_app(db_url)) as c:
        yield c


def test_docs_page_names_no_other_host(client):
    r = client.get("/api.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert ANY_HOST.findall(r.text) == []  # in attributes and in the inline script alike
    assert '"validatorUrl": null' in r.text  # Swagger UI would fetch a badge from swagger.io
    urls, _ = fetched_urls(r.text)
    assert {u.rsplit("/", 1)[-1] for u in urls} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for url in urls:
        asset = client.get(urljoin("http://testserver/api.html", url))
        assert asset.status_code == 200 and len(asset.content) > 500, url


def test_no_cdn_docs_remain(client):
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs").status_code == 404
    assert client.get("/static/vendor/swagger-ui/../package.json").status_code == 404


@pytest.mark.clients
@needs_chromium
def test_browser_renders_the_docs_offline(db_url):
    from playwright.sync_api import sync_playwright

    with serving(webmap_app(db_url)) as url, sync_playwright() as p:
        b = Browser(p)
        try:
            page = b.browser.new_page(viewport={"width": 1200, "height": 800})
            page.route("**/*", b.only_localhost)
            page.on("pageerror", lambda e: b.errors.append(str(e)))
            page.goto(f"{url}/api.html")
            page.locator(".opblock-summary-path[data-path='/collections']").first.wait_for(
                timeout=15_000
            )
            operations = page.locator(".opblock").count()
        finally:
            b.browser.close()
    assert operations > 20
    assert b.blocked == [] and b.errors == []
