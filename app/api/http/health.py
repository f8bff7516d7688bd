"""``GET /health``: ready or loading, database reachable, model loaded, workers, memory.

``status`` is one of

- ``ok`` (200): everything works;
- ``degraded`` (200): generation works, but something beside it is in a fault — a background
  worker is retrying (the batch worker on a full disk), or the model could not be reloaded
  after an ingest and the previous one still answers;
- ``loading`` (503): the model is still loading;
- ``error`` (503): generation cannot work — the hypercube file cannot be read, or the model
  cannot be loaded (it is retried with backoff; ``error`` says why).

Every fault is listed in ``faults`` (component, reason, since, retry_at), so an operator sees
why, and a load balancer or OpenAI-style client backs off exactly when generation would fail.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import falcon

from app import __version__
from app.api.runtime.engine_slot import EngineSlot
from app.api.runtime.supervision import WorkerStatus
from app.errors import HypercubeError
from app.store import Store


def memory() -> dict[str, int]:
    """Resident and peak memory of this process, in bytes (where the platform tells)."""
    result: dict[str, int] = {}
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            result["rss_bytes"] = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result["peak_rss_bytes"] = peak if sys.platform == "darwin" else peak * 1024
    except ImportError:  # Windows
        pass
    return result


def database(path: Path) -> dict[str, Any]:
    try:
        with Store(path, readonly=True) as store:
            version = store.schema_version
    except (HypercubeError, OSError) as exc:
        return {"reachable": False, "path": str(path), "error": str(exc)}
    return {"reachable": True, "path": str(path), "schema_version": version}


class HealthResource:
    accepts = ()

    def __init__(self, slot: EngineSlot, db_path: Path,
                 workers: tuple[WorkerStatus, ...] = ()) -> None:
        self.slot = slot
        self.db_path = db_path
        self.workers = workers
        self.started = time.time()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        db = database(self.db_path)
        loaded = self.slot.loaded
        faults: list[dict[str, Any]] = []
        if not db["reachable"]:
            faults.append({"component": "database", "reason": db["error"]})
        if self.slot.error:
            faults.append({"component": "model", "reason": self.slot.error})
        faults += [fault for worker in self.workers if (fault := worker.current)]
        if not db["reachable"] or (self.slot.error and not loaded):
            status = "error"
        elif not loaded:
            status = "loading"
        else:
            status = "degraded" if faults else "ok"
        body: dict[str, Any] = {
            "status": status,
            "model_loaded": loaded,
            "database": db,
            "workers": {worker.component: worker.describe() for worker in self.workers},
            "faults": faults,
            "memory": memory(),
            "uptime_seconds": round(time.time() - self.started, 3),
            "version": __version__,
        }
        if loaded:
            body["model"] = self.slot.get().info.id
        if faults:
            body["error"] = faults[0]["reason"]
        resp.media = body
        resp.status = 200 if status in ("ok", "degraded") else 503
