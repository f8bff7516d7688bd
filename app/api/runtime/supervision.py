"""What keeps the server's background threads alive and honest about their faults.

A background worker (the batch worker, the model loader) never dies silently. Each has a
:class:`WorkerStatus` that ``/health`` reports: ``ok``, or the fault it is in, since when and
when it tries again. A fault that may pass (a full disk, a file locked by another writer) is
retried after a :class:`Backoff` delay; one that will not is recorded where its owner can see
it (the batch is marked failed) and the worker goes on with the next piece of work.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import apsw

from app.errors import HypercubeError, StoreFull, StoreLocked


@dataclass(frozen=True)
class Backoff:
    """Exponential delays: ``first``, doubling, at most ``longest`` seconds."""

    first: float = 1.0
    longest: float = 60.0

    def delay(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (1 for the first retry)."""
        return min(self.longest, self.first * 2.0 ** max(0, attempt - 1))


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same work later may succeed: the disk may get space, a lock may
    be released, an I/O error may be a passing one. Bugs and bad data are not transient."""
    if isinstance(exc, StoreFull | StoreLocked):
        return True
    if isinstance(exc, HypercubeError):
        return False
    return isinstance(exc, apsw.FullError | apsw.BusyError | apsw.LockedError
                      | apsw.IOError | OSError)


def reason_of(exc: BaseException) -> str:
    """One line saying what went wrong, for ``/health`` and the batch's error object."""
    if isinstance(exc, HypercubeError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


class WorkerStatus:
    """The health of one background worker, safe to read from request threads."""

    def __init__(self, component: str) -> None:
        self.component = component
        self._lock = threading.Lock()
        self._fault: dict[str, Any] | None = None
        self._last_fault: dict[str, Any] | None = None
        self.faults = 0  # how many faults it has met since the server started

    def fault(self, reason: str, retry_in: float | None = None) -> None:
        """Record that the worker is in a fault (retrying in ``retry_in`` seconds, or not)."""
        now = time.time()
        with self._lock:
            since = self._fault["since"] if self._fault else now
            self._fault = {"component": self.component, "reason": reason, "since": since,
                           "retry_at": None if retry_in is None else round(now + retry_in, 3)}
            self._last_fault = dict(self._fault, at=now)
            self.faults += 1

    def recovered(self) -> None:
        with self._lock:
            self._fault = None

    @property
    def current(self) -> dict[str, Any] | None:
        """The fault the worker is in now, or None when it works."""
        with self._lock:
            return None if self._fault is None else dict(self._fault)

    def describe(self) -> dict[str, Any]:
        """What ``/health`` shows for this worker."""
        with self._lock:
            return {"status": "ok" if self._fault is None else "degraded",
                    "faults": self.faults,
                    **({"fault": dict(self._fault)} if self._fault else {}),
                    **({"last_fault": dict(self._last_fault)} if self._last_fault else {})}
