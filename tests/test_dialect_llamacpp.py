"""llama.cpp's server endpoints against the real server, with the request shapes of
llama.cpp's own server tests (tools/server/tests/unit) and of llama.vscode's /infill."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from app.api.dialects.llamacpp import SNIPPET
from app.chat_template import SEPARATOR
from tests.api_helpers import (
    Running,
    get_json,
    post_json,
    request,
    shared_engine,
    shared_hypercube,
    sse_events,
    start_server,
)

PROMPT = "def total_count(value, count=3):\n    total = value + count"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def native(server: Running, path: str, **body: Any) -> Any:
    status, result = post_json(server.url, path, body)
    assert status == 200, result
    return result


def completion(server: Running, **body: Any) -> dict[str, Any]:
    status, result = post_json(server.url, "/v1/completions",
                               {"model": server.model, **body})
    assert status == 200, result
    return result


def test_completion_matches_the_completions_service(server: Running) -> None:
    result = native(server, "/completion", prompt=PROMPT, n_predict=8, temperature=0,
                    return_tokens=True)
    same = completion(server, prompt=PROMPT, max_tokens=8, temperature=0, top_k=40,
                      top_p=0.95, min_p=0.05)
    assert result["content"] == same["choices"][0]["text"]
    assert result["stop"] is True and result["stop_type"] == "limit"
    assert result["tokens_predicted"] == len(result["tokens"]) == 8
    assert result["tokens_evaluated"] == same["usage"]["prompt_tokens"]
    assert result["timings"]["prompt_n"] == same["usage"]["prompt_tokens"]
    assert result["timings"]["predicted_n"] == 8
    # The generated ids: healing's first token re-writes the prompt's last word, so they
    # decode to the content after the end of that word.
    generated = server.engine.tokenizer.decode(result["tokens"])
    assert generated.endswith(result["content"])
    assert (PROMPT + result["content"]).endswith(generated)
    assert result["truncated"] is False and isinstance(result["has_new_line"], bool)
    assert result["generation_settings"]["n_predict"] == 8
    assert native(server, "/completion", prompt=PROMPT, n_predict=8,
                  temperature=0)["tokens"] == []


def test_completion_stream_vs_non_stream(server: Running) -> None:
    body = {"prompt": PROMPT, "n_predict": 8, "temperature": 0, "stream": True}
    status, headers, events = sse_events(server.url, "/completion", body)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in events  # llama.cpp sends it only on its OpenAI routes
    *pieces, final = events
    assert all(e["stop"] is False and e["tokens"] for e in pieces)
    assert final["stop"] is True and final["content"] == ""
    assert final["stop_type"] == "limit" and final["timings"]["predicted_n"] == 8
    whole = native(server, "/completion", **{**body, "stream": False})
    assert "".join(e["content"] for e in events) == whole["content"]


def test_token_prompts_mixed_prompts_and_several(server: Running) -> None:
    ids = native(server, "/tokenize", content=PROMPT)["tokens"]
    single = native(server, "/completion", prompt=ids, n_predict=4, temperature=0)
    by_text = native(server, "/completion", prompt=PROMPT, n_predict=4, temperature=0)
    assert single["content"] == by_text["content"]
    several = native(server, "/completion", prompt=[ids, PROMPT], n_predict=4, temperature=0)
    assert isinstance(several, list) and [r["content"] for r in several] == [
        by_text["content"]] * 2
    mixed = native(server, "/completion", prompt=[*ids[:3], "x", *ids[3:]], n_predict=2)
    assert isinstance(mixed["content"], str)


def test_n_probs(server: Running) -> None:
    result = native(server, "/completion", prompt=PROMPT, n_probs=10, temperature=0,
                    n_predict=5)
    probabilities = result["completion_probabilities"]
    assert len(probabilities) == 5
    assert "".join(p["token"] for p in probabilities) == result["content"]
    for token in probabilities:
        assert token["logprob"] <= 0 and isinstance(token["bytes"], list)
        assert len(token["top_logprobs"]) == 10
        assert token["top_logprobs"][0]["id"] == token["id"]  # greedy: the likeliest
        for alternative in token["top_logprobs"]:
            assert alternative["logprob"] <= 0 and isinstance(alternative["token"], str)
    _, _, events = sse_events(server.url, "/completion", {
        "prompt": PROMPT, "n_probs": 3, "temperature": 0, "n_predict": 5, "stream": True})
    for event in events[:-1]:
        assert len(event["completion_probabilities"]) == len(event["tokens"])
    assert "".join(p["token"] for e in events[:-1]
                   for p in e["completion_probabilities"]) == result["content"]


def test_same_seed_same_text(server: Running) -> None:
    body = {"prompt": PROMPT, "seed": 42, "temperature": 1.0, "n_predict": 12,
            "cache_prompt": False}
    assert len({native(server, "/completion", **body)["content"] for _ in range(3)}) == 1


def test_infill_is_the_completions_service_with_a_suffix(server: Running) -> None:
    body = {"input_prefix": "def total(value, count=3):\n", "prompt": "    total = ",
            "input_suffix": "\n    return total\n", "n_predict": 12, "temperature": 0}
    result = native(server, "/infill", **body)
    same = completion(server, prompt="def total(value, count=3):\n    total = ",
                      suffix="\n    return total\n", max_tokens=12, temperature=0, top_k=40,
                      top_p=0.95, min_p=0.05)
    assert result["content"] == same["choices"][0]["text"]
    assert result["tokens_evaluated"] == same["usage"]["prompt_tokens"] - len(
        server.engine.tokenizer.encode("\n    return total\n"))


def test_infill_input_extra_is_written_before_the_prefix(server: Running) -> None:
    extra = [{"filename": "llama.h", "text": "LLAMA_API int32_t llama_n_threads();\n"}]
    body = {"input_extra": extra, "input_prefix": "int main() {\n",
            "prompt": "    int n_threads = llama_", "input_suffix": "}\n", "n_predict": 6,
            "temperature": 0}
    result = native(server, "/infill", **body)
    expected = (SNIPPET + extra[0]["text"] + SEPARATOR + "int main() {\n"
                + "    int n_threads = llama_")
    assert result["prompt"] == expected
    same = completion(server, prompt=expected, suffix="}\n", max_tokens=6, temperature=0,
                      top_k=40, top_p=0.95, min_p=0.05)
    assert result["content"] == same["choices"][0]["text"]


def test_infill_leaves_out_the_oldest_chunks_that_do_not_fit(server: Running) -> None:
    limit = server.engine.info.context_length
    big = "value = count + total\n" * (limit // 6)
    extra = [{"filename": "old.py", "text": big}, {"filename": "new.py", "text": "x = 1\n"}]
    result = native(server, "/infill", input_extra=extra, input_prefix="def f():\n",
                    input_suffix="", n_predict=4, temperature=0)
    assert result["prompt"] == SNIPPET + "x = 1\n" + SEPARATOR + "def f():\n"


def test_infill_llama_vscode_warm_up_request(server: Running) -> None:
    """llama.vscode sends n_predict 0 with its chunks to prepare the next completion."""
    result = native(server, "/infill", input_prefix="", input_suffix="",
                    input_extra=[{"filename": "a.py", "text": "import os\n", "time": 1}],
                    prompt="", n_predict=0, samplers=[], cache_prompt=True,
                    t_max_prompt_ms=500, t_max_predict_ms=1)
    assert result["content"] == "" and result["tokens_predicted"] == 0
    streamed = sse_events(server.url, "/infill", {
        "input_prefix": "def f():\n", "input_suffix": "\n", "n_predict": 4, "stream": True,
        "temperature": 0, "id_slot": 0, "n_indent": 4, "top_k": 40, "top_p": 0.99})[2]
    assert streamed[-1]["stop"] is True


@pytest.mark.parametrize("input_extra", [
    {}, {"filename": "ok"}, {"filename": 123}, {"filename": 123, "text": "abc"},
    {"filename": 123, "text": 456}, "text",
])
def test_invalid_input_extra(server: Running, input_extra: Any) -> None:
    status, body = post_json(server.url, "/infill", {
        "input_extra": [input_extra], "input_prefix": "int main() {\n",
        "prompt": "    int n = ", "input_suffix": "}\n"})
    assert status == 400
    assert body["error"]["code"] == 400 and body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(("path", "body", "status", "type_"), [
    ("/completion", {}, 400, "invalid_request_error"),
    ("/completion", {"prompt": {}}, 400, "invalid_request_error"),
    ("/completion", {"prompt": "x", "n_predict": 1 << 20}, 400,
     "exceed_context_size_error"),
    ("/completion", {"prompt": "x", "temperature": "hot"}, 400, "invalid_request_error"),
    ("/completion", {"prompt": "x", "n_probs": 99}, 400, "invalid_request_error"),
    ("/completion", {"prompt": ["a", "b"], "stream": True}, 400, "invalid_request_error"),
    ("/completion", {"prompt": "x", "lora": [{"id": 0, "scale": 1}]}, 400,
     "invalid_request_error"),
    ("/infill", {"input_prefix": "x" * 70000}, 400, "exceed_context_size_error"),
])
def test_errors_have_llamacpp_shape(server: Running, path: str, body: dict[str, Any],
                                    status: int, type_: str) -> None:
    got, result = post_json(server.url, path, body)
    assert got == status
    assert result == {"error": {"code": status, "message": result["error"]["message"],
                                "type": type_}}
    assert result["error"]["message"]


def test_slots_are_refused_and_props_describe_the_server(server: Running) -> None:
    status, body = get_json(server.url, "/slots")
    assert status == 501 and body["error"]["type"] == "not_supported_error"
    status, props = get_json(server.url, "/props")
    assert status == 200
    settings = props["default_generation_settings"]
    assert settings["n_ctx"] == server.engine.info.context_length
    assert settings["params"]["temperature"] == 0.8
    assert props["model_path"] == str(server.db)


def test_tokenize_in_both_shapes(server: Running) -> None:
    text = "This is a test string with unicode 媽 and emoji 🤗"
    ids = [int(i) for i in server.engine.tokenizer.encode(text)]
    assert native(server, "/tokenize", content=text) == {"tokens": ids}
    pieces = native(server, "/tokenize", content=text, with_pieces=True,
                    add_special=True)["tokens"]
    assert [p["id"] for p in pieces] == ids
    assert b"".join(p["piece"].encode() if isinstance(p["piece"], str) else bytes(p["piece"])
                    for p in pieces) == text.encode()
    ours = native(server, "/tokenize", prompt=text, with_pieces=True)
    assert ours["tokens"] == ids and ours["count"] == len(ids)
    assert "".join(ours["pieces"]) == text
    assert native(server, "/detokenize", tokens=ids) == {"prompt": text, "content": text}


def test_a_body_that_is_not_json_is_refused_in_llamacpp_shape(server: Running) -> None:
    status, _, content = request(server.url, "POST", "/completion",
                                 raw=json.dumps({"prompt": PROMPT, "n_predict": 2}).encode(),
                                 headers={"Content-Type": "text/plain"})
    assert status == 415
    assert json.loads(content)["error"]["code"] == 415
