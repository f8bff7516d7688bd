"""``POST /v1/responses``: OpenAI's Responses API, stateless, over the chat service.

``input`` is a string (one user message) or a list of messages (``role`` and ``content`` as
a string or ``input_text``/``output_text`` parts); ``instructions`` becomes a system message
first. ``max_output_tokens``, ``temperature``, ``top_p`` and ``text.format`` (``json_object``
or ``json_schema``, passed on as ``response_format``) map to the chat request; the reply is
one ``message`` output item with one ``output_text`` part, and ``usage`` counts
``input_tokens``/``output_tokens``. A reply cut by ``max_output_tokens`` has status
``incomplete`` (``incomplete_details.reason: "max_output_tokens"``) and its stream ends with
``response.incomplete``, as OpenAI's does; otherwise ``response.completed``.

Streams send OpenAI's events in order, each with a ``sequence_number``:
``response.created``, ``response.in_progress``, ``response.output_item.added``,
``response.content_part.added``, ``response.output_text.delta`` …,
``response.output_text.done``, ``response.content_part.done``,
``response.output_item.done``, then ``response.completed`` (or ``response.incomplete``).

Nothing is stored (``store`` is answered ``false``), so ``previous_response_id`` is refused
with a 400, and so are tools, which the model cannot call.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import Any

import falcon

from app.api.dialects.contract_responses import ResponsesBody
from app.api.dialects.streams import sse_payloads
from app.api.http import sse
from app.api.http.body import Fields, read_json
from app.api.http.watch import client_watch
from app.api.openai.chat import ChatCompletions
from app.api.openai.contract import read
from app.api.openai.identity import new_id
from app.api.openai.models import resolve_model
from app.api.runtime.engine_slot import EngineSlot
from app.engine.types import EngineProtocol
from app.errors import ClientDisconnected, HypercubeError, InvalidRequest


def read_input(asked: ResponsesBody) -> list[dict[str, str]]:
    """``instructions`` and ``input`` as chat messages."""
    messages = []
    if asked.instructions:
        messages.append({"role": "system", "content": asked.instructions})
    if isinstance(asked.input, str):
        return [*messages, {"role": "user", "content": asked.input}]
    for item in asked.input:
        content = item.content if isinstance(item.content, str) else "".join(
            part.text or "" for part in item.content)
        messages.append({"role": item.role, "content": content})
    return messages


def chat_body(asked: ResponsesBody, engine: EngineProtocol) -> dict[str, Any]:
    if asked.previous_response_id is not None:
        raise InvalidRequest("'previous_response_id' is not supported: this server keeps no "
                             "responses (send the whole conversation as 'input')",
                             param="previous_response_id")
    if asked.tools:
        raise InvalidRequest("'tools' are not supported: this model cannot call tools",
                             param="tools")
    body: dict[str, Any] = {"model": resolve_model(Fields({}), engine, asked.model),
                            "messages": read_input(asked)}
    body.update(asked.model_dump(include={"temperature", "top_p"}, exclude_none=True))
    if asked.max_output_tokens is not None:
        body["max_tokens"] = asked.max_output_tokens
    spec = asked.text.format if asked.text is not None else None
    if spec is not None:
        if spec.get("type") == "json_schema":  # Responses flattens what chat nests
            spec = {"type": "json_schema",
                    "json_schema": {k: v for k, v in spec.items() if k != "type"}}
        body["response_format"] = spec
    return body


class ResponseShape:
    """The response object and its output item, as the request's fields describe them."""

    def __init__(self, asked: ResponsesBody, body: dict[str, Any]) -> None:
        self.id = new_id("resp_")
        self.item_id = new_id("msg_")
        self.created = time.time()
        self.asked = asked
        self.body = body

    def message(self, text: str, status: str) -> dict[str, Any]:
        return {"id": self.item_id, "type": "message", "role": "assistant", "status": status,
                "content": [] if status == "in_progress" else [self.part(text)]}

    @staticmethod
    def part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def response(self, status: str, output: list[dict[str, Any]],
                 usage: dict[str, int] | None) -> dict[str, Any]:
        return {
            "id": self.id, "object": "response", "created_at": self.created,
            "status": status, "model": self.body["model"], "output": output,
            "error": None,
            "incomplete_details": ({"reason": "max_output_tokens"}
                                   if status == "incomplete" else None),
            "instructions": self.asked.instructions,
            "max_output_tokens": self.asked.max_output_tokens,
            "temperature": self.body.get("temperature", 1.0),
            "top_p": self.body.get("top_p", 1.0),
            "parallel_tool_calls": False, "tool_choice": "none", "tools": [],
            "previous_response_id": None, "store": False, "truncation": "disabled",
            "text": {"format": self.body.get("response_format", {"type": "text"})},
            "metadata": self.asked.metadata or {},
            "usage": None if usage is None else {
                "input_tokens": usage["prompt_tokens"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": usage["completion_tokens"],
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]},
        }


def _status(finish: str) -> str:
    return "incomplete" if finish == "length" else "completed"


class ResponsesResource:
    def __init__(self, slot: EngineSlot, chat: ChatCompletions) -> None:
        self.slot = slot
        self.chat = chat

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        started = time.perf_counter()
        asked = read(ResponsesBody, read_json(req))
        engine = self.slot.get()
        body = chat_body(asked, engine)
        stream = asked.stream
        if stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        request = self.chat.parse(body, engine)
        shape = ResponseShape(asked, body)
        watch = client_watch(req, self.chat.metrics)
        if not stream:
            result = self.chat.respond(engine, request, watch)
            choice = result["choices"][0]
            status = _status(choice["finish_reason"])
            resp.media = shape.response(
                status, [shape.message(choice["message"]["content"], status)], result["usage"])
            return
        sse.start(resp)
        resp.stream = _events(shape, self.chat.stream(engine, request, watch, started))


def _events(shape: ResponseShape, inner: Generator[bytes, None, None]) -> Iterator[bytes]:
    sequence = 0

    def event(type_: str, **payload: Any) -> bytes:
        nonlocal sequence
        data = {"type": type_, "sequence_number": sequence, **payload}
        sequence += 1
        return b"event: " + type_.encode() + b"\n" + sse.event(data)

    at = {"item_id": shape.item_id, "output_index": 0}
    text, finish, usage = "", "stop", None
    try:
        yield event("response.created", response=shape.response("in_progress", [], None))
        yield event("response.in_progress", response=shape.response("in_progress", [], None))
        yield event("response.output_item.added", output_index=0,
                    item=shape.message("", "in_progress"))
        yield event("response.content_part.added", **at, content_index=0,
                    part=shape.part(""))
        for payload in sse_payloads(inner):
            if "error" in payload:
                error = payload["error"]
                yield event("error", code=error.get("code"), message=error["message"],
                            param=error.get("param"))
                return
            if payload.get("usage"):
                usage = payload["usage"]
            for choice in payload["choices"]:
                delta = choice["delta"].get("content")
                if delta:
                    text += delta
                    yield event("response.output_text.delta", **at, content_index=0,
                                delta=delta, logprobs=[])
                if choice["finish_reason"] is not None:
                    finish = choice["finish_reason"]
        status = _status(finish)
        yield event("response.output_text.done", **at, content_index=0, text=text,
                    logprobs=[])
        yield event("response.content_part.done", **at, content_index=0,
                    part=shape.part(text))
        item = shape.message(text, status)
        yield event("response.output_item.done", output_index=0, item=item)
        yield event(f"response.{status}", response=shape.response(status, [item], usage))
    except ClientDisconnected:
        return
    except HypercubeError as exc:
        yield event("error", code=exc.code, message=exc.message, param=exc.param)
    finally:
        inner.close()
