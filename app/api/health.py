"""``GET /health``: ready or loading, database reachable, model loaded, memory.

200 when the server can answer generation requests, 503 while the model loads or if the
hypercube file cannot be read, so a load balancer sends traffic only to ready replicas.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import apsw
import falcon

from app import __version__
from app.api.engine_slot import EngineSlot


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
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except apsw.Error as exc:
        return {"reachable": False, "path": str(path), "error": str(exc)}
    return {"reachable": True, "path": str(path), "schema_version": version}


class HealthResource:
    accepts = ()

    def __init__(self, slot: EngineSlot, db_path: Path) -> None:
        self.slot = slot
        self.db_path = db_path
        self.started = time.time()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        db = database(self.db_path)
        loaded = self.slot.loaded
        if not db["reachable"] or (self.slot.error and not loaded):
            status = "error"
        else:
            status = "ok" if loaded else "loading"
        body: dict[str, Any] = {
            "status": status,
            "model_loaded": loaded,
            "database": db,
            "memory": memory(),
            "uptime_seconds": round(time.time() - self.started, 3),
            "version": __version__,
        }
        if loaded:
            body["model"] = self.slot.get().info.id
        if self.slot.error:
            body["error"] = self.slot.error
        resp.media = body
        resp.status = 200 if status == "ok" else 503
