"""What the UI tests share: Debian's Chromium driven by Playwright, a tab that fails the test on
any script error or request leaving 127.0.0.1, and checks on what the page shows."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
DESKTOP = {"width": 1360, "height": 860}
PHONE = {"width": 390, "height": 844}

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/apt-packages.txt)")


class Page:
    """A browser tab on the UI that fails the test on any script error or outside request."""

    def __init__(self, browser: Any, url: str, color_scheme: str = "light",
                 viewport: dict[str, int] | None = None, **context: Any) -> None:
        self.context = browser.new_context(viewport=viewport or DESKTOP,
                                           color_scheme=color_scheme, **context)
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), self._refuse)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.url = url

    def _refuse(self, route: Any) -> None:
        self.outside.append(route.request.url)
        route.abort()

    def open(self, name: str) -> Any:
        self.page.goto(f"{self.url}/#/{name}")
        self.page.wait_for_selector(f"main[data-ready='{name.split('?')[0]}']")
        return self.page

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors
        assert self.outside == [], f"the UI tried to reach {self.outside}"


def distinct_colours(page: Any, png: bytes) -> int:
    """How many colours a screenshot holds (sampled), counted by the browser itself: a blank
    page has one or two."""
    data = base64.b64encode(png).decode()
    return int(page.evaluate("""async (data) => {
        const image = new Image();
        image.src = `data:image/png;base64,${data}`;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width; canvas.height = image.height;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(image, 0, 0);
        const pixels = ctx.getImageData(0, 0, image.width, image.height).data;
        const seen = new Set();
        for (let i = 0; i < pixels.length; i += 4 * 7) {
            seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
        }
        return seen.size;
    }""", data))


# Elements wider than the viewport, unless a scrolling (or clipping) box inside the viewport
# holds them: a wide code line in a scrolling <pre> is fine, a page that scrolls sideways is not.
OVERFLOWING = """() => {
    const width = document.documentElement.clientWidth;
    const clipped = (el) => {
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
            const style = getComputedStyle(a);
            if (/(auto|scroll|hidden|clip)/.test(style.overflowX)) {
                const box = a.getBoundingClientRect();
                return box.left >= -1 && box.right <= width + 1;
            }
        }
        return false;
    };
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
        const box = el.getBoundingClientRect();
        if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
        if (el.closest('.sr-only, .skip-link')) continue;
        if ((box.right > width + 1 || box.left < -1) && !clipped(el)) {
            const name = `${el.tagName.toLowerCase()}.${el.className}`;
            out.push(`${name}: ${Math.round(box.left)}..${Math.round(box.right)}`);
        }
    }
    const scrolled = document.documentElement.scrollWidth;
    if (scrolled > width + 1) out.push(`page scrolls sideways: ${scrolled} > ${width}`);
    return out;
}"""
