"""Loading the engine into its slot in the background, retrying a failed load with backoff.

A load can fail for reasons that pass (the disk was full while a stale model was brought up
to date, another process held the file, nothing had been ingested yet) and for reasons that
need the operator (a damaged file). Either way the slot records why — ``/health`` and every
generation request say it — and the loader tries again after a growing pause, so a server
recovers on its own once the cause is gone instead of staying failed until a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from app.api.runtime.engine_slot import EngineSlot
from app.api.runtime.supervision import Backoff, reason_of
from app.engine.types import EngineProtocol

log = logging.getLogger("hypercube.server")

DEFAULT_BACKOFF = Backoff(1.0, 60.0)


class ModelLoader:
    """Fills ``slot`` with ``load()`` on a background thread until it succeeds."""

    def __init__(self, slot: EngineSlot, load: Callable[[], EngineProtocol], *,
                 backoff: Backoff = DEFAULT_BACKOFF, what: str = "load the model") -> None:
        self.slot = slot
        self.load = load
        self.backoff = backoff
        self.what = what
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start loading, unless a load is already under way."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="hypercube-load",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Give up retrying (the thread ends at its next pause; a load under way is
        abandoned at exit, as :mod:`app.cli.serving` explains)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the loading thread to end; whether it did."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def _run(self) -> None:
        attempt = 0
        generation = self.slot.generation
        while not self._stop.is_set():
            if self.slot.generation != generation:
                return  # another load (after an ingest) succeeded meanwhile
            try:
                engine = self.load()
            except Exception as exc:  # every failure is reported and retried
                attempt += 1
                delay = self.backoff.delay(attempt)
                reason = reason_of(exc)
                self.slot.fail(f"cannot {self.what}: {reason} (attempt {attempt}; retrying "
                               f"in {delay:.0f}s)")
                if attempt == 1:
                    log.error("hypercube: cannot %s: %s", self.what, reason,
                              exc_info=not hasattr(exc, "message"))
                self._stop.wait(delay)
                continue
            if not self._stop.is_set():
                self.slot.set(engine)
                log.info("hypercube: model loaded, ready")
            return
