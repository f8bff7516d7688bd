"""The first start: the port answers at once while the default hypercube is built, the page
shows the build's progress, and the app opens by itself when the hypercube is ready.

The build is the real :class:`app.cli.serving.ServingProcess` start with a ``find_path`` that
reports progress the way the default hypercube's ingest does and then names a hypercube built
by the real ingest; it drives the browser while it "builds", since the serving process calls
it on the main thread exactly as ``serve`` and ``app`` do.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.api import ApiSettings
from app.cli.serving import ServingProcess
from app.ingest import Progress
from tests.api_helpers import build_hypercube
from tests.conftest import make_root, write_python_corpus
from tests.ui_support import CHROMIUM, CHROMIUM_ARGS, Page, distinct_colours, needs_chromium

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = needs_chromium


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str, **headers: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_first_start_shows_the_build_then_opens_the_app(tmp_path: Path) -> None:
    write_python_corpus(tmp_path / "corpus", files=8, seed=4)
    db = build_hypercube(tmp_path / "first.hypercube", tmp_path / "corpus")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    seen: dict[str, Any] = {}

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = Page(browser, url)

        def build(on_progress: Callable[[Progress], None]) -> Path:
            on_progress(Progress(files_done=60, files_total=185, bytes_done=1_000_000,
                                 bytes_total=4_000_000, current="x.py", phase="ingesting"))
            seen["health"] = fetch(f"{url}/health")
            seen["models"] = fetch(f"{url}/v1/models")
            seen["rebound"] = fetch(f"{url}/health", Host="evil.example")
            page = tab.page  # the user's browser, pointed at the app meanwhile
            page.goto(f"{url}/#/chat")
            page.wait_for_selector("main[data-ready='building']")
            seen["heading"] = page.locator("h1").inner_text()
            seen["percent"] = page.locator("#building-percent").inner_text()
            seen["phase"] = page.locator("#building-phase").inner_text()
            on_progress(Progress(files_done=185, files_total=185, bytes_done=4_000_000,
                                 bytes_total=4_000_000, phase="done"))
            page.wait_for_function(
                "() => document.querySelector('#building-percent').textContent === '95%'")
            seen["modelling"] = page.locator("#building-phase").inner_text()
            seen["shot"] = distinct_colours(page, page.screenshot())
            return db

        try:
            with ServingProcess(make_root()) as process:
                process.start(build, ApiSettings(), "127.0.0.1", port, threads=4)
                # Done building: the same page becomes the app, without a reload by hand.
                tab.page.wait_for_selector("main[data-ready='chat']", timeout=60_000)
                assert fetch(f"{url}/v1/models")[0] == 200
                assert process.path == db
        finally:
            tab.close()
            browser.close()

    status, health = seen["health"]
    assert status == 503 and health["status"] == "building"
    assert health["building"]["files_done"] == 60 and "current" not in health["building"]
    status, models = seen["models"]
    assert status == 503 and models["error"]["code"] == "building"
    # The page obeys the API's rules meanwhile: no answer to a name rebound to 127.0.0.1.
    status, rebound = seen["rebound"]
    assert status == 403 and rebound["error"]["code"] == "host_not_allowed"
    assert seen["heading"] == "Building the default hypercube"
    assert seen["percent"] == "22%"  # a quarter of the bytes read: 90% × ¼, rounded down
    assert seen["phase"] == "reading the files"
    assert seen["modelling"] == "building the model"
    assert seen["shot"] > 20
