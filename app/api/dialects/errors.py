"""Errors in each dialect's own shape, translated from the OpenAI error object in one place.

Every failure is first answered as an OpenAI error object (app/api/http/errors.py); this
middleware then rewrites the body for the routes of another dialect, so auth, body limits,
rate limits, wrong methods and unknown URLs under those routes get the same treatment as
the adapters' own validation errors:

- Ollama (``/api/…``): ``{"error": "message"}`` with the same status (its clients read
  ``error`` as a string: ollama-python's ``ResponseError``, ollama-js's ``checkOk``).
- llama.cpp's server (``/completion``, ``/infill``, ``/props``, ``/slots``):
  ``{"error": {"code": status, "message", "type"}}``, the type named as llama.cpp names it
  (``exceed_context_size_error`` for an over-long prompt).
"""

from __future__ import annotations

from typing import Any

import falcon

from app.errors import HypercubeError

LLAMACPP_ROUTES = ("/completion", "/infill", "/props", "/slots")
_LLAMACPP_TYPES = {401: "authentication_error", 403: "permission_error",
                   404: "not_found_error", 501: "not_supported_error",
                   503: "unavailable_error"}


def ollama_error(message: str) -> dict[str, Any]:
    return {"error": message}


def llamacpp_error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    if code == "context_length_exceeded":
        type_ = "exceed_context_size_error"
    elif status >= 500 and status not in _LLAMACPP_TYPES:
        type_ = "server_error"
    else:
        type_ = _LLAMACPP_TYPES.get(status, "invalid_request_error")
    return {"error": {"code": status, "message": message, "type": type_}}


def llamacpp_error_of(exc: HypercubeError) -> dict[str, Any]:
    return llamacpp_error(exc.status, exc.message, exc.code)


def is_ollama(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def is_llamacpp(path: str) -> bool:
    return path in LLAMACPP_ROUTES


class DialectErrors:
    """Rewrites OpenAI error bodies into the dialect of the route that failed."""

    def process_response(self, req: falcon.Request, resp: falcon.Response,
                         resource: object, req_succeeded: bool) -> None:
        body = resp.media if resp.stream is None else None
        if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
            return
        error = body["error"]
        if "param" not in error:
            return  # not an OpenAI error object: already in a dialect's shape
        message = str(error["message"])
        if is_ollama(req.path):
            resp.media = ollama_error(message)
        elif is_llamacpp(req.path):
            resp.media = llamacpp_error(resp.status_code, message, error.get("code"))
