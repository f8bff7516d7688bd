"""The request body of ``POST /v1/ingest``, declared once in the style of
app/api/openai/contract.py: read with :func:`app.api.openai.contract.read` (a broken limit
is a 400 naming the field) and published in ``/openapi.json``. Whether each path exists and
lies inside the server's ingest roots is checked where the run starts (app/api/ingest.py).
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import Field

from app.api.openai.contract_types import Body, Integer

# The server's cores: they also answer requests, so a run may not take more.
MAX_INGEST_WORKERS = os.cpu_count() or 1

IngestPath = Annotated[str, Field(min_length=1)]


class IngestBody(Body):
    """``POST /v1/ingest``."""

    paths: Annotated[list[IngestPath], Field(min_length=1)] = Field(
        description="server-local files and folders, inside the server's --ingest-root "
                    "folders")
    prune: bool = Field(False, description="forget the documents of files no longer there")
    workers: Integer = Field(1, ge=1, le=MAX_INGEST_WORKERS,
                             description="processes preparing the files (at most the "
                                         "server's CPU cores)")
