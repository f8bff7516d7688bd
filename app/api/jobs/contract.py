"""The request bodies of ``POST /v1/completions/batch`` and ``POST /v1/batches``, declared once
in the style of app/api/openai/contract.py: read with :func:`app.api.openai.contract.read`
(a broken limit is a 400 naming the field) and published in ``/openapi.json``.

A completions batch's requests are each read on their own by the completions service
(app/api/jobs/completions_batch.py), so that one bad request is answered with its error in
its place rather than voiding the others; a batch's input file is looked up where it is
used (app/api/jobs/batches.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from app.api.jobs.dispatch import ENDPOINTS
from app.api.openai.contract import CompletionBody
from app.api.openai.contract_types import Body, OneOf, PublishedAs

# The most requests one /v1/completions/batch call may carry.
MAX_CALL_REQUESTS = 256
WINDOW_SECONDS = {"24h": 24 * 3600}

Requests = Annotated[list[Annotated[Any, PublishedAs(CompletionBody)]],
                     Field(min_length=1, max_length=MAX_CALL_REQUESTS)]


class CompletionBatchBody(Body):
    """``POST /v1/completions/batch``."""

    requests: Requests = Field(description="/v1/completions bodies, answered in order (no "
                                           "stream); their work together must fit one "
                                           "request's limit")


class BatchBody(Body):
    """``POST /v1/batches``."""

    input_file_id: str = Field(description="a file uploaded with purpose 'batch'")
    endpoint: Annotated[str, OneOf(ENDPOINTS)]
    completion_window: Annotated[str, OneOf(tuple(WINDOW_SECONDS))]
    metadata: dict[str, str] | None = Field(None, description="returned with the batch")
