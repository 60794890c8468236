"""Chinese labels on the map are drawn as glyphs, not as empty boxes (tofu).

Without a CJK font Chromium draws every Chinese character as the same .notdef box, so
three different characters give three identical images, equal to that of a code point
no font has. `./dev test` installs Debian's fonts-noto-cjk.
"""

from __future__ import annotations

import pytest

from tests.support.browser import Browser, needs_chromium
from tests.support.server import serving
from tests.support.webmap import demo_loaded, webmap_app

pytestmark = pytest.mark.clients

TOFU = "\u0378"  # unassigned: every font draws it as .notdef

# Each string drawn alone with the label's own font family, large: (pixel hash, inked pixels).
GLYPHS = """(label, strings) => {
  const style = getComputedStyle(label);
  const c = document.createElement('canvas');
  c.width = 160; c.height = 48;
  const g = c.getContext('2d', {willReadFrequently: true});
  g.font = `${style.fontWeight} 32px ${style.fontFamily}`;
  g.textBaseline = 'top';
  return strings.map((s) => {
    g.clearRect(0, 0, c.width, c.height);
    g.fillText(s, 4, 4);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let hash = 0, ink = 0;
    for (let i = 3; i < d.length; i += 4) { hash = (hash * 31 + d[i]) >>> 0; ink += d[i] > 0; }
    return [hash, ink];
  });
}"""


@pytest.fixture(scope="module")
def live_url(db_url, engine):
    for url in demo_loaded(db_url, engine):
        with serving(webmap_app(url)) as live:
            yield live


@needs_chromium
def test_district_labels_are_drawn_as_chinese_glyphs_not_tofu(live_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p)
        try:
            page = b.open_map(f"{live_url}/map")
            page.wait_for_function("citygis.labels().some(([l]) => l === 'districts')")
            text = next(
                t
                for layer, t, *_ in page.evaluate("citygis.labels()")
                if layer == "districts" and len(set(t)) >= 2
            )
            chars = sorted(set(text))
            label = page.locator("#labels").get_by_text(text, exact=True).element_handle()
            *each, tofu, whole = label.evaluate(GLYPHS, [*chars, TOFU, text])
            on_map = label.screenshot()  # the label's pixels on the map
            label.evaluate("(el, s) => { el.textContent = s; }", TOFU * len(text))
            as_tofu = label.screenshot()
        finally:
            b.browser.close()
    assert all(ink > 0 for _, ink in [*each, whole]), text
    assert len({h for h, _ in each}) == len(chars), f"{text}: identical boxes, no CJK font"
    assert tofu[0] not in {h for h, _ in each}, f"{text} is drawn as .notdef boxes"
    assert on_map != as_tofu, f"the label {text} on the map looks like tofu"
    assert b.blocked == [] and b.errors == []
