"""The web UI in a real browser: Debian's Chromium, headless, driven by Playwright, against
the real server on a real hypercube built by the real ingest.

Every page is loaded with a route that refuses any request leaving 127.0.0.1, so a test also
proves the UI reaches nothing outside this machine.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.api import ApiSettings
from app.api.native import hypercube
from tests.api_helpers import Running, build_hypercube, start_server
from tests.conftest import write_python_corpus
from tests.ui_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OVERFLOWING,
    PHONE,
    Page,
    distinct_colours,
    needs_chromium,
)

playwright_api = pytest.importorskip("playwright.sync_api")

PAGES = {"chat": "Chat", "ingest": "Ingest", "code": "Code", "cube": "Hypercube",
         "metrics": "Metrics", "settings": "Settings"}
# One file that uses a name many times: search must show every use, not five per file.
MANY_USES = "zebra_total"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ui-corpus")
    write_python_corpus(root, files=24, seed=3, lines=60)
    extra = root / "zz_extra" / "many_uses.py"
    extra.parent.mkdir()
    extra.write_text(f"def {MANY_USES}(items):\n    return sum(items)\n\n\n"
                     + "".join(f"value_{i} = {MANY_USES}([{i}, {i + 1}])\n" for i in range(8))
                     + "\n\ndef Zebra_Shout(x):\n    return ZEBRA_TOTAL\n", encoding="utf-8")
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
    # Every percentage shown while the run was not yet done.
    page.evaluate("""() => {
        window.percentsWhileRunning = [];
        new MutationObserver(() => {
            if (document.querySelector('#ingest-phase').textContent !== 'done')
                window.percentsWhileRunning.push(document.querySelector('#ingest-percent').textContent);
        }).observe(document.querySelector('#ingest-percent'), {childList: true, subtree: true,
                                                              characterData: true});
    }""")
    page.get_by_role("button", name="Start ingest").click()
    page.wait_for_function(
        "() => document.querySelector('#ingest-percent').textContent === '100%' && "
        "document.querySelector('#ingest-phase').textContent === 'done'", timeout=60_000)
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    assert "100%" not in page.evaluate("window.percentsWhileRunning")
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
            const last = document.querySelector('.message.assistant:last-of-type .md');
            if (last) window.lengths.push(last.textContent.length);
        }).observe(document.querySelector('.messages'),
                   {childList: true, subtree: true, characterData: true});
    }""")
    page.get_by_label("Max tokens").fill("120")
    page.get_by_label("Max tokens").dispatch_event("change")
    # Code that opens no block is continued freely, token by token, to max_tokens. The
    # server writes 120 tokens in milliseconds, which one read may take whole; a throttled
    # connection (16 kB/s for some 30 kB of events) makes the page see them arrive.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": 16_000, "uploadThroughput": -1})
    page.get_by_label("Message", exact=True).fill("total_value = compute(count)")
    page.get_by_label("Message", exact=True).press("Enter")
    page.wait_for_selector(".message.assistant[data-done]")
    network.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    reply = page.locator(".message.assistant").last
    assert re.fullmatch(r"\d+ tokens · \d+ tokens/s · (finished|reached the token limit)",
                        reply.get_attribute("data-done"))
    assert reply.locator(".meta .footer").inner_text() == reply.get_attribute("data-done")
    growth = sorted(set(page.evaluate("window.lengths")))
    assert len(growth) >= 3, f"the reply did not arrive in pieces: {growth}"

    page.get_by_label("Max tokens").fill("8000")
    page.get_by_label("Max tokens").dispatch_event("change")
    page.get_by_label("Temperature").fill("1")
    # Press Stop the moment the first words show, from inside the page: a reply that ends by
    # itself within a few tokens would otherwise finish before a click from here lands. Each
    # try uses another seed, in case a reply is that short.
    page.evaluate("""() => new MutationObserver(() => {
        const streaming = document.querySelector('.message.streaming .md');
        const stop = document.querySelector('.composer button.danger');
        if (streaming && streaming.textContent.length > 0 && !stop.disabled) stop.click();
    }).observe(document.querySelector('.messages'),
               {childList: true, subtree: true, characterData: true})""")
    # A reply the server finished writing before the abort reached it is stopped in the page
    # but not on the server; that try proves nothing, so it is made again with another seed.
    for seed in range(1, 6):
        cancelled_before = _counter(served, "hypercube_generations_cancelled_total")
        page.get_by_label("Seed").fill(str(seed))
        page.get_by_label("Seed").dispatch_event("change")
        # Code that opens no block is continued freely: to max_tokens, unless stopped.
        page.get_by_label("Message", exact=True).fill("import os\nimport sys")
        page.get_by_role("button", name="Send").click()
        page.wait_for_selector(f".message.assistant:nth-of-type({2 * seed + 2})[data-done]")
        if page.locator(".message.assistant").last.get_attribute("data-finish") != "stopped":
            continue
        assert page.get_by_role("button", name="Stop").is_disabled()
        assert page.get_by_role("button", name="Send").is_enabled()
        if _server_cancelled_since(served, cancelled_before):
            break
    else:
        raise AssertionError("no reply was stopped on the server when Stop was pressed")

    # The conversation is kept in the browser across reloads.
    page.reload()
    page.wait_for_selector("main[data-ready='chat']")
    assert page.locator(".chat-history button.open .title").filter(
        has_text=re.compile(r"^total_value = compute\(count\)$")).count() == 1
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
    # Paths read relative to the ingested root, led by its name.
    shown = f"{corpus.name}/{source.relative_to(corpus).as_posix()}"
    location = page.get_by_role("button", name=f"{shown}:{line}", exact=True)
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
    assert label.startswith("requests: ")


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


def _server_cancelled_since(served: Running, cancelled_before: float) -> bool:
    """Whether the server counted a cancelled generation, once it is answering nothing else.

    The only request in flight is then the one reading ``/metrics``; a generation that ran on
    after its client left would keep another open until it reached its 8000 tokens.
    """
    deadline = time.monotonic() + 120
    while _counter(served, "hypercube_http_requests_in_flight") > 1:
        assert time.monotonic() < deadline, "a stopped generation ran on on the server"
        time.sleep(0.1)
    return _counter(served, "hypercube_generations_cancelled_total") > cancelled_before


def _counter(served: Running, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"{served.url}/metrics") as response:
        text = response.read().decode()
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if (line.startswith(name + " ") or line.startswith(name + "{"))
               and all(w in line for w in wanted))


# -- chat -------------------------------------------------------------------------------------

MARKDOWN_REPLY = (
    "\n\nFound **one definition** of `zebra_total`, in `{shown}:1`.\n\n"
    "```python\ndef zebra_total(items):\n    return sum(items)\n```\n\n"
    "- a [safe link](#/code?mode=refs&q=zebra_total) and <script>alert(1)</script>\n"
    "- an [unsafe link](javascript:alert(1))\n")


def _sse(chunks: list[dict[str, Any]]) -> str:
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def grounded_reply(text: str, sources: list[dict[str, Any]]) -> str:
    """A streamed reply shaped as the grounded chat sends it (contract 3): the sources in the
    first chunk's delta, the Markdown in pieces after it."""
    chunks: list[dict[str, Any]] = [{"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": "", "sources": sources},
         "finish_reason": None}]}]
    chunks += [{"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"content": text[i:i + 9]}, "finish_reason": None}]}
        for i in range(0, len(text), 9)]
    chunks += [{"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"object": "chat.completion.chunk", "choices": [],
         "usage": {"prompt_tokens": 9, "completion_tokens": 31, "total_tokens": 40}}]
    return _sse(chunks)


def test_chat_renders_markdown_code_and_sources_that_open_the_code_page(
        browser: Any, served: Running, corpus: Path) -> None:
    tab = Page(browser, served.url)
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                  origin=served.url)
    try:
        path = corpus / "zz_extra" / "many_uses.py"
        shown = f"{corpus.name}/zz_extra/many_uses.py"
        sources = [{"index": 1, "path": str(path), "display_path": shown, "line": 1,
                    "end_line": 2, "kind": "definition", "name": MANY_USES,
                    "language": "python"}]
        body = grounded_reply(MARKDOWN_REPLY.format(shown=shown), sources)
        tab.page.route("**/v1/chat/completions", lambda route: route.fulfill(
            status=200, headers={"Content-Type": "text/event-stream"}, body=body))
        page = tab.open("chat")
        page.wait_for_function("() => document.querySelector('#chat-model').value !== ''")
        page.get_by_label("Message", exact=True).fill(f"Where is {MANY_USES} defined?")
        page.get_by_label("Message", exact=True).press("Enter")
        reply = page.locator(".message.assistant[data-done]")
        reply.wait_for()
        assert reply.get_attribute("data-done") == "31 tokens · " + reply.get_attribute(
            "data-done").split(" · ")[1] + " · finished"
        md = reply.locator(".md")
        # No leading blank line: the reply starts with its first words.
        assert md.evaluate("el => el.firstElementChild.tagName") == "P"
        assert md.locator("p").first.inner_text().startswith("Found one definition")
        assert md.locator("strong").first.inner_text() == "one definition"
        # The code block: highlighted, indentation kept, and Copy copies exactly the code.
        code = md.locator(".code-block")
        assert code.get_attribute("data-language") == "python"
        assert code.locator(".tok-kw").first.inner_text() == "def"
        assert code.locator("pre").text_content() == (
            "def zebra_total(items):\n    return sum(items)\n")
        code.get_by_role("button", name="Copy code").click()
        playwright_api.expect(code.get_by_role("button", name="Copy code")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == (
            "def zebra_total(items):\n    return sum(items)")
        # Untrusted text stays text; only safe links are links.
        assert md.locator("script").count() == 0
        assert "<script>alert(1)</script>" in md.inner_text()
        assert md.locator("a[href^='javascript']").count() == 0
        assert md.locator(".md-unsafe-link").count() == 1
        assert md.locator("a", has_text="safe link").get_attribute("href") == (
            "#/code?mode=refs&q=zebra_total")
        # The citation in the text and the sources list both link to the code page.
        assert md.locator("p code a.source-link").inner_text() == f"{shown}:1"
        link = reply.locator(".sources a.source-link")
        assert link.inner_text() == f"{shown}:1"
        link.click()
        viewer = page.locator("#code-viewer[data-ready]")
        viewer.wait_for()
        assert viewer.get_attribute("data-open-path") == str(path)
        assert viewer.get_attribute("data-open-line") == "1"
        assert page.locator("pre.viewer .ln.hit").first.get_attribute("data-line") == "1"
    finally:
        tab.close()


def test_chat_regenerate_edit_rename_search_delete(tab: Page) -> None:
    page = tab.open("chat")
    page.wait_for_function("() => (document.querySelector('#chat-model')?.value || '') !== ''")
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data))
            if r.url.endswith("/v1/chat/completions") else None)
    # Every sampling control reaches the request.
    page.get_by_text("Advanced").click()
    page.get_by_label("Top k").fill("7")
    page.get_by_label("Top k").dispatch_event("change")
    page.get_by_label("Stop sequences").fill("\\n\\n\\n")
    page.get_by_label("Stop sequences").dispatch_event("change")
    page.get_by_label("Max tokens").fill("24")
    page.get_by_label("Max tokens").dispatch_event("change")
    page.get_by_label("Seed").fill("3")
    page.get_by_label("Seed").dispatch_event("change")
    pasted = "def total_value(count):\n    "
    page.get_by_label("Message", exact=True).fill(pasted)
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector(".message.assistant[data-done]")
    assert sent[-1]["messages"][-1]["content"] == pasted  # pasted code kept its ending
    assert sent[-1]["top_k"] == 7 and sent[-1]["stop"] == ["\n\n\n"]
    assert sent[-1]["max_tokens"] == 24 and sent[-1]["seed"] == 3
    stamp = page.locator(".message.user time")
    assert re.match(r"\d{4}-\d\d-\d\dT", stamp.get_attribute("datetime"))
    assert re.search(r"\d\d:\d\d", stamp.inner_text())

    # Regenerate: the same question again, one reply.
    page.get_by_role("button", name="Regenerate").click()
    playwright_api.expect(page.locator(".message.assistant[data-done]")).to_have_count(1)
    assert len(sent) == 2 and sent[1]["messages"] == sent[0]["messages"]
    assert page.locator(".message").count() == 2

    # Edit and resend: the conversation continues from the edited message.
    page.locator(".message.user").get_by_role("button", name="Edit").click()
    page.get_by_label("Edit message").fill("class Graph:")
    page.get_by_label("Edit message").press("Enter")
    playwright_api.expect(page.locator(".message.user .text")).to_have_text("class Graph:")
    page.wait_for_selector(".message.assistant[data-done]")
    assert page.locator(".message").count() == 2
    assert sent[-1]["messages"][-1]["content"] == "class Graph:"

    # Rename, search, delete.
    history = page.locator(".chat-history")
    history.get_by_role("button", name=re.compile("^Rename")).first.click()
    page.get_by_label("Conversation name").fill("Totals")
    page.get_by_label("Conversation name").press("Enter")
    playwright_api.expect(history.locator("button.open .title")).to_have_text(["Totals"])
    page.get_by_label("Search conversations").fill("graph")  # matches the messages too
    playwright_api.expect(history.locator("button.open")).to_have_count(1)
    page.get_by_label("Search conversations").fill("no such words")
    playwright_api.expect(history.get_by_text("No conversation matches.")).to_be_visible()
    page.get_by_label("Search conversations").fill("")
    history.get_by_role("button", name="Delete “Totals”").click()
    playwright_api.expect(history.locator("button.open")).to_have_count(0)


def test_raw_completion_sends_prompt_and_suffix_as_typed(tab: Page) -> None:
    page = tab.open("chat")
    page.wait_for_function("() => (document.querySelector('#chat-model')?.value || '') !== ''")
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data))
            if r.url.endswith("/v1/completions") else None)
    page.get_by_role("tab", name="Completion").click()
    page.get_by_label("Max tokens").fill("16")
    page.get_by_label("Max tokens").dispatch_event("change")
    # The settings persist in the browser: an earlier test's temperature 1 could sample an
    # empty middle (one that goes straight to the suffix).
    page.get_by_label("Temperature").fill("0")
    page.get_by_label("Prompt", exact=True).fill("def total_value(count):\n    ")
    page.get_by_label("Suffix").fill("\n    return total\n")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_selector("#raw-output[data-done]")
    assert sent[0]["prompt"] == "def total_value(count):\n    "
    assert sent[0]["suffix"] == "\n    return total\n"
    assert page.locator("#raw-output .raw-prompt").inner_text() == sent[0]["prompt"]
    assert page.locator("#raw-output mark.raw-generated").inner_text()
    assert re.fullmatch(r"\d+ tokens? · \d+ tokens/s · (finished|reached the token limit)",
                        page.locator("#raw-meta").inner_text())


# -- code -------------------------------------------------------------------------------------

def test_files_tab_is_a_tree_of_the_ingested_roots_that_opens_files(
        tab: Page, corpus: Path) -> None:
    page = tab.open("code?mode=files")
    page.wait_for_selector(".results[data-ready]", state="attached")
    # Five tabs and the query row fit the lookup card (nothing runs under the viewer).
    card = page.locator(".lookup").bounding_box()
    for part in (page.get_by_role("tab", name="Files"), page.get_by_role("button", name="Go")):
        box = part.bounding_box()
        assert card["x"] <= box["x"] and box["x"] + box["width"] <= card["x"] + card["width"]
    # (Other tests of this module may have ingested more folders by now.)
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    listed = int(page.locator("#code-summary").inner_text().removesuffix(" files"))
    assert listed >= len(files)
    tree = page.get_by_role("tree", name="Ingested files")
    top = tree.locator(":scope > li > details.folder").filter(has=page.locator(
        ":scope > summary .folder-name", has_text=re.compile(f"^{re.escape(corpus.name)}/$")))
    assert top.locator(":scope > summary .badge").inner_text() == str(len(files))
    # Deeper folders start closed; opening one shows its files, and a file opens in the viewer.
    extra = top.locator("details.folder").filter(has=page.locator(
        ":scope > summary .folder-name", has_text=re.compile(r"^zz_extra/$")))
    assert extra.get_attribute("open") is None
    extra.locator(":scope > summary").click()
    extra.get_by_role("button", name="many_uses.py").click()
    viewer = page.locator("#code-viewer[data-ready]")
    viewer.wait_for()
    assert viewer.get_attribute("data-open-path") == str(corpus / "zz_extra" / "many_uses.py")
    assert viewer.get_attribute("data-lines") == str(
        len((corpus / "zz_extra" / "many_uses.py").read_text(encoding="utf-8").splitlines()))
    # A piece of a path filters the tree, every folder open.
    page.get_by_label("Files", exact=True).fill("MANY_uses")
    page.get_by_role("button", name="Go").click()
    page.wait_for_function(
        "() => document.querySelector('#code-summary').textContent === '1 file'")
    assert page.get_by_role("tree").get_by_role("button").all_inner_texts() == ["many_uses.py"]
    assert page.locator(".file-tree details.folder:not([open])").count() == 0


def test_search_shows_every_hit_grouped_by_file(tab: Page, corpus: Path) -> None:
    page = tab.open(f"code?mode=search&q={MANY_USES}")
    page.wait_for_selector(".results[data-ready]", state="attached")
    group = page.locator(".file-group").filter(has_text="many_uses.py")
    assert group.locator("summary .path").inner_text() == f"{corpus.name}/zz_extra/many_uses.py"
    # The definition, 8 uses and ZEBRA_TOTAL (the search ignores case unless told).
    assert group.locator(".badge.count").inner_text() == "10"
    assert group.locator(".result").count() == 10
    assert re.fullmatch(r"\d+ match(es)? in \d+ files?", page.locator("#code-summary").inner_text())
    # No absolute path of this machine anywhere in the results.
    assert str(corpus) not in page.locator(".results").inner_text()

    # Case: the upper-case use is found only without "Match case".
    page.get_by_label("Search", exact=True).fill("ZEBRA_TOTAL")
    page.get_by_label("Match case").check()
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector(".results[data-ready]", state="attached")
    assert page.locator(".file-group .badge.count").all_inner_texts() == ["1"]
    page.get_by_label("Match case").uncheck()
    page.get_by_role("button", name="Go").click()
    playwright_api.expect(page.locator(".file-group .badge.count")).to_have_text(["10"])

    # Regular expressions, and identifiers (definitions of matching names).
    page.get_by_label("Match as").select_option("regex")
    page.get_by_label("Search", exact=True).fill(r"value_[0-3] =")
    page.get_by_role("button", name="Go").click()
    playwright_api.expect(page.locator(".file-group .badge.count")).to_have_text(["4"])
    page.get_by_label("Match as").select_option("identifier")
    page.get_by_label("Search", exact=True).fill(MANY_USES)
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector(".results[data-ready] .result")
    assert "zz_extra/many_uses.py:1" in page.locator(".result .link-button").first.get_attribute(
        "aria-label")
    assert page.get_by_label("Language").locator("option").all_inner_texts() == [
        "All languages", "python"]


def test_definition_here_references_and_similar_from_the_viewer(tab: Page, corpus: Path) -> None:
    page = tab.open(f"code?mode=search&q=value_3 %3D {MANY_USES}")
    page.wait_for_selector(".results[data-ready] .result")
    page.locator(".result .link-button").first.click()
    page.wait_for_selector("#code-viewer[data-ready]")
    # Click the name where it is used: it is picked; "Definition" finds where it is defined.
    use = page.locator("pre.viewer .ln[data-line='8'] .tok-fn")
    assert use.inner_text() == MANY_USES
    use.click()
    playwright_api.expect(page.locator(".picked")).to_have_text(f"Picked “{MANY_USES}”")
    page.get_by_role("button", name="Definition", exact=True).click()
    page.wait_for_selector(".results[data-ready]", state="attached")
    first = page.locator(".result .link-button").first
    assert first.get_attribute("aria-label") == f"{corpus.name}/zz_extra/many_uses.py:1"
    assert "give a NAME" not in page.locator("#code-summary").inner_text()
    # References of the picked name: every use.
    page.locator("pre.viewer .ln[data-line='8'] .tok-fn").click()
    page.get_by_role("button", name="References").click()
    page.wait_for_selector(".results[data-ready] .result")
    assert page.locator(".result").count() >= 8
    # Double-click goes straight to the definition.
    page.locator("pre.viewer .ln[data-line='9'] .tok-fn").dblclick()
    playwright_api.expect(page.get_by_role("tab", name="Definitions")).to_have_attribute(
        "aria-selected", "true")
    page.wait_for_selector(".results[data-ready] .result")
    # Similar takes a name, not only FILE:LINE.
    page.get_by_role("tab", name="Similar").click()
    page.get_by_label("Similar", exact=True).fill(MANY_USES)
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector(".results[data-ready]", state="attached")
    assert "No definition named" not in page.locator("#code-summary").inner_text()
    assert re.fullmatch(r"(\d+ results?|No results\.)", page.locator("#code-summary").inner_text())


def test_ctrl_k_jumps_to_a_symbol_from_any_page(tab: Page, corpus: Path) -> None:
    page = tab.open("metrics")
    page.keyboard.press("Control+k")
    page.get_by_label("Jump to symbol").fill("zebra_tot")
    option = page.get_by_role("option").filter(has_text=MANY_USES).first
    playwright_api.expect(option).to_contain_text("zz_extra/many_uses.py:1")
    page.keyboard.press("Enter")
    viewer = page.locator("#code-viewer[data-ready]")
    viewer.wait_for()
    assert viewer.get_attribute("data-open-path") == str(corpus / "zz_extra" / "many_uses.py")
    assert viewer.get_attribute("data-open-line") == "1"


def test_definitions_rank_the_exact_name_first(browser: Any, served: Running) -> None:
    tab = Page(browser, served.url)
    try:
        page = tab.open("code")
        ranked = page.evaluate("""async () => {
            const { rankDefinitions } = await import('/ui/js/code.js');
            const item = (name, title, kind, path) =>
                ({ name, title, kind, path, snippet: 'x', score: null });
            return rankDefinitions([
                item('_load', 'a._load', 'variable', '/p/a/b/c.py'),
                item('load', 'tests.load', 'variable', '/p/tests/t.py'),
                item('load', 'Store.load', 'method', '/p/z/store.py'),
                item('load', 'load', 'function', '/p/z/io.py'),
            ], 'load').map((r) => r.title);
        }""")
        assert ranked[:2] == ["load", "Store.load"]
        assert ranked[-1] == "a._load"
    finally:
        tab.close()


# -- the picture --------------------------------------------------------------------------------

def test_picture_colours_legend_and_fit(tab: Page) -> None:
    page = tab.open("cube")
    canvas = page.locator("canvas.cube[data-points]")
    canvas.wait_for()
    page.get_by_role("button", name="Pause rotation").click()
    page.keyboard.press("Escape")
    canvas.focus()
    page.keyboard.press("0")  # the reset view
    # The whole picture fits the canvas at the start.
    assert float(canvas.get_attribute("data-inside")) >= 0.98
    colours = page.locator(".legend button").evaluate_all("bs => bs.map(b => b.dataset.color)")
    assert len(colours) >= 4 and len(set(colours)) == len(colours), colours
    page.get_by_label("Colour by").select_option("language")
    keys = page.locator(".legend button").evaluate_all("bs => bs.map(b => b.dataset.key)")
    assert "python" in keys and "other" not in keys, keys
    language_colours = page.locator(".legend button").evaluate_all(
        "bs => bs.map(b => b.dataset.color)")
    assert len(set(language_colours)) == len(language_colours)
    assert "principal axes" in page.locator(".axes").inner_text()


def test_picture_search_fly_click_and_open_the_code(tab: Page, corpus: Path) -> None:
    page = tab.open("cube")
    canvas = page.locator("canvas.cube[data-points]")
    canvas.wait_for()
    page.get_by_label("Find").fill(MANY_USES)
    page.get_by_role("button", name="Fly to it").click()
    details = page.locator(f"#cube-details[data-ready]:has(h2:text-is('\"{MANY_USES}\"'))")
    details.wait_for()
    playwright_api.expect(page.locator("#cube-find-status")).to_have_text("")
    # Its composition tree goes down to the atoms it is spelt with.
    assert details.locator(".tree-label").first.inner_text() == f'"{MANY_USES}"'
    atoms = details.locator(".tree .kind-atom").all_inner_texts()
    assert "".join(a.strip('"') for a in atoms) == MANY_USES
    # The flight ends with the point in the middle, closer.
    page.wait_for_function("() => Number(document.querySelector('canvas.cube').dataset.zoom) >= 4")
    box = canvas.bounding_box()
    x, y = (float(canvas.get_attribute(f"data-selected-{a}")) for a in "xy")
    assert abs(x - box["width"] / 2) < 3 and abs(y - box["height"] / 2) < 3

    # Zooming with the wheel keeps the spot under the pointer in place.
    page.mouse.move(box["x"] + x, box["y"] + y)
    zoom = float(canvas.get_attribute("data-zoom"))
    page.mouse.wheel(0, -200)
    page.wait_for_function(
        f"() => Number(document.querySelector('canvas.cube').dataset.zoom) > {zoom}")
    x2, y2 = (float(canvas.get_attribute(f"data-selected-{a}")) for a in "xy")
    assert abs(x2 - x) <= 2 and abs(y2 - y) <= 2
    # The tooltip is for what is under the pointer now, and stays inside the canvas.
    tip = page.locator("#cube-tip")
    playwright_api.expect(tip).to_be_visible()
    tip_box = tip.bounding_box()
    assert box["x"] <= tip_box["x"] and tip_box["x"] + tip_box["width"] <= box["x"] + box["width"]

    # Its occurrences open the code page at the line.
    link = details.locator(".occurrences a").first
    assert link.inner_text().startswith(f"{corpus.name}/zz_extra/many_uses.py:")
    # Clicking a point opens the one the tooltip names.
    page.get_by_role("button", name="Close").click()
    page.wait_for_selector("#cube-details", state="hidden")
    # Without the details column the canvas is wider: the picture, drawn about the canvas's
    # centre at the same scale (its height is the smaller side), moves right by half of it.
    wide = canvas.bounding_box()
    assert wide["height"] == box["height"] < box["width"] < wide["width"]
    at = (wide["x"] + x + (wide["width"] - box["width"]) / 2 + 1, wide["y"] + y + 1)
    page.mouse.move(*at)
    playwright_api.expect(tip).to_be_visible()
    label = tip.get_attribute("data-label")
    page.mouse.click(*at)
    page.wait_for_selector("#cube-details[data-ready]")
    assert page.locator("#cube-details h2").inner_text() == json.dumps(label, ensure_ascii=False)
    page.get_by_role("button", name="Close").click()
    page.get_by_label("Find").fill(MANY_USES)
    page.get_by_role("button", name="Fly to it").click()
    details.wait_for()
    link.click()
    viewer = page.locator("#code-viewer[data-ready]")
    viewer.wait_for()
    assert viewer.get_attribute("data-open-path") == str(corpus / "zz_extra" / "many_uses.py")


def test_picture_details_list_the_nearest_points_and_fly_to_one(tab: Page) -> None:
    page = tab.open("cube")
    page.locator("canvas.cube[data-points]").wait_for()
    page.get_by_label("Find").fill(MANY_USES)
    page.get_by_role("button", name="Fly to it").click()
    details = page.locator(f"#cube-details[data-ready]:has(h2:text-is('\"{MANY_USES}\"'))")
    details.wait_for()
    nearest = details.locator(".neighbors button")
    playwright_api.expect(nearest).to_have_count(hypercube.DEFAULT_NEIGHBORS)
    distances = [float(text.split("·")[-1].split()[0])
                 for text in details.locator(".neighbors li").all_inner_texts()]
    assert distances == sorted(distances) and distances[0] > 0
    # Clicking one flies to it (added to the picture if the sample did not draw it).
    label, point_id = nearest.nth(2).inner_text(), nearest.nth(2).get_attribute("data-id")
    nearest.nth(2).click()
    playwright_api.expect(page.locator("#cube-details[data-ready] h2")).to_have_text(label)
    playwright_api.expect(page.locator("canvas.cube")).to_have_attribute(
        "data-selected-id", point_id)


def test_picture_pinch_zooms_and_one_finger_turns(browser: Any, served: Running) -> None:
    tab = Page(browser, served.url, has_touch=True, is_mobile=True,
               viewport={"width": 390, "height": 844})
    try:
        page = tab.open("cube")
        canvas = page.locator("canvas.cube[data-points]")
        canvas.wait_for()
        page.get_by_role("button", name="Pause rotation").click()
        box = canvas.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        touch = page.context.new_cdp_session(page)

        def fingers(kind: str, *points: tuple[float, float]) -> None:
            touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
                {"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})

        zoom = float(canvas.get_attribute("data-zoom"))
        fingers("touchStart", (cx - 20, cy), (cx + 20, cy))
        for d in range(30, 130, 10):
            fingers("touchMove", (cx - d, cy), (cx + d, cy))
        fingers("touchEnd")
        page.wait_for_function(
            f"() => Number(document.querySelector('canvas.cube').dataset.zoom) > {zoom * 3}")
        # One finger turns the picture: the points move, the zoom stays.
        zoom = float(canvas.get_attribute("data-zoom"))
        before = canvas.evaluate("c => c.toDataURL()")
        fingers("touchStart", (cx, cy))
        for d in range(10, 90, 10):
            fingers("touchMove", (cx + d, cy))
        fingers("touchEnd")
        assert canvas.evaluate("c => c.toDataURL()") != before
        assert float(canvas.get_attribute("data-zoom")) == zoom
    finally:
        tab.close()


# -- ingest -----------------------------------------------------------------------------------

def test_ingest_a_bad_path_is_an_inline_error(tab: Page, tmp_path: Path) -> None:
    page = tab.open("ingest")
    missing = str(tmp_path / "no-such-folder")
    page.get_by_label("File or folder path").fill(missing)
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_role("button", name="Start ingest").click()
    error = page.locator("#ingest-path-error")
    playwright_api.expect(error).to_be_visible()
    assert missing in error.inner_text() and "removed from the list" in error.inner_text()
    playwright_api.expect(page.locator(".path-list li")).to_have_count(0)
    assert page.get_by_label("File or folder path").get_attribute("aria-invalid") == "true"
    assert page.locator(".toast").count() == 0


def test_ingest_cancel_says_cancelling_at_once(tab: Page, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    write_python_corpus(folder, files=120, seed=21, lines=80)
    page = tab.open("ingest")
    # Hold the cancel request back: the page must say "cancelling…" before any answer.
    held: list[Any] = []
    page.route("**/cancel", lambda route: held.append(route))
    page.get_by_label("File or folder path").fill(str(folder))
    page.get_by_role("button", name="Start ingest").click()
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    playwright_api.expect(cancel).to_be_enabled()
    cancel.click()
    playwright_api.expect(page.locator("#ingest-phase")).to_have_text("cancelling…")
    page.wait_for_function("() => true")
    for route in held:
        route.continue_()
    page.unroute("**/cancel")
    page.wait_for_function("() => ['cancelled', 'done'].includes("
                           "document.querySelector('#ingest-phase').textContent)", timeout=120_000)


def test_ingest_words_for_skips_and_progress(tab: Page) -> None:
    page = tab.open("ingest")
    words = page.evaluate("""async () => {
        const { skipReason, progressOf } = await import('/ui/js/ingest.js');
        const all = {bytes_done: 10, bytes_total: 10};
        return {
            reason: skipReason('larger than 1 MB (see --max-file-size)'),
            running: progressOf({status: 'running', progress: all}).fraction,
            done: progressOf({status: 'done', progress: all}).fraction,
        };
    }""")
    assert words == {"reason": "larger than 1 MB (the size limit for one file)",
                     "running": 0.9, "done": 1}


# -- metrics ------------------------------------------------------------------------------------

def test_metrics_keep_history_show_values_and_open_errors(tab: Page, served: Running) -> None:
    health_before = _counter(served, "hypercube_http_requests_total", route="/health")
    page = tab.open("chat")
    # The shell samples /metrics in the background, whatever page is open.
    page.wait_for_function("() => (JSON.parse(localStorage.getItem('hypercube.metrics') || '{}')"
                           ".points || []).length >= 1", timeout=30_000)
    playwright_api.expect(page.locator("#server-status")).to_have_attribute("data-state", "ok")
    # An error to find in the Errors card.
    assert page.evaluate("fetch('/v1/models/no-such-model').then(r => r.status)") == 404
    page.reload()
    page.goto(f"{served.url}/#/metrics")
    page.wait_for_selector("main[data-ready='metrics']")
    # A fresh page has no poll of its own yet, so a line on open is the kept history.
    assert "no data" not in page.locator("canvas.chart").first.get_attribute("aria-label")
    # The UI's own polling (health, metrics) is not API traffic.
    assert _counter(served, "hypercube_http_requests_total", route="/health") == health_before
    # Hovering a chart shows its values.
    page.wait_for_function("() => document.querySelectorAll('.stat').length >= 6")
    chart = page.locator("canvas.chart").first
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 12, box["y"] + box["height"] / 2)
    tip = page.locator(".chart-tip").first
    playwright_api.expect(tip).to_be_visible()
    assert re.search(r"requests: [\d.]+(k|M)?/s", tip.inner_text())
    # Readable ticks.
    assert page.evaluate("""async () => {
        const { readable } = await import('/ui/js/charts.js');
        return [readable(0.0063, ' s'), readable(2.5, ' s'), readable(0.5, '/s'), readable(1500)];
    }""") == ["6.3 ms", "2.5 s", "0.5", "1.5k"]
    # The Errors card opens its breakdown.
    page.get_by_role("button", name=re.compile(r"^[\d,]+ Errors")).click()
    breakdown = page.locator("#metrics-breakdown")
    playwright_api.expect(breakdown).to_be_visible()
    playwright_api.expect(breakdown.locator("td", has_text="/v1/models/{model}")).to_be_visible()
    assert "404" in breakdown.inner_text()


# -- phone width --------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_width_nothing_overflows(browser: Any, served: Running, scheme: str,
                                       tmp_path: Path) -> None:
    tab = Page(browser, served.url, color_scheme=scheme, viewport=PHONE, has_touch=True,
               is_mobile=True)
    try:
        for name in PAGES:
            page = tab.open(name)
            if name == "code":
                page.get_by_label("Search", exact=True).fill(MANY_USES)
                page.get_by_role("button", name="Go").click()
                page.wait_for_selector(".results[data-ready] .result")
                page.locator(".result .link-button").first.click()
                page.wait_for_selector("#code-viewer[data-ready]")
            if name == "ingest":
                page.wait_for_selector("tbody tr td")
            if name == "metrics":
                page.wait_for_function("() => document.querySelectorAll('.stat').length >= 6")
            if name == "cube":
                page.wait_for_selector("canvas.cube[data-points]")
            assert page.evaluate(OVERFLOWING) == [], name
            # Every section is reachable from the nav without scrolling it.
            for link in page.locator(".nav a").all():
                b = link.bounding_box()
                assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"], link.inner_text()
            shot = page.screenshot()
            (tmp_path / f"{name}-{scheme}.png").write_bytes(shot)
            assert distinct_colours(page, shot) > 20, f"{name} looks blank"
        page = tab.open("code")
        card = page.locator(".lookup").bounding_box()
        for control in (page.get_by_role("button", name="Go"),
                        page.get_by_role("tab", name="Similar")):
            b = control.bounding_box()  # whole, inside the card (not clipped by its edge)
            assert card["x"] <= b["x"] and b["x"] + b["width"] <= card["x"] + card["width"] - 8
    finally:
        tab.close()
