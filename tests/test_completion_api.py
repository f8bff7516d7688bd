"""The completion extensions over HTTP and on the CLI: ``scope``, ``language``,
``filename`` and ``suffix`` reach the engine's policy; bad values are 400s / one line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from tests.api_helpers import (
    Running,
    error_of,
    post_json,
    shared_engine,
    shared_hypercube,
    sse_events,
    start_server,
    validate_openai,
)

PREFIX = "def total_count(value, count=3):\n    total = "
SUFFIX = "\n    return total\n"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def test_line_scope_with_language_and_filename(server: Running) -> None:
    status, body = post_json(server.url, "/v1/completions", {
        "model": server.model, "prompt": PREFIX, "max_tokens": 16, "temperature": 0,
        "scope": "line", "language": "python", "filename": "pkg/mod.py", "n": 2,
        "best_of": 2, "logprobs": 1})
    assert status == 200, body
    validate_openai("CreateCompletionResponse", body)
    choices = body["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    assert all("\n" not in c["text"] for c in choices)
    assert choices[0]["text"] != choices[1]["text"]
    tokens = sum(len(c["logprobs"]["tokens"]) for c in choices)
    assert body["usage"]["completion_tokens"] == tokens


def test_fill_in_the_middle_usage_counts_the_returned_tokens(server: Running) -> None:
    status, body = post_json(server.url, "/v1/completions", {
        "model": server.model, "prompt": PREFIX, "suffix": SUFFIX, "max_tokens": 12,
        "temperature": 0, "logprobs": 0})
    assert status == 200, body
    (choice,) = body["choices"]
    assert "return total" not in choice["text"]
    assert body["usage"]["completion_tokens"] == len(choice["logprobs"]["tokens"]) <= 12


def test_streamed_line_completion_matches_the_answer(server: Running) -> None:
    ask = {"model": server.model, "prompt": PREFIX, "max_tokens": 16, "temperature": 0,
           "scope": "line", "stream": True, "stream_options": {"include_usage": True}}
    status, _, events = sse_events(server.url, "/v1/completions", ask)
    assert status == 200 and events[-1] == "[DONE]"
    streamed = "".join(e["choices"][0]["text"] for e in events[:-1] if e["choices"])
    _, whole = post_json(server.url, "/v1/completions", {**ask, "stream": False,
                                                          "stream_options": None})
    assert streamed == whole["choices"][0]["text"]
    assert events[-2]["usage"]["completion_tokens"] == whole["usage"]["completion_tokens"]


def test_the_openai_client_passes_the_extensions(server: Running) -> None:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="unused",
                       max_retries=0) as client:
        result = client.completions.create(model=server.model, prompt=PREFIX, max_tokens=8,
                                           temperature=0, extra_body={"scope": "line"})
    assert "\n" not in result.choices[0].text


@pytest.mark.parametrize(("field", "value"), [
    ("scope", "paragraph"), ("scope", 3), ("language", "cobol"), ("filename", 7)])
def test_bad_extension_fields_are_400(server: Running, field: str, value: object) -> None:
    status, body = post_json(server.url, "/v1/completions",
                             {"model": server.model, "prompt": "x", field: value})
    assert error_of(status, body)["param"] == field


def test_cli_complete_takes_suffix_scope_language(
        cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    db = shared_hypercube()
    code, out, err = cli("complete", PREFIX, "--db", db, "--suffix", SUFFIX, "--temperature",
                         "0", "--max-tokens", "12", "--json", "--filename", "m.py")
    assert code == 0, err
    result = json.loads(out)
    assert (result["scope"], result["language"]) == ("line", "python")
    assert "\n" not in result["text"] and "return total" not in result["text"]
    code, out, err = cli("complete", "def f(x):", "--db", db, "--scope", "block",
                         "--temperature", "0", "--max-tokens", "30", "--language", "python")
    assert code == 0, err
    assert out.startswith("\n")
    with pytest.raises(SystemExit) as exit_info:  # argparse's own usage error
        cli("complete", "x", "--db", db, "--scope", "page")
    assert exit_info.value.code == 2


@pytest.mark.parametrize("scope", ["free", "line"])
def test_streamed_logprobs_offsets_follow_the_healed_prompt(server: Running, scope: str) -> None:
    ask = {"model": server.model, "prompt": PREFIX + "val", "max_tokens": 8, "temperature": 0,
           "scope": scope, "logprobs": 0, "stream": True}
    status, _, events = sse_events(server.url, "/v1/completions", ask)
    assert status == 200
    chunks = [e["choices"][0] for e in events[:-1] if e["choices"]]
    tokens = [t for c in chunks if c["logprobs"] for t in c["logprobs"]["tokens"]]
    offsets = [o for c in chunks if c["logprobs"] for o in c["logprobs"]["text_offset"]]
    text = "".join(c["text"] for c in chunks)
    prompt = PREFIX + "val"
    # The first token re-writes " val" (the word healing took back) and starts there.
    assert offsets[0] == len(prompt) - len(" val")
    assert (prompt[:offsets[0]] + "".join(tokens)).startswith(prompt + text)
    assert offsets == sorted(offsets)
