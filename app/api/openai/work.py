"""The cap on work per request: the tokens a request may ask the engine to generate.

``prompts × best_of × max_tokens`` (``best_of`` ≥ ``n``; a chat request has one prompt and
``n`` choices; no ``max_tokens`` means up to the context window) must stay under
``--max-request-tokens``, so one request cannot hold a worker thread for minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import falcon

from app.errors import InvalidRequest

if TYPE_CHECKING:
    from app.api.openai.chat import ChatRequest
    from app.api.openai.completions import CompletionRequest

DEFAULT_MAX_REQUEST_TOKENS = 65536


def request_limit(req: falcon.Request) -> int:
    return int(req.context.get("max_request_tokens") or DEFAULT_MAX_REQUEST_TOKENS)


def check_work(*, prompts: int, choices: int, max_tokens: int, limit: int,
               choices_name: str = "best_of", param: str = "max_tokens") -> int:
    """The work asked for; 400 naming ``param`` if it is over ``limit``."""
    work = prompts * choices * max_tokens
    if work > limit:
        raise InvalidRequest(
            f"this request asks for up to {work} generated tokens ({prompts} prompt(s) × "
            f"{choices} {choices_name} × {max_tokens} max_tokens), more than this server's "
            f"limit of {limit} per request: lower '{param}', '{choices_name}' or the number "
            "of prompts", param=param, code="request_too_large")
    return work


def completion_work(request: CompletionRequest, context_length: int, limit: int) -> int:
    max_tokens = request.params.max_tokens
    return check_work(prompts=len(request.prompts), choices=request.best_of,
                      max_tokens=context_length if max_tokens is None else max_tokens,
                      limit=limit)


def chat_work(request: ChatRequest, context_length: int, limit: int) -> int:
    max_tokens = request.params.max_tokens
    if max_tokens is None:
        max_tokens = max(0, context_length - len(request.prompt_ids))
    return check_work(prompts=1, choices=request.n, max_tokens=max_tokens, limit=limit,
                      choices_name="n")
