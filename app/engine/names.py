"""The identifiers the code index knows (defined, imported or referenced anywhere in the
hypercube), for ranking completions: a name the project has used is far likelier to be
right than one it has never seen.

Looked up where they are stored, as ranking asks: ``code_names`` has a UNIQUE index on the
name, so a lookup is one B-tree search (a few microseconds), remembered for the names asked
again. Nothing is read when the engine loads, so loading takes the same time and memory
whatever the corpus's size (a gigabyte of C holds ~2.5 million names, which took a second
to read into memory and ~40 MB to hold). The lookups read the file as it is now: a name an
ingest adds while this engine serves counts as known before the engine is reloaded with the
run's model, which only moves a ranking hint.
"""

from __future__ import annotations

import functools
import re
import threading

from app.store import Store

IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
# Names remembered per engine: a request asks about tens of names, most of them again.
REMEMBERED_NAMES = 65_536


class KnownNames:
    """``name in known``: whether the code index of the hypercube at ``path`` knows it.

    Its read connection closes when the engine holding it is dropped (nothing here refers
    back to the instance, so that happens as soon as the last request using it is done).
    """

    def __init__(self, path: str) -> None:
        store = Store(path, readonly=True)
        # One connection serves every request thread: SQLite serializes its calls, which
        # take microseconds each.
        lock = threading.Lock()

        def exists(sql: str, *args: str) -> bool:
            with lock:
                row = store.conn.execute(sql, args).fetchone()
            return bool(row and row[0])

        self._any = exists("SELECT EXISTS(SELECT 1 FROM code_names)")
        self._known = functools.lru_cache(maxsize=REMEMBERED_NAMES)(
            functools.partial(exists, "SELECT EXISTS(SELECT 1 FROM code_names WHERE name = ?)"))

    def __bool__(self) -> bool:
        """Whether the code index knows any name at all (no code ingested: none)."""
        return self._any

    def __contains__(self, name: str) -> bool:
        return self._any and self._known(name)
