"""Grounded chat end to end: a small project ingested into a temporary hypercube, the real
server, the real ``openai`` client, and the CLI."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from app.chat_template import Message, render
from tests.api_helpers import (
    FIXTURES,
    Running,
    build_hypercube,
    openai_client,
    post_json,
    start_server,
    validate_openai,
)
from tests.conftest import run_hypercube, write_python_corpus

PROJECT = FIXTURES / "grounded_project"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grounded")
    shutil.copytree(PROJECT, root / "shop")
    # Other code beside the project, so the tokenizer and the model have text to learn from.
    write_python_corpus(root / "shop" / "vendor", files=12, seed=3)
    build_hypercube(root / "grounded.db", root / "shop")
    return root


@pytest.fixture(scope="module")
def server(workspace: Path) -> Iterator[Running]:
    running = start_server(workspace / "grounded.db")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Running) -> openai.OpenAI:
    return openai_client(server)


def line_of(path: str, text: str) -> int:
    """1-based line of the first line of the fixture file ``path`` starting with ``text``."""
    lines = (PROJECT / path).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(text))


def ask(server: Running, question: str | list[dict[str, str]], **body: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": question}] if isinstance(question, str) else question
    status, result = post_json(server.url, "/v1/chat/completions",
                               {"model": server.model, "messages": messages, **body})
    assert status == 200, result
    validate_openai("CreateChatCompletionResponse", result)
    return result


def count(server: Running, text: str) -> int:
    return len(server.engine.tokenizer.encode(text))


def test_where_is_it_defined_cites_the_real_definition(server: Running, workspace: Path,
                                                       client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=server.model, messages=[{"role": "user",
                                       "content": "Where is apply_discount defined?"}])
    message = response.choices[0].message
    line = line_of("inventory/pricing.py", "def apply_discount")
    path = str((workspace / "shop" / "inventory" / "pricing.py").resolve())
    assert message.model_extra["sources"] == [{
        "index": 1, "path": path, "display_path": "inventory/pricing.py", "line": line,
        "end_line": line + 2, "kind": "definition", "name": "apply_discount",
        "language": "python"}]
    first, rest = message.content.split("\n\n", 1)
    assert first == ("`apply_discount` is defined once: the function in "
                     f"`inventory/pricing.py:{line}`.")
    assert rest.startswith(f"**1.** `inventory/pricing.py:{line}` — function `apply_discount`"
                           "\n\n```python\ndef apply_discount(price, percent):\n")
    assert "return round(price * (100 - percent) / 100)\n```" in rest
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.completion_tokens == count(server, message.content)
    assert response.usage.prompt_tokens == count(
        server, render([Message("user", "Where is apply_discount defined?")]))


def test_names_resolve_fuzzily_and_say_so(server: Running) -> None:
    result = ask(server, "where is the InventoryStor class?")
    message = result["choices"][0]["message"]
    assert message["sources"][0]["name"] == "InventoryStore"
    assert message["sources"][0]["line"] == line_of("inventory/store.py", "class InventoryStore")
    assert "(the closest defined name to `InventoryStor`)" in message["content"]
    camel = ask(server, "what does InventoryStore.totalValue do?")["choices"][0]["message"]
    assert camel["sources"][0]["name"] == "InventoryStore.total_value"
    assert "Compute the value of the whole stock after a discount." in camel["content"]


def test_other_languages_get_their_fence_tag(server: Running) -> None:
    message = ask(server, "show me computeCartTotal")["choices"][0]["message"]
    source = message["sources"][0]
    assert (source["display_path"], source["line"], source["language"]) == (
        "web/cart.js", line_of("web/cart.js", "function computeCartTotal"), "javascript")
    assert "```javascript\nfunction computeCartTotal(items) {" in message["content"]


def test_who_calls_it_follows_the_conversation(server: Running) -> None:
    first = ask(server, "where is apply_discount defined?")
    history = [{"role": "user", "content": "where is apply_discount defined?"},
               {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
               {"role": "user", "content": "and who calls it?"}]
    message = ask(server, history)["choices"][0]["message"]
    cited = [(s["display_path"], s["line"], s["kind"], s["name"]) for s in message["sources"]]
    assert cited == [
        ("inventory/report.py", line_of("inventory/report.py", "return apply_discount"),
         "call", "clearance_price"),
        ("inventory/store.py", line_of("inventory/store.py", "return sum(apply_discount"),
         "call", "InventoryStore.total_value"),
    ]
    assert message["content"].startswith("`apply_discount` is called in 2 places (2 files):")
    for source in message["sources"]:
        assert f"`{source['display_path']}:{source['line']}`" in message["content"]


def test_how_do_i_finds_the_code_by_its_words(server: Running) -> None:
    message = ask(server, "How do I reduce a price by a percentage?")["choices"][0]["message"]
    assert message["sources"][0]["name"] == "apply_discount"
    prose = ask(server, "how do I restock the shelves?")["choices"][0]["message"]
    assert prose["sources"][0]["kind"] == "passage"
    assert prose["sources"][0]["display_path"] == "README.md"
    assert "Restocking runs every night" in prose["content"]


def test_pasted_code_finds_its_clone(server: Running) -> None:
    snippet = ("def cut_price(amount, share):\n"
               "    return round(amount * (100 - share) / 100)\n")
    message = ask(server, f"Is there code like this?\n```python\n{snippet}```")[
        "choices"][0]["message"]
    assert message["sources"][0]["kind"] == "similar"
    assert message["sources"][0]["name"] == "apply_discount"


def test_nothing_found_is_said_plainly(server: Running) -> None:
    message = ask(server, "where is frobnicate_widgets defined?")["choices"][0]["message"]
    assert message["sources"] == []
    assert message["content"].startswith("No definition named `frobnicate_widgets` is in the "
                                         "hypercube, and no defined name is close to it.")
    off_topic = ask(server, "What is the weather in Paris?")["choices"][0]["message"]
    assert off_topic["sources"] == []
    assert off_topic["content"].startswith("I found nothing in the hypercube about")
    hello = ask(server, "Hello! Who are you?")["choices"][0]["message"]
    assert hello["sources"] == []
    assert hello["content"].startswith("I answer from the code in this hypercube")


def test_streamed_answer_equals_the_whole_one(server: Running, client: openai.OpenAI) -> None:
    question = [{"role": "user", "content": "who calls parse_price?"}]
    whole = ask(server, question)
    stream = client.chat.completions.create(model=server.model, messages=question, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    head = chunks[0].choices[0].delta
    assert head.role == "assistant" and head.content == ""
    assert head.model_extra["sources"] == whole["choices"][0]["message"]["sources"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole["choices"][0]["message"]["content"]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == count(server, text)
    assert chunks[-1].usage.model_dump() == {**whole["usage"],
                                             **{k: None for k in ("completion_tokens_details",
                                                                  "prompt_tokens_details")}}
    assert len({c.id for c in chunks}) == 1


def test_max_tokens_stop_and_n(server: Running) -> None:
    question = "where is monthly_report defined?"
    full = ask(server, question)["choices"][0]["message"]["content"]
    ids = server.engine.tokenizer.encode(full).tolist()
    cut = ask(server, question, max_tokens=7)
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["usage"]["completion_tokens"] == 7
    assert cut["choices"][0]["message"]["content"] == \
        server.engine.tokenizer.decode(ids[:7])
    stopped = ask(server, question, stop=["```"])
    assert stopped["choices"][0]["message"]["content"] == full[:full.index("```")]
    assert stopped["choices"][0]["finish_reason"] == "stop"
    two = ask(server, question, n=2)
    assert [c["message"]["content"] for c in two["choices"]] == [full, full]
    assert two["usage"]["completion_tokens"] == 2 * len(ids)


def test_logprobs_are_the_models_for_the_answer(server: Running) -> None:
    question = "where is parse_price defined?"
    result = ask(server, question, logprobs=True, top_logprobs=2)
    content = result["choices"][0]["logprobs"]["content"]
    text = result["choices"][0]["message"]["content"]
    assert b"".join(bytes(t["bytes"]) for t in content) == text.encode()
    assert len(content) == result["usage"]["completion_tokens"]
    tokenizer = server.engine.tokenizer
    prompt = tokenizer.encode(render([Message("user", question)])).tolist()
    scored = server.engine.score(prompt + tokenizer.encode(text).tolist(), top=2)[len(prompt):]
    assert [t["logprob"] for t in content] == pytest.approx([s.logprob for s in scored])
    assert all(len(t["top_logprobs"]) == 2 for t in content)


def test_code_to_continue_is_completed_and_shown_with_it_in_a_fence(
        server: Running, client: openai.OpenAI) -> None:
    code = "def clearance_price(price):"
    result = ask(server, f"Complete this:\n```python\n{code}\n```", max_tokens=24,
                 temperature=0)
    message = result["choices"][0]["message"]
    assert "sources" not in message
    # The same completion an editor gets for that code: the function's body, in Python.
    status, completion = post_json(server.url, "/v1/completions", {
        "model": server.model, "prompt": code, "max_tokens": 24, "temperature": 0,
        "scope": "block", "language": "python"})
    assert status == 200
    body = completion["choices"][0]["text"]
    assert body.startswith("\n    ") and body.strip()
    assert message["content"] == f"```python\n{code}{body}\n```"
    assert result["usage"]["completion_tokens"] == completion["usage"]["completion_tokens"]
    # Streamed, the fence comes first and closes before the finish.
    chunks = list(client.chat.completions.create(
        model=server.model, messages=[{"role": "user", "content": code}], max_tokens=24,
        temperature=0, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == f"```python\n{code}{body}\n```"
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_json_mode_still_goes_to_the_model(server: Running) -> None:
    result = ask(server, "where is apply_discount defined?", max_tokens=20,
                 response_format={"type": "json_object"})
    message = result["choices"][0]["message"]
    assert "sources" not in message
    json.loads(message["content"])


def test_cli_chat_answers_from_the_code_index(workspace: Path) -> None:
    done = run_hypercube("chat", "--db", workspace / "grounded.db", "--json",
                         input="who calls apply_discount\nwhere is it defined?\n")
    assert done.returncode == 0, done.stderr
    replies = [json.loads(block) for block in re.split(r"\n(?=\{)", done.stdout.strip())]
    assert [r["sources"][0]["kind"] for r in replies] == ["call", "definition"]
    assert replies[1]["sources"][0]["line"] == line_of("inventory/pricing.py",
                                                       "def apply_discount")
    assert replies[1]["content"].startswith("`apply_discount` is defined once")
