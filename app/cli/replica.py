"""A read-only replica: serve a snapshot and move to a newer one without dropping requests.

``hypercube serve --read-only`` opens the hypercube read-only and never writes it (the
model must be current: a stale one is an error, repaired where the file is written). When
the file comes with a snapshot manifest (``FILE.json``, written by ``hypercube snapshot``),
the replica verifies the file against it before serving, then watches both: when the
ingest job publishes a newer snapshot (renamed over the old one, so this process still
holds the old file open and keeps serving it), the replica verifies the new file, builds a
complete app over it beside the serving one and swaps it in (app/api/http/swap.py). Requests
already running, streams included, finish on the old app, which is then closed.

A snapshot that fails verification (being replaced right now, or corrupted) is not served:
the watcher says why once and looks again at its next poll.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from app.errors import HypercubeError
from app.store.snapshot import manifest_path, verify_snapshot

log = logging.getLogger("hypercube.server")

POLL_SECONDS = 2.0


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten (inode, size, mtime), or None."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class SnapshotWatcher:
    """Calls ``publish`` (from its own thread) each time a newer, verified snapshot of
    ``path`` is in place."""

    def __init__(self, path: Path, publish: Callable[[], None], *,
                 interval: float = POLL_SECONDS) -> None:
        self.path = path
        self._publish = publish
        self._interval = interval
        self._stop = threading.Event()
        self._seen = self._signature()
        self._reported: tuple[object, ...] | None = None
        self._thread = threading.Thread(target=self._run, name="hypercube-snapshot-watch",
                                        daemon=True)

    def start(self) -> SnapshotWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=30)

    def _signature(self) -> tuple[object, ...]:
        return (file_signature(self.path), file_signature(manifest_path(self.path)))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            current = self._signature()
            if current == self._seen or None in current:
                continue
            try:
                manifest = verify_snapshot(self.path)
                self._publish()
            except HypercubeError as exc:
                if current != self._reported:
                    log.warning("hypercube: not serving the new snapshot yet: %s", exc.message)
                    self._reported = current
                continue
            except Exception:
                log.exception("hypercube: cannot serve the new snapshot")
                self._reported = current
                continue
            self._seen = current
            log.info("hypercube: now serving snapshot %s (blake2b %s…)", self.path,
                     manifest.blake2b[:16])
