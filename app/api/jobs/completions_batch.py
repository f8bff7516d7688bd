"""``POST /v1/completions/batch``: many completion requests answered in one call.

Body: ``{"requests": [<a /v1/completions body>, ...]}``. Answer: ``{"object": "list",
"data": [...]}`` in the same order, each item a ``text_completion`` object or, for a request
that was invalid, an OpenAI error object, so one bad request does not void the others.

At most ``MAX_CALL_REQUESTS`` requests (app/api/jobs/contract.py), and their work together
(``app.api.openai.work``) must fit one request's limit: every request is checked before any
is generated.
"""

from __future__ import annotations

from typing import Any

import falcon

from app.api.http.body import read_json
from app.api.http.watch import client_watch
from app.api.jobs.contract import CompletionBatchBody
from app.api.openai import completions
from app.api.openai.completions import Completions
from app.api.openai.contract import read
from app.api.openai.work import completion_work, request_limit
from app.api.runtime.engine_slot import EngineSlot
from app.engine.types import EngineProtocol
from app.errors import ClientDisconnected, HypercubeError, InvalidRequest


class CompletionsBatchResource:
    def __init__(self, slot: EngineSlot, service: Completions) -> None:
        self.slot = slot
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        requests = read(CompletionBatchBody, read_json(req)).requests
        engine = self.slot.get()  # one engine for the whole call
        limit = request_limit(req)
        parsed: list[completions.CompletionRequest | HypercubeError] = []
        total = 0
        for i, body in enumerate(requests):
            try:
                request = self._parse(i, body, engine, limit)
                total += completion_work(request, engine.info.context_length, limit)
            except HypercubeError as exc:
                parsed.append(exc)
            else:
                parsed.append(request)
        if total > limit:
            raise InvalidRequest(
                f"these requests ask for up to {total} generated tokens together, more than "
                f"this server's limit of {limit} per call: send fewer or shorter ones",
                param="requests", code="request_too_large")
        watch = client_watch(req, self.service.metrics)
        data: list[dict[str, Any]] = []
        for item in parsed:
            if isinstance(item, HypercubeError):
                data.append(item.to_openai())
                continue
            try:
                data.append(self.service.respond(engine, item, watch))
            except ClientDisconnected:
                raise
            except HypercubeError as exc:
                data.append(exc.to_openai())
        resp.media = {"object": "list", "data": data}

    @staticmethod
    def _parse(i: int, body: object, engine: EngineProtocol,
               limit: int) -> completions.CompletionRequest:
        if not isinstance(body, dict):
            raise InvalidRequest("each request must be an object", param=f"requests[{i}]")
        request = completions.parse_request(body, engine)
        if request.stream:
            raise InvalidRequest("'stream' is not supported here", param="stream")
        return request
