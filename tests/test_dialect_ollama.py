"""The Ollama API against the real server, driven by the official ``ollama`` Python package
and the ``ollama`` npm package (tests/js/ollama_client.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ollama
import pytest

from app.chat_template import Message, render
from tests.api_helpers import (
    Running,
    get_json,
    post_json,
    request,
    shared_engine,
    shared_hypercube,
    start_server,
)

JS = Path(__file__).resolve().parent / "js"
PROMPT = "def total_count(value, count=3):\n    total = value + count"
GREEDY = {"num_predict": 8, "temperature": 0}
CHAT = [{"role": "system", "content": "You write Python."},
        {"role": "user", "content": "Add two numbers."}]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Running) -> Iterator[ollama.Client]:
    with ollama.Client(host=server.url) as client:
        yield client


def completion(server: Running, **body: Any) -> dict[str, Any]:
    status, result = post_json(server.url, "/v1/completions",
                               {"model": server.model, **body})
    assert status == 200, result
    return result


def test_tags_show_ps_and_version(client: ollama.Client, server: Running) -> None:
    (model,) = client.list().models
    assert model.model == "hypercube:latest"
    assert model.size == server.db.stat().st_size
    assert model.details is not None and model.details.family == "hypercube"
    shown = client.show("hypercube")
    assert shown.modelinfo is not None
    assert shown.modelinfo["hypercube.context_length"] == server.engine.info.context_length
    assert shown.capabilities == ["completion", "insert", "embedding"]
    (loaded,) = client.ps().models
    assert loaded.name == "hypercube:latest"
    assert loaded.context_length == server.engine.info.context_length
    status, version = get_json(server.url, "/api/version")
    assert status == 200 and version["version"].count(".") == 2


def test_generate_matches_the_completions_service(client: ollama.Client,
                                                  server: Running) -> None:
    answer = client.generate(model="hypercube", prompt=PROMPT, options=GREEDY)
    same = completion(server, prompt=PROMPT, max_tokens=8, temperature=0)
    assert answer.response == same["choices"][0]["text"]
    assert answer.done is True and answer.done_reason == same["choices"][0]["finish_reason"]
    assert answer.prompt_eval_count == same["usage"]["prompt_tokens"]
    assert answer.eval_count == same["usage"]["completion_tokens"]
    assert answer.total_duration is not None and answer.total_duration > 0
    tokenizer = server.engine.tokenizer
    assert answer.context is not None
    assert tokenizer.decode(answer.context) == PROMPT + answer.response


def test_generate_streams_ndjson_ending_in_statistics(client: ollama.Client) -> None:
    whole = client.generate(model="hypercube:latest", prompt=PROMPT, options=GREEDY)
    parts = list(client.generate(model="hypercube:latest", prompt=PROMPT, options=GREEDY,
                                 stream=True))
    assert all(not p.done for p in parts[:-1]) and parts[-1].done
    assert "".join(p.response or "" for p in parts) == whole.response
    final = parts[-1]
    assert final.eval_count == whole.eval_count
    assert final.prompt_eval_count == whole.prompt_eval_count
    assert final.context == whole.context
    assert final.eval_duration is not None and final.prompt_eval_duration is not None


def test_generate_system_suffix_context_and_seed(client: ollama.Client,
                                                 server: Running) -> None:
    with_system = client.generate(model="hypercube", prompt="Add two numbers.",
                                  system="You write Python.", options=GREEDY)
    same = completion(server, prompt="You write Python.\n\nAdd two numbers.", max_tokens=8,
                      temperature=0)
    assert with_system.response == same["choices"][0]["text"]
    raw = client.generate(model="hypercube", prompt="Add two numbers.",
                          system="You write Python.", raw=True, options=GREEDY)
    assert raw.context is None  # raw mode returns no context, as Ollama's
    infill = client.generate(model="hypercube", prompt="def total(value):\n",
                             suffix="\n    return total\n", options=GREEDY)
    middle = completion(server, prompt="def total(value):\n", suffix="\n    return total\n",
                        max_tokens=8, temperature=0)
    assert infill.response == middle["choices"][0]["text"]
    first = client.generate(model="hypercube", prompt=PROMPT, options=GREEDY)
    assert first.context is not None
    follow = client.generate(model="hypercube", prompt="\n", context=first.context,
                             options=GREEDY)
    assert follow.prompt_eval_count == len(first.context) + len(
        server.engine.tokenizer.encode("\n"))
    seeded = [client.generate(model="hypercube", prompt=PROMPT,
                              options={"num_predict": 12, "seed": 7, "temperature": 1.0,
                                       "top_k": 20, "min_p": 0.01, "repeat_penalty": 1.1})
              for _ in range(2)]
    assert seeded[0].response == seeded[1].response


def test_generate_logprobs(client: ollama.Client) -> None:
    answer = client.generate(model="hypercube", prompt=PROMPT, options=GREEDY,
                             logprobs=True, top_logprobs=3)
    assert answer.logprobs is not None and len(answer.logprobs) == answer.eval_count
    assert "".join(t.token for t in answer.logprobs) == answer.response
    for token in answer.logprobs:
        assert token.logprob <= 0 and token.top_logprobs is not None
        assert len(token.top_logprobs) == 3
    # PROMPT ends inside a word, so the answer is healed: streamed, the tokens still join
    # into the response, and the context says the prompt's last word once.
    parts = list(client.generate(model="hypercube", prompt=PROMPT, options=GREEDY,
                                 logprobs=True, top_logprobs=3, stream=True))
    assert "".join(t.token for p in parts for t in p.logprobs or []) == answer.response
    assert parts[-1].context == answer.context


def test_chat_streamed_and_not(client: ollama.Client, server: Running) -> None:
    reply = client.chat(model="hypercube", messages=CHAT, options=GREEDY)
    status, same = post_json(server.url, "/v1/chat/completions", {
        "model": "hypercube", "messages": CHAT, "max_tokens": 8, "temperature": 0})
    assert status == 200
    assert reply.message.role == "assistant"
    assert reply.message.content == same["choices"][0]["message"]["content"]
    prompt_tokens = len(server.engine.tokenizer.encode(render(
        [Message("system", "You write Python."), Message("user", "Add two numbers.")])))
    assert reply.prompt_eval_count == prompt_tokens
    parts = list(client.chat(model="hypercube", messages=CHAT, options=GREEDY, stream=True))
    assert "".join(p.message.content or "" for p in parts) == reply.message.content
    assert parts[-1].done and parts[-1].eval_count == reply.eval_count
    assert parts[-1].done_reason == reply.done_reason


def test_chat_format_json_is_valid_json(client: ollama.Client) -> None:
    reply = client.chat(model="hypercube", messages=CHAT, format="json",
                        options={"num_predict": 30, "seed": 3})
    assert isinstance(json.loads(reply.message.content or ""), dict)
    streamed = client.chat(model="hypercube", messages=CHAT, format="json",
                           options={"num_predict": 30, "seed": 3}, stream=True)
    assert "".join(p.message.content or "" for p in streamed) == reply.message.content
    generated = client.generate(model="hypercube", prompt="Answer in JSON.", format="json",
                                options={"num_predict": 30, "seed": 3})
    assert isinstance(json.loads(generated.response or ""), dict)


def test_chat_json_schema_goes_to_the_chat_service(client: ollama.Client,
                                                   server: Running) -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}},
              "required": ["age"]}
    body = {"model": "hypercube", "messages": CHAT, "max_tokens": 30,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "format", "schema": schema, "strict": True}}}
    status, openai_answer = post_json(server.url, "/v1/chat/completions", body)
    try:
        reply = client.chat(model="hypercube", messages=CHAT, format=schema,
                            options={"num_predict": 30})
    except ollama.ResponseError as exc:
        # Until the chat service supports schemas, both dialects refuse them alike.
        assert status == exc.status_code == 400
        assert exc.error == openai_answer["error"]["message"]
    else:
        assert status == 200
        assert json.loads(reply.message.content or "")["age"] is not None


def test_embed_and_embeddings(client: ollama.Client, server: Running) -> None:
    embedded = client.embed(model="hypercube", input=["import os", "import sys"])
    status, same = post_json(server.url, "/v1/embeddings", {
        "model": "hypercube", "input": ["import os", "import sys"]})
    assert status == 200
    assert [list(e) for e in embedded.embeddings] == [d["embedding"] for d in same["data"]]
    assert embedded.prompt_eval_count == same["usage"]["prompt_tokens"]
    single = client.embeddings(model="hypercube", prompt="import os")
    assert list(single.embedding) == same["data"][0]["embedding"]
    assert list(client.embeddings(model="hypercube", prompt="").embedding) == []


def test_load_requests_answer_at_once(client: ollama.Client) -> None:
    loaded = client.generate(model="hypercube")
    assert loaded.done and loaded.done_reason == "load" and loaded.response == ""
    unloaded = client.generate(model="hypercube", keep_alive=0)
    assert unloaded.done_reason == "unload"
    chat = client.chat(model="hypercube", messages=[])
    assert chat.done_reason == "load" and chat.message.content == ""


@pytest.mark.parametrize(("call", "status", "message"), [
    (lambda c: c.generate(model="llama3", prompt="x"), 404, "model 'llama3' not found"),
    (lambda c: c.chat(model="hypercube:7b", messages=CHAT), 404,
     "model 'hypercube:7b' not found"),
    (lambda c: c.show("mistral"), 404, "model 'mistral' not found"),
    (lambda c: c.embed(model="nope", input="x"), 404, "model 'nope' not found"),
    (lambda c: c.generate(model="hypercube", prompt="x", options={"temperature": 9}), 400,
     "'temperature' must be at most 2.0, got 9"),
    (lambda c: c.generate(model="hypercube", prompt="x", images=["aGk="]), 400,
     "'images' are not supported: this model reads text only"),
])
def test_errors_are_ollama_errors(client: ollama.Client, call: Any, status: int,
                                  message: str) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        call(client)
    assert caught.value.status_code == status
    assert caught.value.error == message


def test_error_bodies_and_form_encoded_requests(server: Running) -> None:
    status, body = post_json(server.url, "/api/generate", {"prompt": "x"})
    assert (status, body) == (400, {"error": "model is required"})
    status, _, content = request(server.url, "POST", "/api/generate", raw=b"{nope",
                                 headers={"Content-Type": "application/json"})
    assert status == 400 and set(json.loads(content)) == {"error"}
    status, _, content = request(server.url, "GET", "/api/pull")
    assert status == 404 and json.loads(content) == {"error": "Invalid URL (GET /api/pull)"}
    # curl -d without -H sends a form, which a foreign web page can send too (no preflight):
    # refused with a 415 in Ollama's shape, as on every route that reads JSON.
    status, _, content = request(
        server.url, "POST", "/api/generate",
        raw=json.dumps({"model": "hypercube", "prompt": PROMPT}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415 and set(json.loads(content)) == {"error"}


@pytest.fixture(scope="module")
def node_client() -> Path:
    """tests/js with its node_modules (CI's .ci/run installs them)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are needed for the npm client test"
    if not (JS / "node_modules" / "ollama").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=JS, check=True,
                       timeout=300)
    return JS / "ollama_client.mjs"


def test_ollama_npm_client(server: Running, node_client: Path) -> None:
    result = subprocess.run(["node", str(node_client), server.url], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["models"] == ["hypercube:latest"]
    assert report["version"] == get_json(server.url, "/api/version")[1]["version"]
    same = completion(server, prompt=PROMPT, max_tokens=8, temperature=0)
    assert report["generate"]["response"] == same["choices"][0]["text"]
    assert report["generate"]["eval_count"] == same["usage"]["completion_tokens"]
    assert report["stream"] == {"text": same["choices"][0]["text"], "done": True,
                                "eval_count": same["usage"]["completion_tokens"]}
    assert report["chat"]["role"] == "assistant"
    assert report["chat_stream"] == report["chat"]["content"]
    assert report["embed"] == [512, 512]
    assert report["error"] == {"status": 404, "message": "model 'llama3' not found"}


def test_num_predict_zero_generates_nothing(client: ollama.Client) -> None:
    whole = client.generate(model="hypercube", prompt=PROMPT, options={"num_predict": 0})
    parts = list(client.generate(model="hypercube", prompt=PROMPT,
                                 options={"num_predict": 0}, stream=True))
    assert whole.response == "" and whole.eval_count == 0
    assert [(p.response, p.done, p.eval_count) for p in parts] == [("", True, 0)]
