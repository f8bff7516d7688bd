"""The web UI in a real browser: Debian's Chromium, headless, driven by Playwright, against
the real server on a real hypercube built by the real ingest.

Every page is loaded with a route that refuses any request leaving 127.0.0.1, so a test also
proves the UI reaches nothing outside this machine.
"""

from __future__ import annotations

import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.api import ApiSettings
from tests.api_helpers import Running, build_hypercube, start_server
from tests.conftest import write_python_corpus

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PAGES = {"chat": "Chat", "ingest": "Ingest", "code": "Code", "cube": "Hypercube",
         "metrics": "Metrics", "settings": "Settings"}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (.ci/apt-packages.txt)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ui-corpus")
    write_python_corpus(root, files=24, seed=3, lines=60)
    return root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[Running]:
    db = tmp_path_factory.mktemp("ui") / "ui.hypercube"
    # The UI's ingest page may ingest from the tests' temporary folders.
    roots = (tmp_path_factory.getbasetemp().resolve(),)
    running = start_server(build_hypercube(db, corpus), ApiSettings(ingest_roots=roots))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A browser tab on the UI that fails the test on any script error or outside request."""

    def __init__(self, browser: Any, url: str, color_scheme: str = "light") -> None:
        self.context = browser.new_context(viewport={"width": 1360, "height": 860},
                                           color_scheme=color_scheme)
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


@pytest.fixture
def tab(browser: Any, served: Running) -> Iterator[Page]:
    page = Page(browser, served.url)
    yield page
    page.close()


def test_every_page_renders_with_labelled_controls(tab: Page, served: Running) -> None:
    for name, heading in PAGES.items():
        page = tab.open(name)
        assert page.title() == f"{heading} · Hypercube"
        assert page.locator(".nav a[aria-current='page']").inner_text() == heading
        unlabelled = page.evaluate("""() => [...document.querySelectorAll(
                'main input, main select, main textarea')]
            .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                         && !c.getAttribute('aria-labelledby'))
            .map(c => c.outerHTML)""")
        assert unlabelled == [], f"{name}: controls without a label: {unlabelled}"
    with urllib.request.urlopen(f"{served.url}/") as response:
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy


def test_keyboard_reaches_every_section(tab: Page) -> None:
    page = tab.open("settings")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for name in PAGES:
        link = page.locator(f".nav a[data-page='{name}']")
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(f"main[data-ready='{name}']")


def test_ingest_a_folder_through_the_ui(tab: Page, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    write_python_corpus(folder, files=12, seed=11, lines=30)
    page = tab.open("ingest")
    documents_before = int(page.locator(".stat .value").first.inner_text().replace(",", ""))
    page.get_by_label("File or folder path").fill(str(folder))
    page.get_by_role("button", name="Add", exact=True).click()
    # expect() retries until the page has caught up: each of these is updated asynchronously.
    expect = playwright_api.expect
    expect(page.locator(".path-list li")).to_have_count(1)
    page.get_by_role("button", name="Start ingest").click()
    page.wait_for_function(
        "() => document.querySelector('#ingest-percent').textContent === '100%' && "
        "document.querySelector('#ingest-phase').textContent === 'done'", timeout=60_000)
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#ingest-summary")).to_have_text(
        re.compile(r"Run \d+ done: 12 added, 0 changed, 0 unchanged"))
    page.wait_for_function(
        f"() => Number(document.querySelector('.stat .value').textContent.replace(/,/g, '')) "
        f"=== {documents_before + 12}")
    expect(page.locator("tbody tr").first.locator(".badge")).to_have_text("done")


def test_chat_streams_tokens_and_stop_cancels(tab: Page, served: Running) -> None:
    page = tab.open("chat")
    page.wait_for_function("() => (document.querySelector('#chat-model')?.value || '') !== ''")
    assert page.locator("#chat-model").input_value() == served.model
    # Record the reply's length at every change, to see it grow token by token.
    page.evaluate("""() => {
        window.lengths = [];
        new MutationObserver(() => {
            const last = document.querySelector('.message.assistant:last-of-type');
            if (last) window.lengths.push(last.textContent.length);
        }).observe(document.querySelector('.messages'),
                   {childList: true, subtree: true, characterData: true});
    }""")
    page.get_by_label("Max tokens").fill("200")
    page.get_by_label("Max tokens").dispatch_event("change")
    page.get_by_label("Message", exact=True).fill("def total_value(count):")
    page.get_by_label("Message", exact=True).press("Enter")
    page.wait_for_selector(".message.assistant[data-done]")
    reply = page.locator(".message.assistant").last
    assert re.match(r"\d+ tokens · \d+ tokens/s · (stop|length)", reply.get_attribute("data-done"))
    growth = sorted(set(page.evaluate("window.lengths")))
    assert len(growth) >= 3, f"the reply did not arrive in pieces: {growth}"

    cancelled_before = _counter(served, "hypercube_generations_cancelled_total")
    page.get_by_label("Max tokens").fill("8000")
    page.get_by_label("Max tokens").dispatch_event("change")
    page.get_by_label("Temperature").fill("1")
    # Press Stop the moment the first words show, from inside the page: a reply that ends by
    # itself within a few tokens would otherwise finish before a click from here lands. Each
    # try uses another seed, in case a reply is that short.
    page.evaluate("""() => new MutationObserver(() => {
        const streaming = document.querySelector('.message.streaming');
        const stop = document.querySelector('.composer button.danger');
        if (streaming && streaming.textContent.length > 0 && !stop.disabled) stop.click();
    }).observe(document.querySelector('.messages'),
               {childList: true, subtree: true, characterData: true})""")
    for seed in range(1, 6):
        page.get_by_label("Seed").fill(str(seed))
        page.get_by_label("Seed").dispatch_event("change")
        page.get_by_label("Message", exact=True).fill("class Graph:")
        page.get_by_role("button", name="Send").click()
        page.wait_for_selector(f".message.assistant:nth-of-type({2 * seed + 2})[data-done]")
        if page.locator(".message.assistant").last.get_attribute("data-done") == "stopped":
            break
    else:
        raise AssertionError("no reply was still streaming when Stop was pressed")
    assert page.get_by_role("button", name="Stop").is_disabled()
    assert page.get_by_role("button", name="Send").is_enabled()
    deadline = time.monotonic() + 10
    while _counter(served, "hypercube_generations_cancelled_total") <= cancelled_before:
        assert time.monotonic() < deadline, "the server never stopped the generation"
        time.sleep(0.1)

    # The conversation is kept in the browser across reloads.
    page.reload()
    page.wait_for_selector("main[data-ready='chat']")
    assert page.get_by_role("button", name="def total_value(count):", exact=True).count() == 1
    assert page.locator(".message.user").count() >= 2


def test_search_then_open_a_definition(tab: Page, corpus: Path) -> None:
    source = sorted(corpus.rglob("*.py"))[0]
    text = source.read_text(encoding="utf-8")
    # The file's last definition: far enough down that the viewer has to scroll to it.
    name = re.findall(r"^def (\w+)\(", text, re.M)[-1]
    line = text[:text.index(f"def {name}(")].count("\n") + 1
    assert line > 40

    page = tab.open("code")
    page.get_by_label("Search", exact=True).fill("return total")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector(".result")
    assert page.locator(".result mark").first.inner_text().lower() == "return total"

    page.get_by_role("tab", name="Definitions").click()
    page.get_by_label("Definitions", exact=True).fill(name)
    page.keyboard.press("Enter")
    location = page.get_by_role("button", name=f"{source}:{line}", exact=True)
    location.wait_for()
    assert page.locator(".result .tok-kw").first.inner_text() == "def"  # highlighted
    location.click()
    viewer = page.locator("#code-viewer[data-ready]")
    viewer.wait_for()
    assert viewer.get_attribute("data-open-path") == str(source)
    assert viewer.get_attribute("data-open-line") == str(line)

    # The whole file, every line numbered, as it was ingested.
    lines = text.splitlines()
    assert viewer.get_attribute("data-lines") == str(len(lines))
    shown = viewer.locator("pre.viewer .ln")
    assert shown.count() == len(lines)
    assert shown.first.get_attribute("data-line") == "1"
    assert shown.first.inner_text().rstrip("\n") == lines[0]
    assert shown.last.inner_text().rstrip("\n") == lines[-1]
    assert page.evaluate("document.querySelector('pre.viewer').textContent") == text

    # The definition is highlighted, focused and scrolled into the viewer's view.
    hit = viewer.locator(".ln.hit").first
    assert hit.get_attribute("data-line") == str(line)
    assert f"def {name}(" in hit.inner_text()
    assert page.evaluate("document.activeElement.dataset.line") == str(line)
    visible = page.evaluate("""() => {
        const pre = document.querySelector('pre.viewer').getBoundingClientRect();
        const hit = document.querySelector('pre.viewer .ln.hit').getBoundingClientRect();
        const scrolled = document.querySelector('pre.viewer').scrollTop;
        return {inside: hit.top >= pre.top && hit.bottom <= pre.bottom, scrolled};
    }""")
    assert visible["inside"], visible
    assert visible["scrolled"] > 0, visible


def test_hypercube_picture_draws_points(tab: Page) -> None:
    page = tab.open("cube")
    page.wait_for_selector("canvas.cube[data-points]")
    assert int(page.locator("canvas.cube").get_attribute("data-points")) > 100
    painted = page.evaluate("""() => {
        const c = document.querySelector('canvas.cube');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;
    }""")
    assert painted > 2000
    legend = page.locator(".legend button")
    assert legend.count() >= 3
    page.get_by_label("Colour by").select_option("language")
    assert "python" in page.locator(".legend").inner_text()


def test_metrics_page_charts_serving(tab: Page) -> None:
    page = tab.open("metrics")
    page.wait_for_function("() => document.querySelectorAll('.stat').length >= 6")
    label = page.locator("canvas.chart").first.get_attribute("aria-label")
    assert label.startswith("requests/s")


def test_dark_mode_follows_the_system(browser: Any, served: Running) -> None:
    for scheme, dark in (("light", False), ("dark", True)):
        page = Page(browser, served.url, color_scheme=scheme)
        background = page.open("chat").evaluate(
            "getComputedStyle(document.body).backgroundColor")
        page.close()
        red = int(re.findall(r"\d+", background)[0])
        assert (red < 60) == dark, (scheme, background)


def test_api_key_from_settings_unlocks_a_protected_server(browser: Any, served: Running) -> None:
    locked = start_server(served.db, ApiSettings(api_keys=("s3cret-key",)), engine=served.engine)
    tab = Page(browser, locked.url)
    try:
        page = tab.open("settings")  # the page itself needs no key
        page.wait_for_function("() => document.querySelector('.badge')?.textContent === 'required'")
        page.get_by_label("API key").fill("s3cret-key")
        page.get_by_role("button", name="Save").click()
        page.goto(f"{locked.url}/#/chat")
        page.wait_for_function("() => (document.querySelector('#chat-model')?.value || '') !== ''")
        assert page.locator("#server-status").get_attribute("data-state") == "ok"
    finally:
        tab.close()
        locked.stop()


def _counter(served: Running, name: str) -> float:
    with urllib.request.urlopen(f"{served.url}/metrics") as response:
        text = response.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))
