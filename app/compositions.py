"""Content addresses for the Merkle DAG of compositions.

A composition's id is a 63-bit BLAKE2b digest of its domain tag and its ordered child ids,
with bit 62 set so that no composition id can equal an atom's id (its codepoint, < 2**21).
The same children under the same tag always give the same id on every machine, which is what
lets an ingest store a composition that already exists exactly once (``INSERT OR IGNORE``).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

ATOM_LIMIT = 0x110000
_COMPOSITION_BIT = 1 << 62
_PERSON = b"hypercube.v1"


def composition_id(tag: str, children: Sequence[int]) -> int:
    """The content address of a composition of ``children`` (atom or composition ids)."""
    digest = hashlib.blake2b(digest_size=8, person=_PERSON)
    digest.update(tag.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(struct.pack(f">{len(children)}q", *children))
    return (int.from_bytes(digest.digest(), "big") >> 2) | _COMPOSITION_BIT


def byte_node(value: int) -> int:
    """The node of a byte-fallback token: a childless composition under the tag ``byte``."""
    if not 0 <= value < 256:
        raise ValueError(f"byte value out of range: {value}")
    return composition_id("byte", [value])
