"""A small pool of read-side objects, each over its own read-only connection to the hypercube.

One APSW connection runs one statement at a time, so a server that read everything through
one connection would answer its read queries one after another however many threads it
has. A :class:`Pool` hands each request its own object (a read-only :class:`Store`, or a
:class:`~app.code.CodeIndex` with its caches) and takes it back afterwards. SQLite in WAL
mode lets any number of readers run beside the single writer, each seeing the last commit
when its read began.

Objects are made on first demand, up to ``size``, so a server that never answers a code query
never opens a connection for one; past ``size`` a request waits for one to come back.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Pool(Generic[T]):
    """At most ``size`` objects made by ``make``, lent one request at a time."""

    def __init__(self, make: Callable[[], T], close: Callable[[T], None], size: int) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one object, not {size}")
        self._make = make
        self._close = close
        self._size = size
        self._idle: queue.LifoQueue[T] = queue.LifoQueue()  # the warmest object first
        self._made: list[T] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @contextlib.contextmanager
    def lend(self) -> Iterator[T]:
        """One object, for the duration of the ``with`` block; made if none is idle and
        fewer than ``size`` exist, else the next one given back."""
        item = self._take()
        try:
            yield item
        finally:
            self._idle.put(item)

    def _take(self) -> T:
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is closed")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            if len(self._made) < self._size:
                made = self._make()
                self._made.append(made)
                return made
        return self._idle.get()

    def close(self) -> None:
        """Close every object made (call when no request is running any more)."""
        with self._lock:
            self._closed = True
            made, self._made = self._made, []
            self._idle = queue.LifoQueue()
        for item in made:
            self._close(item)
