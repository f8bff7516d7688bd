"""OpenAI's Responses API against the real server with the official openai client's
``responses.create``, streamed and not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from app.chat_template import Message, render
from tests.api_helpers import (
    Running,
    get_json,
    openai_client,
    post_json,
    shared_engine,
    shared_hypercube,
    sse_events,
    start_server,
    validate_ours,
)

INSTRUCTIONS = "You write Python."
QUESTION = "Add two numbers."


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Running) -> Iterator[openai.OpenAI]:
    with openai_client(server) as c:
        yield c


def chat_reply(server: Running, max_tokens: int) -> dict[str, object]:
    status, result = post_json(server.url, "/v1/chat/completions", {
        "model": server.model, "max_tokens": max_tokens, "temperature": 0,
        "messages": [{"role": "system", "content": INSTRUCTIONS},
                     {"role": "user", "content": QUESTION}]})
    assert status == 200
    return result


def test_create_answers_like_the_chat_service(client: openai.OpenAI, server: Running) -> None:
    response = client.responses.create(model=server.model, input=QUESTION,
                                       instructions=INSTRUCTIONS, max_output_tokens=8,
                                       temperature=0)
    same = chat_reply(server, 8)
    choice = same["choices"][0]  # type: ignore[index]
    assert response.output_text == choice["message"]["content"]
    assert response.status == "incomplete"  # cut by max_output_tokens, as OpenAI reports
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    prompt_tokens = len(server.engine.tokenizer.encode(render(
        [Message("system", INSTRUCTIONS), Message("user", QUESTION)])))
    assert response.usage is not None
    assert response.usage.input_tokens == prompt_tokens
    assert response.usage.output_tokens == 8
    assert response.usage.total_tokens == prompt_tokens + 8
    (item,) = response.output
    assert item.type == "message" and item.role == "assistant"
    assert response.id.startswith("resp_") and response.store is False


def test_message_list_input_equals_instructions(client: openai.OpenAI, server: Running) -> None:
    listed = client.responses.create(model=server.model, max_output_tokens=8, temperature=0,
                                     input=[{"role": "system", "content": INSTRUCTIONS},
                                            {"role": "user", "content": [
                                                {"type": "input_text", "text": QUESTION}]}])
    plain = client.responses.create(model=server.model, input=QUESTION,
                                    instructions=INSTRUCTIONS, max_output_tokens=8,
                                    temperature=0)
    assert listed.output_text == plain.output_text


def test_stream_events_in_order(client: openai.OpenAI, server: Running) -> None:
    events = list(client.responses.create(model=server.model, input=QUESTION,
                                          instructions=INSTRUCTIONS, max_output_tokens=8,
                                          temperature=0, stream=True))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.incomplete"]
    assert set(types[4:-4]) == {"response.output_text.delta"}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == chat_reply(server, 8)["choices"][0]["message"]["content"]  # type: ignore[index]
    done = events[-4]
    assert done.type == "response.output_text.done" and done.text == text
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == text and final.usage is not None
    assert final.usage.output_tokens == 8


def test_completed_when_the_reply_ends_itself(client: openai.OpenAI, server: Running) -> None:
    """A reply that ends before max_output_tokens (here at the chat template's end of a
    block) is completed, streamed or not."""
    response = client.responses.create(model=server.model, input="def total(value):",
                                       max_output_tokens=400, temperature=0)
    if response.status == "completed":
        events = list(client.responses.create(model=server.model, input="def total(value):",
                                              max_output_tokens=400, temperature=0,
                                              stream=True))
        assert events[-1].type == "response.completed"
        assert events[-1].response.output_text == response.output_text  # type: ignore[union-attr]
    else:
        assert response.usage is not None and response.usage.output_tokens == 400


def test_json_format_passes_to_the_chat_service(client: openai.OpenAI,
                                                server: Running) -> None:
    # Greedy: a sampled reply can (rarely) still be inside the object when the budget runs
    # out, and then, as OpenAI's, it is cut short with status "incomplete".
    response = client.responses.create(model=server.model, input=QUESTION,
                                       max_output_tokens=30, temperature=0,
                                       text={"format": {"type": "json_object"}})
    assert response.status == "completed"
    assert isinstance(json.loads(response.output_text), dict)


def test_responses_match_our_schema(server: Running) -> None:
    status, document = get_json(server.url, "/openapi.json")
    assert status == 200
    status, body = post_json(server.url, "/v1/responses", {
        "model": server.model, "input": QUESTION, "max_output_tokens": 4})
    assert status == 200
    validate_ours(document, "Response", body)
    status, _, events = sse_events(server.url, "/v1/responses", {
        "model": server.model, "input": QUESTION, "max_output_tokens": 4, "stream": True})
    assert status == 200 and "[DONE]" not in events
    validate_ours(document, "Response", events[-1]["response"])


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "x", "previous_response_id": "resp_123"}, "previous_response_id"),
    ({"input": "x", "tools": [{"type": "function", "name": "f"}]}, "tools"),
    ({}, "input"),
    ({"input": []}, "input"),
    ({"input": [{"role": "user", "content": [{"type": "input_image"}]}]},
     "input[0].content[0].type"),
    ({"input": "x", "max_output_tokens": -1}, "max_output_tokens"),
])
def test_bad_requests_are_openai_errors(client: openai.OpenAI, server: Running,
                                        body: dict[str, object], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=server.model, **body)  # type: ignore[call-overload]
    assert caught.value.status_code == 400
    assert caught.value.param == param


def test_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-5", input="x")
    assert caught.value.code == "model_not_found"
