"""The official openai npm package under Node against the real server (tests/js/client.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat_template import Message, render
from tests.api_helpers import Running, shared_engine, shared_hypercube, start_server

JS = Path(__file__).resolve().parent / "js"


@pytest.fixture(scope="module")
def node_client() -> Path:
    """tests/js with its node_modules (CI's .ci/run installs them; a fresh clone may not have
    them yet, so this installs the locked versions the same way)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are needed for the npm client test"
    if not (JS / "node_modules" / "openai").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=JS, check=True,
                       timeout=300)
    return JS / "client.mjs"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def test_openai_npm_client(server: Running, node_client: Path) -> None:
    result = subprocess.run(["node", str(node_client), server.url + "/v1", server.model],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    tokenizer = server.engine.tokenizer
    assert report["models"] == [server.model]

    completion = report["completion"]
    prompt_tokens = len(tokenizer.encode("def total(value):"))
    assert completion["usage"] == {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion["tokens"],
        "total_tokens": prompt_tokens + completion["tokens"]}

    chat_prompt = len(tokenizer.encode(render([Message("system", "You write Python."),
                                               Message("user", "Add two numbers.")])))
    assert report["chat"]["usage"]["prompt_tokens"] == chat_prompt
    stream = report["stream"]
    assert stream["ids"] == 1
    assert stream["role"] == "assistant"
    assert stream["text"] == report["chat"]["content"]
    assert stream["finish_reason"] == report["chat"]["finish_reason"]
    assert stream["usage"] == report["chat"]["usage"]

    assert report["embeddings"] == [512, 512]
    assert report["errors"] == {
        "unknown_model": {"class": "NotFoundError", "status": 404, "code": "model_not_found",
                          "param": "model"},
        "bad_temperature": {"class": "BadRequestError", "status": 400, "code": None,
                            "param": "temperature"},
        "too_long": {"class": "BadRequestError", "status": 400,
                     "code": "context_length_exceeded", "param": "prompt"},
    }
