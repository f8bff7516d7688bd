"""Ids and fingerprints of responses."""

from __future__ import annotations

import hashlib
import uuid

from app.engine.types import ModelInfo


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def fingerprint(info: ModelInfo) -> str:
    """Changes whenever the model behind the id does (a re-ingest), as OpenAI's does."""
    digest = hashlib.blake2b(digest_size=6)
    digest.update(f"{info.id}/{info.created}/{info.vocab_size}/{info.corpus_tokens}/"
                  f"{info.documents}/{info.context_length}".encode())
    return "fp_" + digest.hexdigest()
