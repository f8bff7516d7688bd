"""The identifiers the code index knows (defined, imported or referenced anywhere in the
hypercube), for ranking completions: a name the project has used is far likelier to be
right than one it has never seen.

Held as a sorted array of 64-bit hashes: 8 bytes a name however long, looked up by
bisection, loaded once with the engine (the engine is a snapshot of the hypercube). The hash
is Python's own string hash: the array never leaves the process that built it, and at
~180,000 names per 100 MB of code a cryptographic hash made it a third of the load time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import apsw
import numpy as np

IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


class KnownNames:
    def __init__(self, names: Iterable[str]) -> None:
        hashes = np.sort(np.fromiter(map(hash, names), dtype=np.int64))
        # Sorting and dropping repeats: np.unique hashes first, several times slower here.
        self._hashes = hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))] \
            if len(hashes) else hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, name: str) -> bool:
        hashes = self._hashes
        value = hash(name)
        at = int(np.searchsorted(hashes, value))
        return at < len(hashes) and int(hashes[at]) == value

    @classmethod
    def load(cls, conn: apsw.Connection) -> KnownNames:
        return cls(name for (name,) in conn.execute("SELECT name FROM code_names"))
