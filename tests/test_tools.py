"""Tool calls against the real server: ``tools`` and every ``tool_choice``, streamed and not,
with raw HTTP, the openai client and LangChain's ``bind_tools``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.api_helpers import (
    Running,
    error_of,
    get_json,
    openai_client,
    post_json,
    shared_engine,
    shared_hypercube,
    sse_events,
    start_server,
    validate_openai,
    validate_ours,
)

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string"},
                                  "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
STOCK = {"type": "function", "function": {
    "name": "stock_price", "description": "Latest trading price of a company's shares.",
    "parameters": {"type": "object",
                   "properties": {"ticker": {"type": "string", "maxLength": 5},
                                  "days": {"type": "integer", "minimum": 1, "maximum": 30}},
                   "required": ["ticker", "days"]}}}
TOOLS = [WEATHER, STOCK]
ASK_WEATHER = [{"role": "user", "content": "What is the weather like in Paris today?"}]
ASK_OTHER = [{"role": "user", "content": "Write a function that reverses a string."}]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Running) -> openai.OpenAI:
    return openai_client(server)


def chat(server: Running, **body: Any) -> dict[str, Any]:
    status, result = post_json(server.url, "/v1/chat/completions",
                               {"model": server.model, "max_tokens": 64, **body})
    assert status == 200, result
    validate_openai("CreateChatCompletionResponse", result)
    validate_ours(get_json(server.url, "/openapi.json")[1], "ChatCompletion", result)
    return result


def parameters(name: str) -> dict[str, Any]:
    return next(t["function"]["parameters"] for t in TOOLS if t["function"]["name"] == name)


def assert_call(choice: dict[str, Any], name: str) -> dict[str, Any]:
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    (call,) = message["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == name
    arguments = json.loads(call["function"]["arguments"])
    jsonschema.validate(arguments, parameters(name))
    return arguments


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_required_calls_the_fitting_tool_with_valid_arguments(server: Running,
                                                              seed: int) -> None:
    result = chat(server, messages=ASK_WEATHER, tools=TOOLS, tool_choice="required",
                  seed=seed, temperature=0.8)
    assert_call(result["choices"][0], "get_weather")


def test_required_without_a_fit_still_calls_a_tool(server: Running) -> None:
    result = chat(server, messages=ASK_OTHER, tools=TOOLS, tool_choice="required", seed=1)
    assert_call(result["choices"][0], "get_weather")  # the first declared


def test_named_function_is_called(server: Running) -> None:
    result = chat(server, messages=ASK_WEATHER, tools=TOOLS, n=2, seed=4,
                  tool_choice={"type": "function", "function": {"name": "stock_price"}})
    for choice in result["choices"]:
        arguments = assert_call(choice, "stock_price")
        assert 1 <= arguments["days"] <= 30


def test_auto_calls_a_tool_only_when_one_fits(server: Running) -> None:
    called = chat(server, messages=[{"role": "user", "content": "Stock price of ACME?"}],
                  tools=TOOLS, seed=2)
    assert_call(called["choices"][0], "stock_price")
    text = chat(server, messages=ASK_OTHER, tools=TOOLS, seed=2)
    choice = text["choices"][0]
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] in ("stop", "length")
    assert isinstance(choice["message"]["content"], str)


def test_none_ignores_the_tools(server: Running) -> None:
    plain = chat(server, messages=ASK_WEATHER, seed=3, temperature=0)
    ignored = chat(server, messages=ASK_WEATHER, tools=TOOLS, tool_choice="none", seed=3,
                   temperature=0)
    assert ignored["choices"][0]["message"] == plain["choices"][0]["message"]


def test_tool_results_in_history_are_accepted(server: Running) -> None:
    history = [*ASK_WEATHER,
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather",
                                 "arguments": '{"city": "Paris", "unit": "celsius"}'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "18 degrees, sunny"}]
    result = chat(server, messages=history, tools=TOOLS, tool_choice="none")
    assert isinstance(result["choices"][0]["message"]["content"], str)
    # The call and its result are part of the prompt the model continues.
    prompt = ("What is the weather like in Paris today?\n\n"
              'get_weather({"city": "Paris", "unit": "celsius"})\n\n18 degrees, sunny\n\n')
    assert result["usage"]["prompt_tokens"] == len(server.engine.tokenizer.encode(prompt))


def test_streamed_call_follows_openais_chunk_shape(server: Running) -> None:
    body = {"model": server.model, "messages": ASK_WEATHER, "tools": TOOLS,
            "tool_choice": "required", "seed": 5, "max_tokens": 64, "stream": True,
            "stream_options": {"include_usage": True}}
    status, _, events = sse_events(server.url, "/v1/chat/completions", body)
    assert status == 200 and events[-1] == "[DONE]"
    ours = get_json(server.url, "/openapi.json")[1]
    for event in events[:-1]:
        validate_openai("CreateChatCompletionStreamResponse", event)
        validate_ours(ours, "ChatCompletionChunk", event)
    chunks = [e["choices"][0] for e in events[:-2]]
    first = chunks[0]["delta"]
    assert first["role"] == "assistant"
    (head,) = first["tool_calls"]
    assert head["index"] == 0 and head["type"] == "function"
    assert head["id"].startswith("call_") and head["function"]["name"] == "get_weather"
    fragments = [c["delta"]["tool_calls"][0] for c in chunks[1:-1]]
    assert len(fragments) > 3
    assert all(f["index"] == 0 and set(f) == {"index", "function"} for f in fragments)
    arguments = "".join(f["function"]["arguments"] for f in fragments)
    jsonschema.validate(json.loads(arguments), parameters("get_weather"))
    assert chunks[-1] == {"index": 0, "delta": {}, "logprobs": None,
                          "finish_reason": "tool_calls"}
    whole = chat(server, **{k: v for k, v in body.items()
                            if k not in ("stream", "stream_options", "model")})
    assert whole["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == arguments
    assert events[-2]["usage"] == whole["usage"]


def test_budget_too_small_is_length(server: Running) -> None:
    result = chat(server, messages=ASK_WEATHER, tools=TOOLS, tool_choice="required",
                  max_tokens=2)
    choice = result["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


BAD = [
    ({"tools": "x"}, "tools"),
    ({"tools": [5]}, "tools[0]"),
    ({"tools": [{"type": "function"}]}, "tools[0].function"),
    ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "tools[0].function.name"),
    ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name"),
    ({"tools": [{"type": "custom", "function": {"name": "a"}}]}, "tools[0].type"),
    ({"tools": [{"type": "function", "function": {"name": "a", "parameters": {
        "type": "object", "properties": {"x": {"type": "bogus"}}}}}]},
     "tools[0].function.parameters"),
    ({"tools": TOOLS, "tool_choice": "always"}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice.function.name"),
    ({"tools": TOOLS, "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"type": "function"}]}]},
     "messages[0].tool_calls[0].function"),
]


@pytest.mark.parametrize("body, param", BAD)
def test_bad_tools_are_400(server: Running, body: dict[str, Any], param: str) -> None:
    status, result = post_json(server.url, "/v1/chat/completions",
                               {"model": server.model, "messages": ASK_WEATHER, **body})
    error = error_of(status, result)
    assert status == 400 and error["param"] == param


# -- real clients ---------------------------------------------------------------------------

def test_openai_client_tool_call_and_streaming(client: openai.OpenAI, server: Running) -> None:
    completion = client.chat.completions.create(
        model=server.model, messages=ASK_WEATHER, tools=TOOLS, tool_choice="required",
        max_tokens=64, seed=7)
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    jsonschema.validate(json.loads(call.function.arguments), parameters("get_weather"))
    # The openai package assembles streamed tool-call deltas itself.
    with client.chat.completions.stream(model=server.model, messages=ASK_WEATHER,
                                        tools=TOOLS, tool_choice="required", max_tokens=64,
                                        seed=7) as stream:
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls[0]
    assert streamed.function.name == "get_weather"
    assert streamed.function.arguments == call.function.arguments


@tool
def get_weather(city: str, unit: str) -> str:
    """The current weather in a city."""
    return f"18 degrees {unit} in {city}"


def test_langchain_bind_tools(server: Running) -> None:
    model = ChatOpenAI(base_url=server.url + "/v1", api_key="unused", model=server.model,
                       max_tokens=64, seed=8, max_retries=0)
    bound = model.bind_tools([get_weather], tool_choice="get_weather")
    message = bound.invoke([HumanMessage("What is the weather like in Paris today?")])
    (call,) = message.tool_calls
    assert call["name"] == "get_weather"
    assert set(call["args"]) == {"city", "unit"}
    # The tool's result goes back in the history; with tool_choice none the reply is text.
    result = get_weather.invoke(call["args"])
    follow = model.bind_tools([get_weather], tool_choice="none").invoke(
        [HumanMessage("What is the weather like in Paris today?"),
         AIMessage(content="", tool_calls=[call]),
         ToolMessage(result, tool_call_id=call["id"])])
    assert isinstance(follow.content, str) and not follow.tool_calls
    # Streamed, LangChain assembles the same call from the chunks.
    chunks = list(bound.stream([HumanMessage("What is the weather like in Paris today?")]))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.tool_calls[0]["name"] == "get_weather"
    assert merged.tool_calls[0]["args"] == call["args"]
