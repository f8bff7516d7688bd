"""The engine the server answers with, replaceable while it serves.

A request takes the engine once, at its start, and keeps that object to its end. Replacing
the engine (after an ingest) is one reference assignment under a lock: new requests get the
new engine while in-flight ones finish on the old one, which is freed when the last of them
lets go of it. Nothing is ever half-swapped.
"""

from __future__ import annotations

import threading
from pathlib import Path

from app.engine.types import EngineProtocol
from app.errors import NotReady


class EngineSlot:
    """Holds the current engine, or nothing while it is still loading."""

    def __init__(self, engine: EngineProtocol | None = None) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._generation = 0 if engine is None else 1
        self.error: str | None = None

    def get(self) -> EngineProtocol:
        """The engine to use for one whole request.

        Raises:
            NotReady: the engine is still loading (or failed to load).
        """
        engine = self._engine
        if engine is None:
            raise NotReady(self.error or "the model is still loading; retry in a moment")
        return engine

    def set(self, engine: EngineProtocol) -> None:
        with self._lock:
            self._engine = engine
            self._generation += 1
            self.error = None

    def fail(self, message: str) -> None:
        """Record why loading failed, so /health and requests can say it."""
        with self._lock:
            self.error = message

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    @property
    def generation(self) -> int:
        """How many engines this slot has held (1 after the first load)."""
        return self._generation


class ServedModelResource:
    """Base of the read-only resources that describe the served model (the dialects' model
    lists and properties): the engine slot, and the hypercube file whose size they report."""

    accepts = ()

    def __init__(self, slot: EngineSlot, db_path: Path) -> None:
        self.slot = slot
        self.db_path = db_path
