"""Background work that fails is retried and reported, never silently dead.

The server is the real one (``ServingProcess``, as ``hypercube serve`` runs it); faults are
real: a hypercube with nothing in it yet, a model array damaged on disk. (The batch worker on
a full disk is in ``test_reliability_disk.py``.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.api import ApiSettings
from app.api.runtime.supervision import Backoff, WorkerStatus
from app.cli.serving import ServingProcess
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from tests.api_helpers import get_json
from tests.conftest import make_root
from tests.segment_files import largest_array
from tests.test_reliability_store import build


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def health(url: str) -> tuple[int, dict[str, Any]]:
    return get_json(url, "/health")


def test_a_failed_load_is_reported_and_retried_until_it_succeeds(tmp_path: Path,
                                                                   small_corpus: Path) -> None:
    db = tmp_path / "h.db"
    Store(db).close()  # nothing ingested: the first load fails
    with ServingProcess(make_root()) as process:
        server = process.start(lambda _progress: db, ApiSettings(), "127.0.0.1", 0, threads=4)
        status, body = wait_for("the load to fail", lambda: (
            h := health(server.url))[1]["faults"] and h)
        assert (status, body["status"], body["model_loaded"]) == (503, "error", False)
        assert body["faults"][0]["component"] == "model"
        assert "run `hypercube ingest PATH…` first" in body["error"]
        assert "retrying in" in body["error"]

        # Another process ingests into the file; the server picks it up by itself.
        with Store(db) as store:
            IngestRun(store, IngestOptions(roots=[small_corpus]), analyzers=make_root().analyzers(),
                      listeners=make_root().listeners()).run()
        status, body = wait_for("the retried load", lambda: (
            h := health(server.url))[0] == 200 and h)
        assert (body["status"], body["model_loaded"], body["faults"]) == ("ok", True, [])


def test_a_damaged_model_is_refused_and_health_says_which_part(tmp_path: Path,
                                                               small_corpus: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = build(tmp_path / "h.db", small_corpus)
    # Truncated: refused on load (content damage is `db check`'s, see test_reliability_store).
    segment_id, _, path, _, _ = largest_array(db)
    path.write_bytes(path.read_bytes()[:-100])
    with ServingProcess(make_root()) as process:
        server = process.start(lambda _progress: db, ApiSettings(), "127.0.0.1", 0, threads=4)
        status, body = wait_for("the load to be refused", lambda: (
            h := health(server.url))[1]["faults"] and h)
        assert (status, body["status"], body["model_loaded"]) == (503, "error", False)
        assert f"model segment {segment_id} file" in body["error"]
        assert "truncated" in body["error"]
        # The operator repairs the file; the next retry rebuilds the model and serves.
        assert cli("db", "check", "--repair", "--db", db)[0] == 0
        status, body = wait_for("the retried load", lambda: (
            h := health(server.url))[0] == 200 and h, timeout=90)
        assert body["status"] == "ok"


def test_backoff_doubles_up_to_its_limit() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_worker_status_keeps_the_last_fault_after_it_recovers() -> None:
    status = WorkerStatus("batches")
    assert status.describe() == {"status": "ok", "faults": 0}
    status.fault("disk full", retry_in=2.0)
    status.fault("still full", retry_in=4.0)
    current = status.current
    assert current is not None and current["reason"] == "still full"
    assert status.describe()["status"] == "degraded"
    status.recovered()
    described = status.describe()
    assert (described["status"], described["faults"]) == ("ok", 2)
    assert described["last_fault"]["reason"] == "still full"
