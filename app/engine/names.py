"""The identifiers the code index knows (defined, imported or referenced anywhere in the
hypercube), for ranking completions: a name the project has used is far likelier to be
right than one it has never seen.

Held as a sorted array of 64-bit hashes: 8 bytes a name however long, looked up by
bisection, loaded once with the engine (the engine is a snapshot of the hypercube).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import apsw
import numpy as np

IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


def name_hash(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(),
                          "little", signed=True)


class KnownNames:
    def __init__(self, names: Iterable[str]) -> None:
        self._hashes = np.unique(np.fromiter((name_hash(n) for n in names), dtype=np.int64))

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, name: str) -> bool:
        hashes = self._hashes
        value = name_hash(name)
        at = int(np.searchsorted(hashes, value))
        return at < len(hashes) and int(hashes[at]) == value

    @classmethod
    def load(cls, conn: apsw.Connection) -> KnownNames:
        return cls(name for (name,) in conn.execute("SELECT name FROM code_names"))
